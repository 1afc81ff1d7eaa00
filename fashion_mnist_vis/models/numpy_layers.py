"""The layers of the NumPy engine (:mod:`fashion_mnist_vis.models.numpy_network`), in float32 NumPy.

Each class is named like the Keras class it implements, so code that looks
at ``type(layer).__name__`` treats both alike; :data:`LAYER_TYPES` maps a
Keras class name to its class here. Options not implemented raise
:class:`NotSupported` (the model then runs in Keras). ``backward`` covers
the layers Grad-CAM differentiates (after the last convolution); the
convolution itself has none, and no new backward passes are to be written
(new gradient-based methods use Keras's autodiff).
"""

from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from fashion_mnist_vis.models.registry import PASS_THROUGH_LAYERS
from fashion_mnist_vis.models.scores import softmax


class NotSupported(Exception):
    """The file holds something this module does not implement; use Keras instead."""


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
    """Layers that do nothing at prediction time (:data:`~fashion_mnist_vis.models.registry.PASS_THROUGH_LAYERS`,
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
