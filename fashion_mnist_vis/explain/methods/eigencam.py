"""Eigen-CAM (Muhammad & Yeasin 2020, "Eigen-CAM: Class Activation Map using Principal
Components", IJCNN).

The layer's activations, as a matrix ``A`` of (h * w) positions by k
channels, are projected on their first right singular vector ``v_1``
(``A = U S V^T``): the raw map is ``A v_1`` reshaped to (h, w). As in the
paper the activations are not centred (pytorch-grad-cam centres them first);
the sign, which an SVD leaves arbitrary, is chosen so that the map's sum is
positive. It uses no gradient and **does not depend on the class**: the map
is the same for every class, and a contrast class is ignored (its explanations' ``contrast_index``
is None). One forward pass, on the handle's engine.
"""

from typing import Optional

import numpy as np

from fashion_mnist_vis.explain.methods.base import MethodSettings
from fashion_mnist_vis.explain.methods.layer_choice import LayerExplainer
from fashion_mnist_vis.explain.methods.model_access import ForwardPass


def first_component_projection(activations: np.ndarray) -> np.ndarray:
    """float (h, w, k) -> float64 (h, w): the projection on the first right singular vector, sign fixed
    so that it sums to >= 0 (all zeros for all-zero activations)."""
    height, width, channels = activations.shape
    matrix = np.asarray(activations, dtype=np.float64).reshape(height * width, channels)
    if not matrix.any():
        return np.zeros((height, width))
    _, _, vt = np.linalg.svd(matrix, full_matrices=False)
    projection = matrix @ vt[0]
    return (projection if projection.sum() >= 0 else -projection).reshape(height, width)


class EigenCam(LayerExplainer):
    method = "eigencam"
    title = "Eigen-CAM (Muhammad & Yeasin 2020)"
    summary = "the first principal component of the feature maps; it ignores the class"

    def __init__(self, handle, layer_name: Optional[str], settings: MethodSettings):
        super().__init__(handle, layer_name, settings)
        self._forward = ForwardPass(handle, self.layer_name, settings.batch_size)

    def choose_contrast(self, image: np.ndarray, class_index: int, contrast_index: Optional[int]) -> Optional[int]:
        return None  # the map does not depend on any class

    def raw_map(self, image: np.ndarray, class_index: int, contrast_index: Optional[int]) -> np.ndarray:
        activations, _ = self._forward(image[np.newaxis])
        return first_component_projection(activations[0])
