"""A saved model's forward pass, and the gradients Grad-CAM needs, in NumPy: no TensorFlow.

Importing TensorFlow takes 4-6 s on a small CPU; classifying one 28 x 28
photo takes milliseconds. :func:`build_network` builds a :class:`NumpyNetwork`
from the config and weights of a model file that
:func:`fashion_mnist_vis.models.model_handle.open_model` has read, when every layer
is one of :data:`~fashion_mnist_vis.models.numpy_layers.LAYER_TYPES` with options
implemented there. Anything else raises
:class:`~fashion_mnist_vis.models.numpy_layers.NotSupported`, and the model is run by Keras instead
(``--engine auto``), so no model is ever run approximately.

The network has the parts of a Keras model the commands use: ``layers``
(objects named like the Keras classes, with ``get_config()``),
``get_layer``, ``inputs``, ``outputs``, ``input_shape``, ``count_params()``
and ``predict``; its ``graph`` is a :class:`NumpyGraph`, the NumPy
:class:`~fashion_mnist_vis.models.graph.ModelGraph`. It computes
in float32 whatever the model's dtype policy (as
:func:`fashion_mnist_vis.models.model_io.computing_in_float32` does for Keras).
tests/test_numpy_network.py checks every architecture of
:mod:`fashion_mnist_vis.models.registry` against Keras.
"""

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from fashion_mnist_vis.models.graph import GradientProbe, ModelGraph
from fashion_mnist_vis.models.numpy_layers import LAYER_TYPES, InputLayer, Layer, NotSupported


@dataclass(frozen=True)
class Symbol:
    """A layer's output in the network's graph: ``shape`` is (None, ...) like a Keras tensor's."""

    layer_name: str
    shape: Tuple[Optional[int], ...]


# ------------------------------------------------------------------ the network


class NumpyGraph(ModelGraph):
    """A :class:`NumpyNetwork`'s :class:`~fashion_mnist_vis.models.graph.ModelGraph`.

    Attributes:
        input: the input :class:`Symbol`.
        outputs: layer name -> its output :class:`Symbol` (every layer but the input).
        model_output: the network's output :class:`Symbol`.
        traces: always 0 (nothing is compiled).
    """

    def __init__(self, network: "NumpyNetwork"):
        self._network = network
        self.traces = 0
        self.input = network.inputs[0]
        self.model_output = network.outputs[0]
        self.outputs = {layer.name: Symbol(layer.name, layer.output_shape) for layer in network.layers}

    def inputs_of(self, layer) -> List[Symbol]:
        return [self._network.symbol(name) for name in self._network.get_layer(layer.name).inbound]

    def producer(self, symbol: Symbol):
        """The layer whose output is ``symbol`` (None for the input of a Sequential model, which,
        as in Keras, has no InputLayer among its layers)."""
        return self._network.get_layer(symbol.layer_name) if symbol.layer_name in self.outputs else None

    def probe(self, symbols: Sequence[Symbol], compiled: bool = False) -> Callable[..., List[np.ndarray]]:
        """A function float32 batch (N, H, W, C) -> the values of ``symbols`` (``training`` and
        ``compiled`` are ignored: NumPy has nothing to compile)."""
        names = [symbol.layer_name for symbol in symbols]

        def run(batch, training=False):
            values = self._network.run(batch)
            return [values[name] for name in names]

        return run

    def logit_gradients(self, layer, classifier, compiled: bool = False) -> GradientProbe:
        """A function (image (H, W, C), class index) -> ``layer``'s output and d(class logit)/d(that
        output), both float32 (h, w, k), from :meth:`NumpyNetwork.logit_gradients`."""
        network = self._network
        return lambda image, class_index: network.logit_gradients(image, layer.name, classifier.name, class_index)


class NumpyNetwork:
    """A model read from a file, run in float32 NumPy (see the module's docstring).

    Attributes:
        name: the model's name.
        layers: the layers in an order where each follows its inputs; as in Keras, a
            functional model's list starts with its InputLayer and a Sequential's does not.
        inputs, outputs: one :class:`Symbol` each, like a Keras model's.
        input_shape: (None, H, W, C).
        graph: a :class:`NumpyGraph`.
    """

    def __init__(self, name: str, input_layer: InputLayer, layers: List[Layer], output_name: str,
                 lists_input: bool):
        self.name = name
        self._input = input_layer
        self._computed = layers
        self.layers = [input_layer, *layers] if lists_input else list(layers)
        self._by_name = {layer.name: layer for layer in [input_layer, *layers]}
        shapes = {input_layer.name: input_layer.output_shape}
        for layer in layers:
            layer.output_shape = layer.infer_shape([shapes[name] for name in layer.inbound])
            shapes[layer.name] = layer.output_shape
        self.input_shape = input_layer.output_shape
        self.inputs = [Symbol(input_layer.name, self.input_shape)]
        self.outputs = [Symbol(output_name, shapes[output_name])]
        self.output_shape = shapes[output_name]
        self.graph = NumpyGraph(self)

    def get_layer(self, name: str) -> Layer:
        """The layer called ``name`` (the input layer too)."""
        return self._by_name[name]

    def symbol(self, name: str) -> Symbol:
        return Symbol(name, self._by_name[name].output_shape)

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self._computed)

    def run(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        """Every layer's output for a float (N, H, W, C) batch: layer name -> float32 (N, ...)."""
        values = {self._input.name: np.asarray(batch, dtype=np.float32)}
        for layer in self._computed:
            values[layer.name] = layer.forward([values[name] for name in layer.inbound]).astype(np.float32,
                                                                                                  copy=False)
        return values

    def predict(self, inputs: np.ndarray, batch_size: Optional[int] = None, verbose=0) -> np.ndarray:
        """The network's output for float (N, H, W, C) ``inputs``: float32 (N, classes).

        As ``keras.Model.predict``: ``batch_size`` inputs go through at a time
        (all at once when None), so memory holds one batch's activations;
        ``verbose`` is accepted and ignored.
        """
        step = batch_size or max(len(inputs), 1)
        name = self.outputs[0].layer_name
        parts = [self.run(inputs[start:start + step])[name] for start in range(0, len(inputs), step)]
        return np.concatenate(parts) if parts else np.zeros((0, *self.output_shape[1:]), np.float32)

    def logit_gradients(self, image: np.ndarray, layer_name: str, classifier_name: str,
                        class_index: int) -> Tuple[np.ndarray, np.ndarray]:
        """Layer ``layer_name``'s output for one image (H, W, C) and the gradient of the
        classifier's pre-activation for ``class_index`` with respect to it: both float32 (h, w, k).

        Raises:
            ValueError: if the class score does not depend on the layer.
            NotSupported: if a layer on the way has no gradient implemented here.
        """
        values = self.run(np.asarray(image, dtype=np.float32)[np.newaxis])
        classifier = self._by_name[classifier_name]
        gradients: Dict[str, np.ndarray] = {}
        (source,) = classifier.inbound
        weight = np.zeros(classifier.kernel.shape[1], dtype=np.float32)
        weight[class_index] = 1.0
        gradients[source] = (weight @ classifier.kernel.T)[np.newaxis].reshape(values[source].shape)
        for layer in reversed(self._computed[: self._computed.index(classifier)]):
            if layer.name == layer_name:
                break
            gradient = gradients.pop(layer.name, None)
            if gradient is None:
                continue
            inputs = [values[name] for name in layer.inbound]
            for name, part in zip(layer.inbound, layer.backward(inputs, values[layer.name], gradient)):
                gradients[name] = gradients[name] + part if name in gradients else part
        if layer_name not in gradients:
            raise ValueError(f"the class score does not depend on layer {layer_name!r}")
        return values[layer_name][0], gradients[layer_name][0].astype(np.float32)


# ------------------------------------------------------------------ building from a config


def build_network(model_config: dict, weights_of: Callable[[str, str], List[np.ndarray]]) -> NumpyNetwork:
    """The :class:`NumpyNetwork` of a model file's (upgraded) config, with weights from ``weights_of``.

    Args:
        model_config: the file's model config, Keras 2 configs upgraded (see
            :func:`fashion_mnist_vis.models.model_handle.open_model`, which reads files).
        weights_of: ``(layer name, class name)`` -> that layer's weights, asked
            for in the order of the model's layers.

    Raises:
        NotSupported: for anything not implemented here.
    """
    kind, config = model_config.get("class_name"), model_config.get("config", {})
    if kind == "Sequential":
        return _build_sequential(config, weights_of)
    if kind in ("Functional", "Model"):
        return _build_functional(config, weights_of)
    raise NotSupported(f"model class {kind!r}")


def _make_layer(entry: dict, inbound: List[str], weights_of) -> Layer:
    class_name, config = entry.get("class_name"), entry.get("config", {})
    cls = LAYER_TYPES.get(class_name)
    if cls is None or cls is InputLayer:
        raise NotSupported(f"layer type {class_name!r}")
    name = config.get("name") or entry.get("name")
    return cls(name, config, inbound, weights_of(name, class_name))


def _input_layer(name: str, config: dict) -> InputLayer:
    shape = config.get("batch_shape") or config.get("batch_input_shape")
    if shape is None or len(shape) != 4 or not all(isinstance(size, int) for size in shape[1:]):
        raise NotSupported(f"input shape {shape!r}")
    layer = InputLayer(name, config, [], [])
    layer.output_shape = (None, *shape[1:])
    return layer


def _build_sequential(config: dict, weights_of) -> NumpyNetwork:
    entries = list(config.get("layers", []))
    if not entries:
        raise NotSupported("an empty Sequential model")
    if entries[0].get("class_name") != "InputLayer":  # upgraded Keras 2 configs have one too
        raise NotSupported("a Sequential model without an input shape")
    first = entries.pop(0)["config"]
    input_layer = _input_layer(first.get("name", "input"), first)
    layers, previous = [], input_layer.name
    for entry in entries:
        layer = _make_layer(entry, [previous], weights_of)
        layers.append(layer)
        previous = layer.name
    return NumpyNetwork(config.get("name", "sequential"), input_layer, layers, previous, lists_input=False)


def _inbound_names(entry: dict) -> List[str]:
    """The layers one layer reads, from a Keras 3 or a Keras 2 ``inbound_nodes`` entry."""
    nodes = entry.get("inbound_nodes", [])
    if len(nodes) != 1:
        raise NotSupported(f"layer {entry.get('name')!r} called {len(nodes)} times")
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3: {"args": [tensor or [tensors]], "kwargs": {}}
        args = node.get("args", [])
        tensors = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        histories = [tensor["config"]["keras_history"] for tensor in tensors]
    else:  # Keras 2: [[name, node index, tensor index, kwargs], ...]
        histories = node
    if any(history[1] != 0 or history[2] != 0 for history in histories):
        raise NotSupported("shared layers")
    return [history[0] for history in histories]


def _build_functional(config: dict, weights_of) -> NumpyNetwork:
    inputs, outputs = config.get("input_layers"), config.get("output_layers")
    inputs = inputs[0] if inputs and isinstance(inputs[0], list) and len(inputs) == 1 else inputs
    outputs = outputs[0] if outputs and isinstance(outputs[0], list) and len(outputs) == 1 else outputs
    if not inputs or not outputs or isinstance(inputs[0], list) or isinstance(outputs[0], list):
        raise NotSupported("a model with several inputs or outputs")
    input_layer, layers = None, []
    for entry in config.get("layers", []):
        name = entry.get("name") or entry.get("config", {}).get("name")
        if entry.get("class_name") == "InputLayer":
            if name != inputs[0]:
                raise NotSupported("a model with several inputs")
            input_layer = _input_layer(name, entry.get("config", {}))
            weights_of(name, "InputLayer")  # counted among the layers in a .keras file
        else:
            layers.append(_make_layer(entry, _inbound_names(entry), weights_of))
    if input_layer is None:
        raise NotSupported("a functional model without an InputLayer")
    known = {input_layer.name}
    for layer in layers:  # Keras writes layers in an order where each follows its inputs
        if not set(layer.inbound) <= known:
            raise NotSupported("layers out of order")
        known.add(layer.name)
    return NumpyNetwork(config.get("name", "model"), input_layer, layers, outputs[0], lists_input=True)
