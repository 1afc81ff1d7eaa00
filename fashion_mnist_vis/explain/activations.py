"""Every interesting layer's output for one image, from one forward pass.

:class:`ActivationModel` wraps a Keras model in a second model with the same
input whose outputs are the outputs of the layers worth looking at, in layer
order:

* ``"spatial"`` layers: anything whose output is a stack of feature maps
  (batch, h, w, channels): Conv2D, pooling, batch normalisation, and in a
  residual network Add and ReLU;
* ``"vector"`` layers: global pooling and hidden Dense layers (batch, n);
* ``"probabilities"``: the model's output layer (batch, classes).

Layers that show nothing new are skipped and listed in ``skipped`` with the
reason: dropout (does nothing at prediction time), Flatten and Reshape (the
previous layer's values in another shape) and the input layer.
"""

from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np

from fashion_mnist_vis.models.graph import ModelGraph
from fashion_mnist_vis.models.registry import PASS_THROUGH_LAYERS

SPATIAL = "spatial"
VECTOR = "vector"
PROBABILITIES = "probabilities"

_SKIP_REASONS = {
    **{name: "noise is only added while training" if "Noise" in name else "dropout does nothing at prediction time"
       for name in PASS_THROUGH_LAYERS},
    "Flatten": "it only reshapes the previous layer's values into one long vector",
    "Reshape": "it only reshapes the previous layer's values",
    "InputLayer": "the input is shown above",
}


@dataclass(frozen=True)
class LayerOutput:
    """One layer's output for one image.

    Attributes:
        name: the layer's name, e.g. ``conv2d_1``.
        layer_type: the layer's class name, e.g. ``Conv2D``.
        kind: :data:`SPATIAL`, :data:`VECTOR` or :data:`PROBABILITIES`.
        values: float32, (h, w, channels) for spatial layers, (n,) otherwise.
        config: the layer's Keras config (kernel size, strides, ... for captions).
        input_shape: one image's input shape of the layer (its first input
            for layers with several, such as Add).
    """

    name: str
    layer_type: str
    kind: str
    values: np.ndarray
    config: dict = field(default_factory=dict)
    input_shape: Tuple[int, ...] = ()


class ActivationModel:
    """Runs a model once and returns the outputs of all its plotted layers.

    Attributes:
        model: the wrapped Keras model.
        layers: the plotted layers, in model order, as (layer, kind) pairs.
        skipped: (layer name, reason) for every layer not plotted.
        input_shapes: layer name -> one image's input shape of each plotted
            layer (its first input for layers with several, such as Add).
    """

    def __init__(self, model, graph: ModelGraph):
        self.model = model
        output_layer = graph.producer(graph.model_output) or model.layers[-1]
        self.layers: List[Tuple[object, str]] = []
        self.skipped: List[Tuple[str, str]] = []
        for layer in model.layers:
            reason = _SKIP_REASONS.get(type(layer).__name__)
            if reason:
                self.skipped.append((layer.name, reason))
                continue
            if layer.name not in graph.outputs:
                self.skipped.append((layer.name, "it is used more than once"))
                continue
            rank = len(graph.outputs[layer.name].shape)
            if layer is output_layer:
                self.layers.append((layer, PROBABILITIES))
            elif rank == 4:
                self.layers.append((layer, SPATIAL))
            elif rank == 2:
                self.layers.append((layer, VECTOR))
            else:
                self.skipped.append((layer.name, f"its output has {rank - 1} dimensions per image"))
        self.input_shapes = {
            layer.name: tuple(graph.inputs_of(layer)[0].shape[1:]) for layer, _ in self.layers
        }
        self._configs = {layer.name: layer.get_config() for layer, _ in self.layers}
        self._probe = graph.probe([graph.outputs[layer.name] for layer, _ in self.layers])

    def run(self, image: np.ndarray) -> List[LayerOutput]:
        """Outputs for one image: float32 ``image`` (H, W, C) in [0, 1] -> one LayerOutput per layer."""
        batch = np.asarray(image, dtype=np.float32)[np.newaxis]
        outputs = self._probe(batch, training=False)
        return [
            LayerOutput(layer.name, type(layer).__name__, kind, np.asarray(values, dtype=np.float32)[0],
                        self._configs[layer.name], self.input_shapes[layer.name])
            for (layer, kind), values in zip(self.layers, outputs)
        ]

