import re
from pathlib import Path

import keras
import numpy as np
import pytest

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.models.registry import (
    INPUT_SHAPE,
    MODELS,
    build_model,
    find_classifier_layer,
    find_gap_layer,
    find_last_conv_layer,
    models_help,
)

EXPECTED_PARAMETERS = {
    "gap_cnn": 186_698,
    "dense": 101_770,
    "lenet": 1_256_080,
    "cnn64": 243_786,
    "tinyvgg": 4_430,
    "resnet": 698_282,
}


def _documented_parameters() -> dict:
    """The table in the README's Models section: name -> parameter count."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    models_section = readme.split("\n## Models\n", 1)[1].split("\n## ", 1)[0]
    return {name: int(count.replace(",", ""))
            for name, count in re.findall(r"^\| `(\w+)`(?: \(default\))? \|.*\| ([\d,]+) \|$", models_section, re.M)}


def test_the_readme_documents_the_parameter_counts_checked_here():
    assert _documented_parameters() == EXPECTED_PARAMETERS


@pytest.mark.parametrize("name", sorted(MODELS))
def test_each_registered_model_builds_under_its_name_with_stable_unique_layer_names(name):
    first, second = build_model(name), build_model(name)
    assert first.name == name
    names = [layer.name for layer in first.layers]
    assert len(set(names)) == len(names)
    assert names == [layer.name for layer in second.layers]  # building again does not renumber them
    assert f"{name}: {MODELS[name].summary}" in models_help()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameter_count_input_and_output(name):
    model = build_model(name)
    assert model.count_params() == EXPECTED_PARAMETERS[name], "a new model needs its count in the README's table"
    assert tuple(model.input_shape) == (None, *INPUT_SHAPE)
    probabilities = np.asarray(model(np.random.rand(2, *INPUT_SHAPE).astype("float32")))
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_gap_cnn_layer_names_match_the_original_demo():
    model = build_model("gap_cnn")
    assert [layer.name for layer in model.layers] == [
        "conv2d", "conv2d_1", "max_pooling2d", "batch_normalization",
        "conv2d_2", "conv2d_3", "max_pooling2d_1", "batch_normalization_1",
        "conv2d_4", "conv2d_5", "batch_normalization_2",
        "global_average_pooling2d", "dropout", "dense",
    ]
    assert find_gap_layer(model).output.shape[-1] == 64


@pytest.mark.parametrize("name, has_gap", [("gap_cnn", True), ("resnet", True), ("lenet", False),
                                            ("cnn64", False), ("tinyvgg", False), ("dense", False)])
def test_layers_found_by_role(name, has_gap):
    model = build_model(name)
    assert (find_gap_layer(model) is not None) == has_gap
    conv = find_last_conv_layer(model)
    if name == "dense":
        assert conv is None
    else:
        assert isinstance(conv, keras.layers.Conv2D) and len(conv.output.shape) == 4
    classifier = find_classifier_layer(model)
    assert classifier.units == 10 and classifier is model.layers[-1]


def test_resnet_has_skip_connections_and_stays_small():
    model = build_model("resnet")
    assert model.count_params() < 1_000_000
    assert sum(isinstance(layer, keras.layers.Add) for layer in model.layers) == 6


def test_unknown_model_names_the_choices():
    with pytest.raises(UserError, match="unknown model 'vgg16'; choose one of: gap_cnn, dense"):
        build_model("vgg16")


@pytest.mark.parametrize("name", ["gap_cnn", "resnet"])
def test_batch_norm_running_averages_follow_quickly(name):
    from fashion_mnist_vis.models.registry import BATCH_NORM_MOMENTUM

    norms = [layer for layer in build_model(name).layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.momentum == BATCH_NORM_MOMENTUM == 0.9 for layer in norms)
