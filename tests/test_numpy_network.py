"""numpy_network: every layer's output and Grad-CAM's gradients agree with Keras, for every
architecture train.py builds, saved as .keras, as Keras 3 HDF5 and as a Keras 2 HDF5 file;
anything it does not implement is refused (and classify falls back to Keras)."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from fashion_mnist_vis.models.keras_graph import LayerGraph
from fashion_mnist_vis.commands.classify import main
from fashion_mnist_vis.models.model_io import save_model_atomic
from fashion_mnist_vis.models.registry import MODELS, build_model, find_classifier_layer, find_last_conv_layer
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.models.model_handle import open_model
from fashion_mnist_vis.models.numpy_network import NumpyNetwork

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_images" / "sneaker.jpg"
BATCH = np.random.default_rng(7).random((3, 28, 28, 1), dtype=np.float32)


def randomise(model, seed: int = 0):
    """Random weights everywhere, batch-norm moving statistics included (variances positive)."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        values = rng.normal(0.0, 0.3, weight.shape).astype(np.float32)
        if "variance" in weight.path:
            values = np.abs(values) + 0.5
        weight.assign(values)
    return model


def read_network(path) -> NumpyNetwork:
    """The NumPy engine's network of the model file at ``path``."""
    handle = open_model(path, engine="numpy")
    assert handle.engine == "NumPy"
    return handle.model


def assert_same_as_keras(model, network: NumpyNetwork, batch=BATCH):
    """Every layer's output, and Grad-CAM's gradients on the last conv, agree with Keras."""
    graph = LayerGraph(model)
    names = [layer.name for layer in model.layers if layer.name in graph.outputs]
    assert names == [layer.name for layer in network.layers]
    expected = graph.probe([graph.outputs[name] for name in names])(batch, training=False)
    ours = network.run(batch)
    for name, values in zip(names, expected):  # float32 round-off grows with the values' size
        values = np.asarray(values)
        np.testing.assert_allclose(ours[name], values, rtol=1e-4, atol=2e-5 * max(1.0, np.abs(values).max()),
                                   err_msg=name)
    assert network.count_params() == model.count_params()
    assert network.input_shape == tuple(model.input_shape)
    conv = find_last_conv_layer(model)
    if conv is not None:
        classifier = find_classifier_layer(model)
        for class_index in (0, 7):
            want_maps, want_grads = graph.logit_gradients(conv, classifier)(batch[0], class_index)
            maps, grads = network.graph.logit_gradients(conv, classifier)(batch[0], class_index)
            np.testing.assert_allclose(maps, want_maps, rtol=1e-4, atol=2e-5 * max(1.0, np.abs(want_maps).max()))
            np.testing.assert_allclose(grads, want_grads, rtol=1e-4, atol=2e-5 * np.abs(want_grads).max())
            assert np.abs(grads).max() > 0


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_architecture_matches_keras(name, suffix, tmp_path):
    model = randomise(build_model(name))
    path = save_model_atomic(model, tmp_path / f"{name}{suffix}")
    network = read_network(path)
    assert network.name == model.name
    assert_same_as_keras(model, network)


def test_same_padding_strides_pools_activations_and_branches_match_keras(tmp_path):
    """Layers the registry's models do not all use: strided SAME convolution and pooling on odd
    sizes, average and global max pooling, Activation layers, a hidden Dense, and a residual Add."""
    layers = keras.layers
    inputs = keras.Input((13, 11, 3), name="input")
    x = layers.Conv2D(6, 3, strides=2, padding="same", activation="tanh", name="strided")(inputs)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="max_same")(x)
    y = layers.Conv2D(6, 2, padding="same", name="branch")(x)
    y = layers.Activation("sigmoid", name="sigmoid")(y)
    x = layers.Add(name="add")([x, y])
    x = layers.ReLU(name="relu")(x)
    x = layers.Conv2D(5, 1, use_bias=False, name="last_conv")(x)
    x = layers.BatchNormalization(center=False, name="bn")(x)
    x = layers.AveragePooling2D(2, strides=1, name="average")(x)
    x = layers.GlobalMaxPooling2D(name="global_max")(x)
    x = layers.Dense(8, activation="relu", name="hidden")(x)
    x = layers.Dropout(0.5, name="dropout")(x)
    outputs = layers.Dense(10, activation="softmax", name="classifier")(x)
    model = randomise(keras.Model(inputs, outputs, name="odd_shapes"))
    network = read_network(save_model_atomic(model, tmp_path / "odd.keras"))
    assert [type(layer).__name__ for layer in network.layers][:4] == ["InputLayer", "Conv2D", "MaxPooling2D", "Conv2D"]
    batch = np.random.default_rng(3).random((2, 13, 11, 3), dtype=np.float32)
    assert_same_as_keras(model, network, batch)


def test_keras2_hdf5_model_matches_tf_keras(tmp_path):
    tf_keras = pytest.importorskip("tf_keras")
    from test_model_io import write_legacy_demo_model

    path, legacy = write_legacy_demo_model(tf_keras, tmp_path)
    network = read_network(path)
    # Keras 2 wrote no InputLayer; the first layer's name depends on tf_keras's global name counter
    assert network.layers[0].inbound == [f"{legacy.layers[0].name}_input"]
    np.testing.assert_allclose(network.predict(BATCH), legacy.predict(BATCH, verbose=0), rtol=1e-4, atol=1e-5)


def test_unimplemented_layers_and_options_are_refused(tmp_path):
    layers = keras.layers

    def saved(*body, name):
        model = keras.Sequential([keras.Input((28, 28, 1)), *body, layers.GlobalAveragePooling2D(),
                                  layers.Dense(10, activation="softmax")], name=name)
        return save_model_atomic(model, tmp_path / f"{name}.keras")

    cases = {
        saved(layers.Rescaling(0.5), name="rescaling"): "layer type 'Rescaling'",
        saved(layers.Conv2D(4, 3, dilation_rate=2), name="dilated"): "dilated or grouped",
        saved(layers.Conv2D(4, 3, activation="gelu"), name="gelu"): "activation 'gelu'",
        saved(layers.ReLU(max_value=6.0), name="relu6"): "ReLU with max_value",
        saved(layers.AveragePooling2D(2, padding="same"), name="avg_same"): "average pooling with SAME",
    }
    inner = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(4, 3)], name="inner")
    outer = keras.Sequential([keras.Input((28, 28, 1)), inner, layers.GlobalAveragePooling2D(),
                              layers.Dense(10, activation="softmax")], name="nested")
    cases[save_model_atomic(outer, tmp_path / "nested.keras")] = "layer type 'Sequential'"
    for path, reason in cases.items():
        with pytest.raises(UserError, match=f"cannot run with the numpy engine \\({reason}"):
            read_network(path)


def test_files_that_are_not_models_are_named_so(tmp_path, capsys):
    import h5py
    import zipfile

    (tmp_path / "text.keras").write_text("not a model")
    with zipfile.ZipFile(tmp_path / "archive.keras", "w") as archive:
        archive.writestr("notes.txt", "hello")
    with h5py.File(tmp_path / "data.h5", "w") as h5_file:
        h5_file["x"] = np.zeros(3)
    cases = {"text.keras": "is not a Keras model file (neither a .keras zip archive nor HDF5)",
             "archive.keras": "is a zip archive but not a Keras model (it has no config.json)",
             "data.h5": "is an HDF5 file but holds no Keras model (no model_config; a weights-only file?)"}
    for name, reason in cases.items():  # one reader for both engines: the same message for each
        for engine in ("numpy", "keras"):
            assert main([str(SAMPLE), "--saved_model", str(tmp_path / name), "--engine", engine]) == 2
            assert capsys.readouterr().err.strip() == f"classify.py: error: {str(tmp_path / name)!r} {reason}"


@pytest.fixture(scope="module")
def rescaling_model(tmp_path_factory):
    """A conv model with a Rescaling layer: valid for Keras, not implemented in NumPy."""
    layers = keras.layers
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Rescaling(1.0), layers.Conv2D(4, 3, activation="relu"),
                              layers.GlobalAveragePooling2D(), layers.Dense(10, activation="softmax")],
                             name="with_rescaling")
    return save_model_atomic(randomise(model), tmp_path_factory.mktemp("rescaling") / "model.keras")


def test_auto_falls_back_to_keras_and_numpy_says_why(rescaling_model, capsys):
    assert main([str(SAMPLE), "--saved_model", str(rescaling_model), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["prediction"] and err.strip().endswith("parameters), run by Keras")
    assert main([str(SAMPLE), "--saved_model", str(rescaling_model), "--engine", "numpy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot run with the numpy engine (layer type 'Rescaling'); use the keras engine (--engine keras)" in err[0]


@pytest.fixture(scope="module")
def gap_model(tmp_path_factory):
    return save_model_atomic(randomise(build_model("gap_cnn"), seed=5),
                             tmp_path_factory.mktemp("gap") / "gap_cnn.keras")


def test_both_engines_give_the_same_classification_and_maps(gap_model, tmp_path, capsys):
    results = {}
    for engine in ("numpy", "keras"):
        assert main([str(SAMPLE), "--saved_model", str(gap_model), "--engine", engine, "--json",
                     "--save_plots", "--plot_dir", str(tmp_path / engine)]) == 0
        out, err = capsys.readouterr()
        assert err.strip().endswith(f"run by {'NumPy' if engine == 'numpy' else 'Keras'}")
        results[engine] = json.loads(out)
    ours, theirs = results["numpy"], results["keras"]
    assert ours["prediction"] == theirs["prediction"] and ours["cam"] == theirs["cam"]
    for mine, reference in zip(ours["top_k"], theirs["top_k"]):
        assert mine["class"] == reference["class"] and abs(mine["score"] - reference["score"]) < 1e-5
    assert sorted(path.name for path in (tmp_path / "numpy").iterdir()) == \
        sorted(path.name for path in (tmp_path / "keras").iterdir())


@pytest.mark.slow
def test_numpy_engine_classifies_with_plots_without_importing_tensorflow(gap_model, tmp_path):
    """In a process where importing TensorFlow or Keras fails, classify --save_plots still works."""
    code = ("import sys\n"
            "for name in ('tensorflow', 'keras'): sys.modules[name] = None\n"
            "from fashion_mnist_vis.classify import main\n"
            f"sys.exit(main([{str(SAMPLE)!r}, '--saved_model', {str(gap_model)!r}, '--save_plots', "
            f"'--plot_dir', {str(tmp_path)!r}]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "plots:" in result.stdout and (tmp_path / "cam.png").is_file() and (tmp_path / "conv2d_5.png").is_file()


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_mixed_precision_model_runs_in_float32_like_model_io(suffix, tmp_path):
    """A model trained under mixed_bfloat16 keeps float32 weights; both engines compute in float32."""
    from fashion_mnist_vis.models.model_io import load_model
    from fashion_mnist_vis.models.precision import precision_policy

    with precision_policy("mixed_bfloat16"):
        model = randomise(build_model("tinyvgg"), seed=2)
    path = save_model_atomic(model, tmp_path / f"mixed{suffix}")
    network = read_network(path)
    assert_same_as_keras(load_model(path), network)
