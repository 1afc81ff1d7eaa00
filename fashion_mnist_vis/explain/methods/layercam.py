"""LayerCAM (Jiang et al. 2021, "LayerCAM: Exploring Hierarchical Class Activation Maps for
Localization", IEEE Transactions on Image Processing).

Only positive gradients count, position by position: the raw map is
``sum_k ReLU(G^k) * A^k`` (h, w). It stays meaningful on early, high-resolution
layers, where Grad-CAM's averaged weights blur. One forward and one backward pass.
"""

import numpy as np

from fashion_mnist_vis.explain.methods.gradient_cam import GradientCam


class LayerCam(GradientCam):
    method = "layercam"
    title = "LayerCAM (Jiang et al. 2021)"
    summary = "positive gradients times feature maps at each position; works on early layers too"

    @staticmethod
    def combine(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        return (np.maximum(gradients, 0.0) * activations).sum(axis=-1)
