"""The base of the gradient CAM family (Grad-CAM, Grad-CAM++, HiResCAM, LayerCAM, contrastive).

Each of them combines a layer's activations ``A`` (h, w, k) with the
gradient ``G = d target / d A`` (h, w, k) of the target logit (see
:mod:`~fashion_mnist_vis.explain.methods.base`) into a raw map (h, w): a method
overrides :meth:`GradientCam.combine` only (pytorch-grad-cam's habit).
The layer is the last Conv2D unless another convolutional layer is named.
"""

from typing import Optional

import numpy as np

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.methods.base import MethodSettings, target_weights
from fashion_mnist_vis.explain.methods.layer_choice import LayerExplainer
from fashion_mnist_vis.explain.methods.model_access import LogitGradients


class GradientCam(LayerExplainer):
    """A CAM computed from one layer's activations and the target's gradient (one backward pass)."""

    def __init__(self, handle, layer_name: Optional[str], settings: MethodSettings):
        super().__init__(handle, layer_name, settings)
        try:
            self._gradients = LogitGradients(handle, self.layer_name, settings.batch_size)
        except ValueError as error:
            raise UserError(f"cannot compute {self.title} on layer {self.layer_name!r}: {error}",
                            settings=("layer",)) from None

    def raw_map(self, image: np.ndarray, class_index: int, contrast_index: Optional[int]) -> np.ndarray:
        target = target_weights(self.num_classes, class_index, contrast_index)
        activations, gradients = self._gradients(image[np.newaxis], target)
        return self.combine(activations[0].astype(np.float64), gradients[0].astype(np.float64)).astype(np.float32)

    @staticmethod
    def combine(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        """float64 A (h, w, k) and G (h, w, k) -> the raw map float (h, w)."""
        raise NotImplementedError
