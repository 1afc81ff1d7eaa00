"""Receptive fields: sizes, jumps and offsets worked out by hand, and checked against the gradient."""

import numpy as np
import pytest

from fashion_mnist_vis.explain.receptive_field import ReceptiveField, receptive_fields
from fashion_mnist_vis.models.model_handle import keras_handle


def _gap_cnn_like(pooling="MaxPooling2D"):
    """gap_cnn's layer pattern with 2 filters per convolution (conv valid, conv same, pool, BN, ...)."""
    import keras
    from keras import layers

    pool = getattr(layers, pooling)

    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(2, 3, name="c1"), layers.Conv2D(2, 3, padding="same", name="c2"),
        pool(2, name="p1"), layers.BatchNormalization(name="bn1"),
        layers.Conv2D(2, 3, name="c3"), layers.Conv2D(2, 3, padding="same", name="c4"),
        pool(2, name="p2"),
        layers.Conv2D(2, 3, name="c5"), layers.Conv2D(2, 3, padding="same", name="c6"),
        layers.GlobalAveragePooling2D(name="gap"), layers.Dense(3, name="dense"),
    ])


def test_gap_cnn_pattern_by_hand():
    # size_out = size_in + (k - 1) * jump_in; jump_out = jump_in * stride; offset -= pad_before * jump_in.
    # c1 valid 3x3: 3, jump 1, offset 0.  c2 same (pads 1): 3 + 2 = 5, offset -1.
    # p1 2x2 stride 2: 5 + 1 = 6, jump 2.  c3 valid: 6 + 2 * 2 = 10.  c4 same: 10 + 4 = 14, offset -1 - 2 = -3.
    # p2: 14 + 2 = 16, jump 4.  c5 valid: 16 + 8 = 24.  c6 same: 24 + 8 = 32, offset -3 - 4 = -7.
    model = _gap_cnn_like()
    fields = receptive_fields(model, keras_handle(model).graph)
    expected = {"c1": (3, 1, 0), "c2": (5, 1, -1), "p1": (6, 2, -1), "bn1": (6, 2, -1), "c3": (10, 2, -1),
                "c4": (14, 2, -3), "p2": (16, 4, -3), "c5": (24, 4, -3), "c6": (32, 4, -7)}
    assert list(fields) == list(expected)  # GAP and Dense have no spatial output
    for name, (size, jump, offset) in expected.items():
        assert fields[name] == ReceptiveField((size, size), (jump, jump), (offset, offset)), name


def test_strides_dilation_and_rectangles_by_hand():
    import keras
    from keras import layers

    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        # 28 rows, stride 2, same: ceil(28 / 2) = 14 outputs; pad = (13 * 2 + 3 - 28) // 2 = 0; 5 columns: pad 2 // 2 = 1
        layers.Conv2D(1, (3, 5), strides=2, padding="same", name="strided"),
        # dilation 2 makes a 3x3 kernel span 5: size 3 + 4 * 2 = 11 rows, 5 + 4 * 2 = 13 columns
        layers.Conv2D(1, 3, dilation_rate=2, name="dilated"),
        layers.AveragePooling2D((2, 1), name="pool"),  # rows: 11 + 1 * 2 = 13, jump 4; columns unchanged
    ])
    fields = receptive_fields(model, keras_handle(model).graph)
    assert fields["strided"] == ReceptiveField((3, 5), (2, 2), (0, -1))
    assert fields["dilated"] == ReceptiveField((11, 13), (2, 2), (0, -1))
    assert fields["pool"] == ReceptiveField((13, 13), (4, 2), (0, -1))
    assert fields["pool"].box(1, 2) == (4, 3, 17, 16)
    assert fields["pool"].clipped_box(0, 0, 28, 28) == (0, 0, 13, 12)


@pytest.mark.parametrize("layer", ["c2", "p1", "c4", "c6"])
def test_boxes_match_the_pixels_the_gradient_reaches(layer):
    """Brute force: the input pixels with a non-zero gradient of one unit fill exactly its clipped box
    (average pooling, which has the same fields as max pooling, lets the gradient reach every pixel)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    model = _gap_cnn_like("AveragePooling2D")
    for weights in model.layers:
        if weights.name.startswith("c"):  # positive kernels: no cancellation, every pixel in the field counts
            kernel, bias = weights.get_weights()
            weights.set_weights([np.abs(kernel) + 0.1, bias])
    graph = keras_handle(model).graph
    field = receptive_fields(model, graph)[layer]
    probe = graph.probe([graph.outputs[layer]])
    image = tf.Variable(np.random.default_rng(0).uniform(0.5, 1.0, (1, 28, 28, 1)).astype(np.float32))
    height, width = graph.outputs[layer].shape[1:3]
    for row, column in [(0, 0), (height // 2, width // 3), (height - 1, width - 1)]:
        with tf.GradientTape() as tape:
            unit = probe(image)[0][0, row, column, 0]
        reached = np.argwhere(np.abs(tape.gradient(unit, image).numpy()[0, :, :, 0]) > 0)
        top, left, bottom, right = field.clipped_box(row, column, 28, 28)
        assert (reached.min(axis=0).tolist(), reached.max(axis=0).tolist()) == ([top, left], [bottom - 1, right - 1])
