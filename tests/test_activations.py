"""ActivationModel: which layers are shown, and their outputs from one forward pass."""

import keras  # noqa: F401  (required: a broken install fails here instead of skipping)
import numpy as np
import pytest

from fashion_mnist_vis.explain.activations import (
    PROBABILITIES,
    SPATIAL,
    VECTOR,
    ActivationModel,
)
from fashion_mnist_vis.models.keras_graph import LayerGraph
from fashion_mnist_vis.models.scores import to_probabilities
from fashion_mnist_vis.models.model_io import load_model, save_model_atomic
from fashion_mnist_vis.models.registry import build_model

IMAGE = np.random.default_rng(5).random((28, 28, 1), dtype=np.float32)


def _randomise(model, seed=3):
    rng = np.random.default_rng(seed)
    model.set_weights([
        np.abs(rng.normal(0.5, 0.2, w.shape)) + 0.5 if "variance" in w.path else rng.normal(0, 0.2, w.shape)
        for w in model.weights
    ])
    return model


def _activations(model):
    return ActivationModel(model, LayerGraph(model))


def _kinds(activations):
    return [(layer.name, kind) for layer, kind in activations.layers]


def test_gap_cnn_layers():
    activations = _activations(build_model("gap_cnn"))
    kinds = _kinds(activations)
    assert kinds[-2:] == [("global_average_pooling2d", VECTOR), ("dense", PROBABILITIES)]
    spatial = [name for name, kind in kinds if kind == SPATIAL]
    assert spatial == ["conv2d", "conv2d_1", "max_pooling2d", "batch_normalization", "conv2d_2", "conv2d_3",
                       "max_pooling2d_1", "batch_normalization_1", "conv2d_4", "conv2d_5", "batch_normalization_2"]
    assert [name for name, _ in activations.skipped] == ["dropout"]


def test_lenet_skips_flatten_and_shows_the_hidden_dense_layer():
    activations = _activations(build_model("lenet"))
    assert _kinds(activations)[-2:] == [("dense", VECTOR), ("dense_1", PROBABILITIES)]
    assert dict(activations.skipped)["flatten"].startswith("it only reshapes")


def test_resnet_shows_add_and_relu_layers():
    activations = _activations(build_model("resnet"))
    types = {type(layer).__name__ for layer, kind in activations.layers if kind == SPATIAL}
    assert {"Conv2D", "BatchNormalization", "Add", "ReLU"} <= types
    assert "input" in dict(activations.skipped)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_loaded_sequential_model_gives_the_same_outputs_as_the_original(tmp_path, suffix):
    """Keras rebuilds a loaded Sequential's graph layer by layer; outputs must come from the final one."""
    original = _randomise(build_model("gap_cnn"))
    loaded = load_model(save_model_atomic(original, tmp_path / f"m{suffix}"))
    outputs = _activations(loaded).run(IMAGE)
    tensor = IMAGE[None]
    expected = {}
    for layer in original.layers:  # apply the original's layers one by one
        tensor = layer(tensor, training=False)
        expected[layer.name] = np.asarray(tensor)[0]
    assert [output.name for output in outputs] == [n for n in expected if n != "dropout"]
    for output in outputs:
        np.testing.assert_allclose(output.values, expected[output.name], rtol=1e-4, atol=1e-5)
    assert outputs[-1].values.sum() == pytest.approx(1.0, abs=1e-5)


def test_layer_graph_of_a_loaded_sequential_is_consistent(tmp_path):
    loaded = load_model(save_model_atomic(build_model("tinyvgg"), tmp_path / "t.keras"))
    graph = LayerGraph(loaded)
    previous = None
    for layer in loaded.layers:
        (tensor,) = graph.inputs_of(layer)
        assert graph.producer(tensor) is previous
        previous = layer
    assert graph.model_output is graph.outputs["dense"]


def test_to_probabilities():
    np.testing.assert_allclose(to_probabilities([0.2, 0.8]), [0.2, 0.8])
    np.testing.assert_allclose(to_probabilities([0.0, np.log(3.0)]), [0.25, 0.75])  # logits: softmax
    assert to_probabilities([-5.0, 2.0, 1.0]).sum() == pytest.approx(1.0)
