"""Receptive fields: which input pixels each unit of a convolutional layer can see.

For every layer with a spatial output, :func:`receptive_fields` walks the
model's graph from its input and composes each layer's kernel (or pooling
window), stride, dilation and padding, per axis, as in Araujo, Norris and
Sim 2019, "Computing Receptive Fields of Convolutional Neural Networks"
(Distill)::

    size_out   = size_in + (k_eff - 1) * jump_in     k_eff = dilation * (k - 1) + 1
    jump_out   = jump_in * stride
    offset_out = offset_in - pad_before * jump_in

where ``offset`` is the input row (column) of the top (left) edge of unit 0's
field, negative when it starts in the padding, and ``pad_before`` is what
Keras pads before the first row: 0 for ``valid``; for ``same``,
``max((ceil(n / s) - 1) * s + k_eff - n, 0) // 2`` for an input of ``n`` rows.
Unit ``i``'s field then covers input rows ``offset + i * jump`` up to
``offset + i * jump + size - 1``. Layers that keep positions (batch
normalisation, activations, dropout, Add) keep the field; for Add the widest
input's field is kept. The whole input (global pooling, Flatten, Dense) is
not a spatial output and gets no entry.

Layers are recognised by their class names (Keras's or the NumPy engine's),
so this module needs no TensorFlow.
"""

import math
from dataclasses import dataclass
from typing import Dict, Tuple

from fashion_mnist_vis.models.graph import ModelGraph

_WINDOWED = {"Conv2D": "kernel_size", "DepthwiseConv2D": "kernel_size", "SeparableConv2D": "kernel_size",
             "MaxPooling2D": "pool_size", "AveragePooling2D": "pool_size"}


@dataclass(frozen=True)
class ReceptiveField:
    """One layer's receptive field, per axis (rows, columns), in input pixels.

    Attributes:
        size: how many input rows and columns one unit sees (may exceed the input).
        jump: how far apart, in input pixels, neighbouring units' fields start.
        offset: the input row and column where unit (0, 0)'s field starts
            (negative: it starts in the padding).
    """

    size: Tuple[int, int]
    jump: Tuple[int, int]
    offset: Tuple[int, int]

    def box(self, row: int, column: int) -> Tuple[int, int, int, int]:
        """Unit (``row``, ``column``)'s field as (top, left, bottom, right), bottom and right
        exclusive; it may reach past the input's edges (see :meth:`clipped_box`)."""
        top = self.offset[0] + row * self.jump[0]
        left = self.offset[1] + column * self.jump[1]
        return top, left, top + self.size[0], left + self.size[1]

    def clipped_box(self, row: int, column: int, height: int, width: int) -> Tuple[int, int, int, int]:
        """:meth:`box` clipped to a ``height`` x ``width`` input: the pixels the unit really sees."""
        top, left, bottom, right = self.box(row, column)
        return max(top, 0), max(left, 0), min(bottom, height), min(right, width)


INPUT_FIELD = ReceptiveField((1, 1), (1, 1), (0, 0))
"""The input's own field: every pixel sees itself."""


def _pair(value) -> Tuple[int, int]:
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[-1])
    return int(value), int(value)


def _through_window(field: ReceptiveField, config: dict, window_key: str,
                    input_size: Tuple[int, int]) -> ReceptiveField:
    """``field`` after a convolution or pooling layer with ``config`` on an input of ``input_size``."""
    window = _pair(config[window_key])
    strides = _pair(config.get("strides") or window)  # pooling: strides None means the window
    dilation = _pair(config.get("dilation_rate", 1))
    same = config.get("padding", "valid") == "same"
    size, jump, offset = [], [], []
    for axis in range(2):
        k_eff = dilation[axis] * (window[axis] - 1) + 1
        pad_before = 0
        if same:
            rows, stride = input_size[axis], strides[axis]
            pad_before = max((math.ceil(rows / stride) - 1) * stride + k_eff - rows, 0) // 2
        size.append(field.size[axis] + (k_eff - 1) * field.jump[axis])
        jump.append(field.jump[axis] * strides[axis])
        offset.append(field.offset[axis] - pad_before * field.jump[axis])
    return ReceptiveField(tuple(size), tuple(jump), tuple(offset))


def receptive_fields(model, graph: ModelGraph) -> Dict[str, ReceptiveField]:
    """Layer name -> :class:`ReceptiveField` of every layer of ``model`` with a spatial output
    (batch, h, w, channels), in model order (see the module's docstring).

    Raises:
        ValueError: for a layer that changes the spatial size in a way this
            module does not know (e.g. Conv2DTranspose, Cropping2D).
    """
    fields: Dict[str, ReceptiveField] = {}
    for layer in model.layers:
        symbol = graph.outputs.get(layer.name)
        if symbol is None or len(symbol.shape) != 4:
            continue
        if type(layer).__name__ == "InputLayer":  # a functional model's input
            fields[layer.name] = INPUT_FIELD
            continue
        inputs = [(graph.producer(source), source) for source in graph.inputs_of(layer)]
        known = [fields[producer.name] if producer is not None else INPUT_FIELD
                 for producer, _ in inputs if producer is None or producer.name in fields]
        if not known:  # fed by a non-spatial layer (e.g. Reshape of a vector): the field is unknown
            continue
        widest = max(known, key=lambda field: field.size[0] * field.size[1])
        class_name = type(layer).__name__
        input_shape = tuple(inputs[0][1].shape[1:3])
        if class_name in _WINDOWED:
            fields[layer.name] = _through_window(widest, layer.get_config(), _WINDOWED[class_name], input_shape)
        elif tuple(symbol.shape[1:3]) == input_shape:
            fields[layer.name] = widest
        else:
            raise ValueError(f"layer {layer.name!r} ({class_name}) changes the spatial size from "
                             f"{input_shape} to {tuple(symbol.shape[1:3])} in a way receptive fields cannot follow")
    return fields
