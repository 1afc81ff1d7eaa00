"""Class activation maps: where in the image a model finds evidence for a class.

Two methods, both returning a float32 map of shape (h, w) with values in
[0, 1] at the resolution of the layer they are computed on (3 x 3 for
``gap_cnn``'s last block). Resizing to the input or the photo, colour maps
and overlays are plotting steps (see :mod:`fashion_mnist_vis.visualize.map_arrays`
and :mod:`fashion_mnist_vis.visualize.cam_plots`).

* **CAM** (Zhou et al. 2016, "Learning Deep Features for Discriminative
  Localization", CVPR). For a network ending ``conv features -> global
  average pooling -> Dense``, the class score is
  ``y_c = sum_k w_kc * mean_ij A_ij^k + b_c``, so the map
  ``M_c(i, j) = sum_k w_kc * A_ij^k`` says how much each position adds to
  ``y_c``. It is exact: ``y_c = mean_ij M_c(i, j) + b_c``. Here ``A`` is the
  GAP layer's input (in ``gap_cnn`` that is the last batch normalisation's
  output, not the last conv's).
* **Grad-CAM** (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from
  Deep Networks via Gradient-based Localization", ICCV) works on any conv
  layer of any model: channel weights are the spatially averaged gradients of
  the class score, ``alpha_kc = mean_ij d y_c / d A_ij^k``, and the map is
  ``ReLU(sum_k alpha_kc * A^k)``. ``y_c`` is the class score *before* the
  softmax (the classifier's pre-activation), as in the paper.

For a GAP -> Dense model, ``d y_c / d A_ij^k = w_kc / (h * w)`` at the GAP's
input, so Grad-CAM's weights are the CAM weights divided by ``h * w``: the
two maps are the same up to that positive scale, and identical after
normalisation.

Normalisation (both methods): negative values are set to 0 and the map is
divided by its maximum (Selvaraju et al., eq. 2), so 0 means "no positive
evidence" and 1 the strongest. Zhou et al.'s code scales CAM from its minimum
to its maximum instead; using one rule for both keeps them comparable. A map
with no positive value is all zeros.

:class:`CamExplainer` picks the method from the model's structure; layers are
found by type and role (:func:`fashion_mnist_vis.models.registry.find_gap_layer`,
:func:`~fashion_mnist_vis.models.registry.find_last_conv_layer`,
:func:`~fashion_mnist_vis.models.registry.find_classifier_layer`), never by index.
"""

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.models.registry import PASS_THROUGH_LAYERS, find_classifier_layer, find_gap_layer, find_last_conv_layer

CAM = "CAM"
GRAD_CAM = "Grad-CAM"



def normalise_map(raw: np.ndarray) -> np.ndarray:
    """ReLU, then divide by the maximum: float (h, w) -> float32 (h, w) in [0, 1].

    A map whose values are all <= 0 becomes all zeros.
    """
    positive = np.maximum(np.asarray(raw, dtype=np.float64), 0.0)
    peak = positive.max() if positive.size else 0.0
    if not peak > 0.0 or not np.isfinite(peak):
        return np.zeros(positive.shape, dtype=np.float32)
    return (positive / peak).astype(np.float32)


def class_activation_map(
    feature_maps: np.ndarray, class_weights: np.ndarray, normalise: bool = True
) -> np.ndarray:
    """CAM (Zhou et al. 2016): the class's dense weights times the feature maps.

    Args:
        feature_maps: float (h, w, k): the input of the model's global average
            pooling layer for one image.
        class_weights: float (k,): the classifier's kernel column for the class,
            ``dense.kernel[:, class_index]``.
        normalise: apply :func:`normalise_map`; if False, return the raw map
            ``M(i, j) = sum_k class_weights[k] * feature_maps[i, j, k]``, whose
            mean plus the class's bias is the class score (the logit).

    Returns:
        float32 (h, w); in [0, 1] when ``normalise``.

    Raises:
        ValueError: if the shapes do not fit together.
    """
    feature_maps = np.asarray(feature_maps, dtype=np.float64)
    class_weights = np.asarray(class_weights, dtype=np.float64)
    if feature_maps.ndim != 3 or class_weights.shape != (feature_maps.shape[2],):
        raise ValueError(
            f"feature_maps must be (h, w, k) and class_weights (k,); got {feature_maps.shape} "
            f"and {class_weights.shape}"
        )
    raw = feature_maps @ class_weights
    return normalise_map(raw) if normalise else raw.astype(np.float32)


def grad_cam(model, image: np.ndarray, class_index: int, layer, normalise: bool = True, graph=None) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) for one image on one layer.

    Args:
        model: a Keras model (or a :class:`~fashion_mnist_vis.models.numpy_network.NumpyNetwork`)
            whose final Dense layer produces the class scores (its
            pre-activation, the logit, is differentiated).
        image: float32 (H, W, C), the model input for one image (no batch axis).
        class_index: the class to explain, 0 <= class_index < number of classes.
        layer: a layer of ``model`` with a 4-D output (batch, h, w, k),
            usually the last Conv2D (:func:`~fashion_mnist_vis.models.registry.find_last_conv_layer`).
        normalise: apply :func:`normalise_map` (this is the ReLU of the
            paper); if False, return the raw weighted sum ``sum_k alpha_k A^k``
            (before the ReLU).
        graph: ``model``'s :class:`~fashion_mnist_vis.models.graph.ModelGraph` (for a
            Keras model, a :class:`~fashion_mnist_vis.models.keras_graph.LayerGraph` is
            built when None; pass it to reuse its sub-models).

    Returns:
        float32 (h, w) at the layer's resolution; in [0, 1] when ``normalise``.
    """
    if graph is None:
        from fashion_mnist_vis.models.keras_graph import LayerGraph  # noqa: PLC0415

        graph = LayerGraph(model)
    feature_maps, gradients = graph.logit_gradients(layer, find_classifier_layer(model))(image, class_index)
    return grad_cam_from_gradients(feature_maps, gradients, normalise)


def grad_cam_from_gradients(feature_maps: np.ndarray, gradients: np.ndarray, normalise: bool = True) -> np.ndarray:
    """Grad-CAM's map from a layer's output and the class logit's gradient with respect to it.

    Args:
        feature_maps: float (h, w, k), the layer's output for one image.
        gradients: float (h, w, k), ``d y_c / d feature_maps``.
        normalise: apply :func:`normalise_map` (the paper's ReLU).

    Returns:
        float32 (h, w); in [0, 1] when ``normalise``.
    """
    weights = np.asarray(gradients, dtype=np.float64).mean(axis=(0, 1))  # alpha_k: averaged gradients
    raw = np.asarray(feature_maps, dtype=np.float64) @ weights
    return normalise_map(raw) if normalise else raw.astype(np.float32)


@dataclass(frozen=True)
class CamResult:
    """One class activation map.

    Attributes:
        method: :data:`CAM` or :data:`GRAD_CAM`.
        layer_name: the layer whose output the map is computed on.
        class_index: the explained class.
        heatmap: float32 (h, w) in [0, 1] (see :func:`normalise_map`).
    """

    method: str
    layer_name: str
    class_index: int
    heatmap: np.ndarray


class CamExplainer:
    """Chooses CAM and/or Grad-CAM for a model and computes them.

    * CAM applies when the model's last global average pooling layer feeds
      its final Dense layer directly (dropout in between is fine).
    * Grad-CAM applies when the model has a Conv2D layer; it uses the last one.

    ``methods`` lists what applies, the preferred (exact) one first; it is
    empty for models without convolutions (e.g. the ``dense`` baseline).
    The sub-models are built once, so one explainer serves many images.

    Args:
        model: the model (Keras, or a :class:`~fashion_mnist_vis.models.numpy_network.NumpyNetwork`).
        graph: its :class:`~fashion_mnist_vis.models.graph.ModelGraph`.
        preferred_only: compute only the first method of ``methods``.
        compiled: build compiled functions (see :meth:`~fashion_mnist_vis.models.graph.ModelGraph.probe`).
    """

    def __init__(self, model, graph, preferred_only: bool = False, compiled: bool = False):
        self.model = model
        self.classifier = find_classifier_layer(model)
        self._graph = graph
        self.gap_layer = gap_feeding_classifier(model, self.classifier, graph)
        self.conv_layer = find_last_conv_layer(model)
        methods = []
        if self.gap_layer is not None:
            methods.append(CAM)
        if self.conv_layer is not None:
            methods.append(GRAD_CAM)
        self.methods: Tuple[str, ...] = tuple(methods[:1] if preferred_only else methods)
        self._compiled = compiled
        self._kernel = np.asarray(self.classifier.kernel)  # (k, classes), read once: not per image
        self._gap_input_model = None
        self._gradients = graph.logit_gradients(self.conv_layer, self.classifier, compiled) \
            if GRAD_CAM in self.methods else None

    def why_none(self) -> str:
        """One sentence saying why no map can be computed (when ``methods`` is empty)."""
        return (
            f"model {self.model.name!r} has no convolutional layer, so there is no class "
            "activation map (CAM needs GAP -> Dense, Grad-CAM a Conv2D layer)"
        )

    @property
    def needs(self) -> list:
        """The graph symbols whose values :meth:`explain` can take from a forward pass already made
        (``gap_input``): the GAP layer's input when CAM is among ``methods``."""
        return self._graph.inputs_of(self.gap_layer)[:1] if CAM in self.methods else []

    def explain(self, image: np.ndarray, class_index: int, gap_input: Optional[np.ndarray] = None) -> List[CamResult]:
        """Every applicable map for ``image`` (float32 (H, W, C)), in the order of ``methods``.

        ``gap_input``, float32 (h, w, k): the value of :attr:`needs` for this
        image, when the caller has it already (computed here when None).
        """
        results = []
        for method in self.methods:
            if method == CAM:
                feature_maps = self.gap_input(image) if gap_input is None else gap_input
                weights = self._kernel[:, class_index]
                heatmap = class_activation_map(feature_maps, weights)
                results.append(CamResult(CAM, self.gap_input_name(), class_index, heatmap))
            else:
                try:
                    heatmap = grad_cam_from_gradients(*self._gradients(image, class_index))
                except ValueError as error:  # e.g. the last conv sits on a branch the classifier ignores
                    raise UserError(f"cannot compute Grad-CAM for model {self.model.name!r}: {error}") from None
                results.append(CamResult(GRAD_CAM, self.conv_layer.name, class_index, heatmap))
        return results

    def gap_input(self, image: np.ndarray) -> np.ndarray:
        """The GAP layer's input for one image: float32 (h, w, k)."""
        if self._gap_input_model is None:
            self._gap_input_model = self._graph.probe(self._graph.inputs_of(self.gap_layer), self._compiled)
        batch = np.asarray(image, dtype=np.float32)[np.newaxis]
        return np.asarray(self._gap_input_model(batch, training=False)[0])[0]

    def gap_input_name(self) -> str:
        """Name of the layer whose output feeds the GAP layer (or "<gap> input")."""
        producer = self._graph.producer(self._graph.inputs_of(self.gap_layer)[0])
        return producer.name if producer is not None else f"{self.gap_layer.name} input"


def gap_feeding_classifier(model, classifier, graph) -> Optional[object]:
    """The GAP layer if it feeds ``classifier`` directly (through dropout at most), else None."""
    gap = find_gap_layer(model)
    if gap is None or gap.name not in graph.outputs or classifier.name not in graph.outputs:
        return None
    layer = classifier
    for _ in range(len(model.layers)):
        inputs = graph.inputs_of(layer)
        layer = graph.producer(inputs[0]) if len(inputs) == 1 else None
        if layer is gap:
            break
        if layer is None or type(layer).__name__ not in PASS_THROUGH_LAYERS:
            return None
    else:
        return None
    if classifier.kernel.shape[0] != graph.outputs[gap.name].shape[-1]:
        return None
    return gap
