"""Which layer a CAM-family method works on: the last convolution by default, or any convolutional
layer named by the user, checked once when the explainer is built.

A layer qualifies when its output is a stack of feature maps (batch, h, w, k)
(Conv2D, and the batch normalisation, activation, pooling or Add layers that
follow one) and the class scores depend on it. Layers are found by type and
role (:func:`~fashion_mnist_vis.models.registry.find_last_conv_layer`), never by index.
"""

from typing import List, Optional

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.methods.base import Explainer, MethodSettings
from fashion_mnist_vis.models.registry import find_classifier_layer, find_last_conv_layer


def feature_map_layers(handle) -> List[str]:
    """Names of the layers whose output is (batch, h, w, k) feature maps and that the class scores depend on."""
    graph, model = handle.graph, handle.model
    classifier = find_classifier_layer(model)
    upstream = layers_feeding(graph, classifier)
    return [layer.name for layer in model.layers
            if layer.name in graph.outputs and len(graph.outputs[layer.name].shape) == 4 and layer.name in upstream]


def layers_feeding(graph, layer) -> set:
    """Names of every layer whose output ``layer``'s input depends on (walking the graph back to the input)."""
    seen, pending = set(), list(graph.inputs_of(layer))
    while pending:
        producer = graph.producer(pending.pop())
        if producer is None or producer.name in seen:
            continue
        seen.add(producer.name)
        pending.extend(graph.inputs_of(producer))
    return seen


def no_convolution(handle, title: str) -> Optional[str]:
    """One line saying that ``title`` needs a convolution the model lacks, or None when it has one."""
    if find_last_conv_layer(handle.model) is None:
        return f"{title} needs a convolutional layer and model {handle.model.name!r} has none"
    return None


def choose_layer(handle, title: str, layer: Optional[str]) -> str:
    """The layer a CAM-family method (named ``title``) is computed on: ``layer``, checked, or the last Conv2D.

    Raises:
        UserError: (one line) if the model has no convolution, or ``layer`` is
            unknown, not convolutional, or not one the class scores depend on.
    """
    model = handle.model
    if layer is None:
        reason = no_convolution(handle, title)
        if reason:
            raise UserError(reason, settings=("methods",))
        layer = find_last_conv_layer(model).name
    candidates = feature_map_layers(handle)
    if layer in candidates:
        return layer
    names = [each.name for each in model.layers]
    choices = f"choose one of: {', '.join(candidates)}" if candidates else "the model has none"
    if layer not in names:
        raise UserError(f"model {model.name!r} has no layer {layer!r}; for {title} {choices}", settings=("layer",))
    if layer not in handle.graph.outputs or len(handle.graph.outputs[layer].shape) != 4:
        raise UserError(f"layer {layer!r} is not convolutional (its output is not (batch, height, width, channels)); "
                        f"for {title} {choices}", settings=("layer",))
    raise UserError(f"the class scores of model {model.name!r} do not depend on layer {layer!r}; for {title} {choices}",
                    settings=("layer",))


class LayerExplainer(Explainer):
    """A method computed on one convolutional layer (:func:`choose_layer`); it does not apply to a
    model without convolutions."""

    @classmethod
    def why_not(cls, handle) -> Optional[str]:
        return no_convolution(handle, cls.title)

    def __init__(self, handle, layer_name: Optional[str], settings: MethodSettings):
        super().__init__(handle, choose_layer(handle, self.title, layer_name), settings)
