"""CAM (Zhou et al. 2016, "Learning Deep Features for Discriminative Localization", CVPR).

For a network ending ``features A (h, w, k) -> global average pooling -> Dense``
(dropout in between is fine) the raw map is ``M(i, j) = sum_k w_k A_ij^k`` with
``w = kernel[:, A]`` (``kernel[:, A] - kernel[:, B]`` for "why A and not B"):
exact, since the logit is ``mean_ij M(i, j) + bias``. ``A`` is the GAP layer's
input (in gap_cnn the last batch normalisation's output). Forward only, with
the handle's engine (one pass); no gradient. The maths is
:func:`fashion_mnist_vis.explain.cam.class_activation_map`.
"""

from typing import Optional

import numpy as np

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.cam import class_activation_map, gap_feeding_classifier
from fashion_mnist_vis.explain.methods.base import Explainer, MethodSettings, target_weights
from fashion_mnist_vis.explain.methods.model_access import ForwardPass
from fashion_mnist_vis.models.registry import find_classifier_layer


def cam_layer(handle) -> Optional[str]:
    """The layer whose output feeds the model's GAP -> Dense classifier, or None when there is none."""
    model, graph = handle.model, handle.graph
    gap = gap_feeding_classifier(model, find_classifier_layer(model), graph)
    if gap is None:
        return None
    producer = graph.producer(graph.inputs_of(gap)[0])
    return producer.name if producer is not None else None


class Cam(Explainer):
    method = "cam"
    title = "CAM (Zhou et al. 2016)"
    summary = ("the classifier's weights times the last feature maps, for networks ending in global average pooling "
               "and one dense layer")

    @classmethod
    def why_not(cls, handle) -> Optional[str]:
        if cam_layer(handle) is None:
            return (f"CAM needs global average pooling feeding the classifier directly and model "
                    f"{handle.model.name!r} has none; use Grad-CAM")
        return None

    def __init__(self, handle, layer_name: Optional[str], settings: MethodSettings):
        feeding = cam_layer(handle)
        if feeding is None:
            raise UserError(self.why_not(handle), settings=("methods",))
        if layer_name is not None and layer_name != feeding:
            raise UserError(f"CAM is exact only on the layer feeding global average pooling ({feeding!r}), "
                            f"not {layer_name!r}; use Grad-CAM for other layers", settings=("layer",))
        super().__init__(handle, feeding, settings)
        self._forward = ForwardPass(handle, feeding, settings.batch_size)
        self._kernel = np.asarray(self._forward.classifier.kernel, dtype=np.float64)  # (k, classes)

    def raw_map(self, image: np.ndarray, class_index: int, contrast_index: Optional[int]) -> np.ndarray:
        feature_maps, _ = self._forward(image[np.newaxis])
        weights = self._kernel @ target_weights(self.num_classes, class_index, contrast_index)
        return class_activation_map(feature_maps[0], weights, normalise=False)
