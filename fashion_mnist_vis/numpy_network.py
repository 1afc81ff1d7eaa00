"""A saved model's forward pass, and the gradients Grad-CAM needs, in NumPy: no TensorFlow.

Importing TensorFlow takes 4-6 s on a small CPU; classifying one 28 x 28
photo takes milliseconds. :func:`build_network` builds a :class:`NumpyNetwork`
from the config and weights of a model file that
:func:`fashion_mnist_vis.model_handle.open_model` has read, when every layer
is one of :data:`LAYER_TYPES` with options implemented here. Anything else
raises :class:`NotSupported`, and the model is run by Keras instead
(``--engine auto``), so no model is ever run approximately.

The network mimics the parts of a Keras model and of
:class:`~fashion_mnist_vis.activations.LayerGraph` that classify uses:
``layers`` (objects named like the Keras classes, with ``get_config()``),
``input_shape``, ``count_params()``, and ``graph`` with ``outputs``,
``inputs_of``, ``producer``, ``probe`` and ``logit_gradients``. It computes
in float32 whatever the model's dtype policy (as
:func:`fashion_mnist_vis.model_io.computing_in_float32` does for Keras).
tests/test_numpy_network.py checks every architecture of
:mod:`fashion_mnist_vis.models` against Keras.
"""

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .graph import GradientProbe, ModelGraph
from .models import PASS_THROUGH_LAYERS
from .scores import softmax


class NotSupported(Exception):
    """The file holds something this module does not implement; use Keras instead."""


@dataclass(frozen=True)
class Symbol:
    """A layer's output in the network's graph: ``shape`` is (None, ...) like a Keras tensor's."""

    layer_name: str
    shape: Tuple[Optional[int], ...]


# ------------------------------------------------------------------ activations


ACTIVATIONS: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "softmax": softmax,
}

# d activation / d input, from the activation's output y (softmax is never differentiated:
# Grad-CAM differentiates the classifier's pre-activation).
ACTIVATION_SLOPES: Dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": np.ones_like,
    "relu": lambda y: (y > 0).astype(y.dtype),
    "sigmoid": lambda y: y * (1.0 - y),
    "tanh": lambda y: 1.0 - y * y,
}


def _activation_name(config: dict) -> str:
    name = config.get("activation", "linear")
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise NotSupported(f"activation {name!r}")
    return name


# ------------------------------------------------------------------ layers


class Layer:
    """One layer: its name, Keras config, the names of the layers it reads, and its weights.

    Subclasses are named like the Keras classes they implement, so code that
    looks at ``type(layer).__name__`` treats both alike.
    """

    weight_count = 0

    def __init__(self, name: str, config: dict, inbound: List[str], weights: List[np.ndarray]):
        if len(weights) != self.weight_count:
            raise NotSupported(f"layer {name!r} has {len(weights)} weights; expected {self.weight_count}")
        self.name = name
        self.config = config
        self.inbound = inbound
        self.weights = [np.asarray(weight, dtype=np.float32) for weight in weights]
        self.output_shape: Tuple[Optional[int], ...] = ()

    def get_config(self) -> dict:
        return dict(self.config)

    def count_params(self) -> int:
        return int(sum(weight.size for weight in self.weights))

    def infer_shape(self, input_shapes: List[tuple]) -> tuple:
        """Output shape (None, ...) from the input shapes; by default that of a probe forward pass."""
        probes = [np.zeros((1, *shape[1:]), dtype=np.float32) for shape in input_shapes]
        return (None, *self.forward(probes).shape[1:])

    def forward(self, inputs: List[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def backward(self, inputs: List[np.ndarray], output: np.ndarray, gradient: np.ndarray) -> List[np.ndarray]:
        """d score / d each input, from d score / d output.

        Grad-CAM differentiates only the layers after the last convolution,
        so Conv2D (and the input) have no gradient here.
        """
        raise NotSupported(f"gradients through {type(self).__name__} layers")


class InputLayer(Layer):
    def infer_shape(self, input_shapes):
        return self.output_shape

    def forward(self, inputs):
        return inputs[0]


class Identity(Layer):
    """Layers that do nothing at prediction time (:data:`~fashion_mnist_vis.models.PASS_THROUGH_LAYERS`,
    each a subclass named like its Keras class)."""

    def forward(self, inputs):
        return inputs[0]

    def backward(self, inputs, output, gradient):
        return [gradient]


class Flatten(Layer):
    def forward(self, inputs):
        return inputs[0].reshape(len(inputs[0]), -1)

    def backward(self, inputs, output, gradient):
        return [gradient.reshape(inputs[0].shape)]


class Activation(Layer):
    def __init__(self, *args):
        super().__init__(*args)
        self.activation = _activation_name(self.config)

    def forward(self, inputs):
        return ACTIVATIONS[self.activation](inputs[0])

    def backward(self, inputs, output, gradient):
        if self.activation not in ACTIVATION_SLOPES:
            raise NotSupported(f"gradients through a {self.activation} activation")
        return [gradient * ACTIVATION_SLOPES[self.activation](output)]


class ReLU(Layer):
    def __init__(self, *args):
        super().__init__(*args)
        if self.config.get("max_value") is not None or self.config.get("negative_slope", 0) or \
                self.config.get("threshold", 0):
            raise NotSupported("ReLU with max_value, negative_slope or threshold")

    def forward(self, inputs):
        return np.maximum(inputs[0], 0.0)

    def backward(self, inputs, output, gradient):
        return [gradient * (inputs[0] > 0)]


class Add(Layer):
    def forward(self, inputs):
        return np.sum(inputs, axis=0)

    def backward(self, inputs, output, gradient):
        return [gradient for _ in inputs]


class Dense(Layer):
    def __init__(self, name, config, inbound, weights):
        self.weight_count = 2 if config.get("use_bias", True) else 1
        super().__init__(name, config, inbound, weights)
        self.activation = _activation_name(config)
        self.kernel = self.weights[0]
        self.use_bias = len(self.weights) == 2
        self.bias = self.weights[1] if self.use_bias else None

    def pre_activation(self, x: np.ndarray) -> np.ndarray:
        """The layer's output before its activation (the logits of a softmax classifier)."""
        z = x @ self.kernel
        return z + self.bias if self.use_bias else z

    def forward(self, inputs):
        return ACTIVATIONS[self.activation](self.pre_activation(inputs[0]))

    def backward(self, inputs, output, gradient):
        if self.activation not in ACTIVATION_SLOPES:
            raise NotSupported(f"gradients through a {self.activation} Dense layer")
        return [(gradient * ACTIVATION_SLOPES[self.activation](output)) @ self.kernel.T]


class BatchNormalization(Layer):
    def __init__(self, name, config, inbound, weights):
        self.weight_count = 2 + bool(config.get("scale", True)) + bool(config.get("center", True))
        super().__init__(name, config, inbound, weights)
        if config.get("axis", -1) not in (-1, [-1], 3, [3]):
            raise NotSupported("batch normalisation over an axis other than the channels")
        stack = list(self.weights)
        gamma = stack.pop(0) if config.get("scale", True) else 1.0
        beta = stack.pop(0) if config.get("center", True) else 0.0
        mean, variance = stack
        self.scale = (gamma / np.sqrt(variance + np.float32(config.get("epsilon", 1e-3)))).astype(np.float32)
        self.offset = (beta - mean * self.scale).astype(np.float32)

    def forward(self, inputs):
        return inputs[0] * self.scale + self.offset

    def backward(self, inputs, output, gradient):
        return [gradient * self.scale]


def _pair(value) -> Tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, (int, float)) else (int(value[0]), int(value[1]))


def _same_padding(size: int, window: int, stride: int) -> Tuple[int, int]:
    """TensorFlow's SAME padding along one axis: (before, after), the extra pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def _windows(x: np.ndarray, window: Tuple[int, int], strides: Tuple[int, int], padding: str,
             fill: float) -> np.ndarray:
    """(N, H, W, C) -> a strided view (N, H', W', C, wh, ww) of every window."""
    if padding == "same":
        (top, bottom), (left, right) = (_same_padding(x.shape[axis], window[i], strides[i])
                                        for i, axis in enumerate((1, 2)))
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=(1, 2))
    return view[:, ::strides[0], ::strides[1]]


def _spatial_options(config: dict, window_key: str) -> Tuple[Tuple[int, int], Tuple[int, int], str]:
    if config.get("data_format", "channels_last") not in ("channels_last", None):
        raise NotSupported("channels_first data")
    padding = str(config.get("padding", "valid")).lower()
    if padding not in ("valid", "same"):
        raise NotSupported(f"padding {padding!r}")
    window = _pair(config[window_key])
    strides = _pair(config.get("strides") or window)
    return window, strides, padding


class Conv2D(Layer):
    def __init__(self, name, config, inbound, weights):
        self.weight_count = 2 if config.get("use_bias", True) else 1
        super().__init__(name, config, inbound, weights)
        self.window, self.strides, self.padding = _spatial_options(config, "kernel_size")
        if _pair(config.get("dilation_rate", 1)) != (1, 1) or config.get("groups", 1) != 1:
            raise NotSupported("dilated or grouped convolutions")
        self.activation = _activation_name(config)
        self.kernel = self.weights[0]
        self.bias = self.weights[1] if len(self.weights) == 2 else None

    def forward(self, inputs):
        windows = _windows(inputs[0], self.window, self.strides, self.padding, 0.0)  # N, H', W', C, kh, kw
        n, height, width = windows.shape[:3]
        columns = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * height * width, -1)
        z = columns @ self.kernel.reshape(-1, self.kernel.shape[-1])
        if self.bias is not None:
            z += self.bias
        return ACTIVATIONS[self.activation](z.reshape(n, height, width, -1))


class MaxPooling2D(Layer):
    def __init__(self, *args):
        super().__init__(*args)
        self.window, self.strides, self.padding = _spatial_options(self.config, "pool_size")

    def forward(self, inputs):
        return _windows(inputs[0], self.window, self.strides, self.padding, -np.inf).max(axis=(4, 5))

    def backward(self, inputs, output, gradient):
        """Each window's gradient goes to its (first) maximum, as TensorFlow's MaxPoolGrad does."""
        x = inputs[0]
        top = left = 0
        if self.padding == "same":
            top = _same_padding(x.shape[1], self.window[0], self.strides[0])[0]
            left = _same_padding(x.shape[2], self.window[1], self.strides[1])[0]
        windows = _windows(x, self.window, self.strides, self.padding, -np.inf)
        n, height, width, channels, wh, ww = windows.shape
        flat = windows.reshape(n, height, width, channels, wh * ww).argmax(axis=-1)
        rows = np.arange(height)[None, :, None, None] * self.strides[0] + flat // ww - top
        cols = np.arange(width)[None, None, :, None] * self.strides[1] + flat % ww - left
        result = np.zeros_like(x)
        index = np.indices((n, height, width, channels))
        np.add.at(result, (index[0], rows, cols, index[3]), gradient)
        return [result]


class AveragePooling2D(Layer):
    def __init__(self, *args):
        super().__init__(*args)
        self.window, self.strides, self.padding = _spatial_options(self.config, "pool_size")
        if self.padding != "valid":  # SAME averages only the real pixels of edge windows
            raise NotSupported("average pooling with SAME padding")

    def forward(self, inputs):
        return _windows(inputs[0], self.window, self.strides, "valid", 0.0).mean(axis=(4, 5))

    def backward(self, inputs, output, gradient):
        result = np.zeros_like(inputs[0])
        height, width = gradient.shape[1:3]
        share = gradient / (self.window[0] * self.window[1])
        for row in range(self.window[0]):
            for col in range(self.window[1]):
                result[:, row: row + height * self.strides[0]: self.strides[0],
                       col: col + width * self.strides[1]: self.strides[1]] += share
        return [result]


class GlobalAveragePooling2D(Layer):
    def __init__(self, *args):
        super().__init__(*args)
        if self.config.get("keepdims") or self.config.get("data_format", "channels_last") != "channels_last":
            raise NotSupported("global pooling with keepdims or channels_first")

    def forward(self, inputs):
        return inputs[0].mean(axis=(1, 2))

    def backward(self, inputs, output, gradient):
        height, width = inputs[0].shape[1:3]
        return [np.broadcast_to(gradient[:, None, None, :] / (height * width), inputs[0].shape).copy()]


class GlobalMaxPooling2D(GlobalAveragePooling2D):
    def forward(self, inputs):
        return inputs[0].max(axis=(1, 2))

    def backward(self, inputs, output, gradient):
        """Each channel's gradient goes to its (first) maximum."""
        n, height, width, channels = inputs[0].shape
        flat = inputs[0].reshape(n, height * width, channels).argmax(axis=1)  # (N, C)
        result = np.zeros((n, height * width, channels), dtype=np.float32)
        np.put_along_axis(result, flat[:, None, :], gradient[:, None, :], axis=1)
        return [result.reshape(inputs[0].shape)]


LAYER_TYPES: Dict[str, type] = {cls.__name__: cls for cls in (
    InputLayer, Flatten, Activation, ReLU, Add, Dense, BatchNormalization, Conv2D, MaxPooling2D, AveragePooling2D,
    GlobalAveragePooling2D, GlobalMaxPooling2D,
    *(type(name, (Identity,), {"__doc__": f"Keras's {name}: the identity at prediction time."})
      for name in PASS_THROUGH_LAYERS))}
"""Keras layer class name -> the class here that runs it."""


# ------------------------------------------------------------------ the network


class NumpyGraph(ModelGraph):
    """A :class:`NumpyNetwork`'s :class:`~fashion_mnist_vis.graph.ModelGraph`.

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
            :func:`fashion_mnist_vis.model_handle.open_model`, which reads files).
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
