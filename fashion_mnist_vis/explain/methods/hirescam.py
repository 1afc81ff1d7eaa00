"""HiResCAM (Draelos & Carin 2020, "Use HiResCAM instead of Grad-CAM for faithful explanations of
convolutional neural networks", arXiv:2011.08891).

The gradient multiplies the activations position by position instead of
being averaged first: the raw map is ``sum_k G^k * A^k`` (h, w) (element-wise
product, summed over channels). For a layer followed only by Flatten and the
classifier this is exactly each position's contribution to the logit. One
forward and one backward pass.
"""

import numpy as np

from fashion_mnist_vis.explain.methods.gradient_cam import GradientCam


class HiResCam(GradientCam):
    method = "hirescam"
    title = "HiResCAM (Draelos & Carin 2020)"
    summary = "feature maps times their gradients position by position, not averaged first"

    @staticmethod
    def combine(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        return (gradients * activations).sum(axis=-1)
