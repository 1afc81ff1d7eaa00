"""The base of the pixel-space gradient methods (saliency, SmoothGrad, Integrated Gradients).

They explain in the input's own pixels, so they apply to every model (the
``dense`` baseline too) and take no layer; each overrides
:meth:`~fashion_mnist_vis.explain.methods.base.Explainer.raw_map` with
:meth:`InputGradientMethod.input_gradients`, the gradient of the target logit
with respect to a batch of images, from TensorFlow's autodiff.
"""

from typing import Optional

import numpy as np

from fashion_mnist_vis.explain.methods.base import Explainer, MethodSettings, target_weights
from fashion_mnist_vis.explain.methods.model_access import LogitGradients


class InputGradientMethod(Explainer):
    """A method built from input gradients; ``layer_name`` is ignored (None: the input's pixels)."""

    def __init__(self, handle, layer_name: Optional[str], settings: MethodSettings):
        super().__init__(handle, None, settings)
        self._gradients = LogitGradients(handle, None, settings.batch_size)

    def input_gradients(self, batch: np.ndarray, class_index: int, contrast_index: Optional[int]) -> np.ndarray:
        """float32 (N, H, W, C) images -> float64 (N, H, W, C): d target / d pixel for each image."""
        _, gradients = self._gradients(batch, target_weights(self.num_classes, class_index, contrast_index))
        return gradients.astype(np.float64)
