"""Tests for fashion_mnist_vis.models.model_io.load_model; every model file is built here.

The legacy fixture is written with tf_keras (Keras 2) and then given the exact
shape of files saved by TensorFlow 2.1 (keras_version "2.2.4-tf"): the first
layer carries ``batch_input_shape`` and there is no InputLayer.
"""

import json
import os
import subprocess
import sys
import zipfile

import h5py
import keras
import numpy as np
import pytest

from fashion_mnist_vis.models import model_handle

from fashion_mnist_vis.models import model_io
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.models.legacy_config import upgrade_legacy_config
from fashion_mnist_vis.models.model_io import load_model, save_model_atomic
from fashion_mnist_vis.models.registry import build_model

RNG = np.random.default_rng(1234)
IMAGES = RNG.random((6, 28, 28, 1), dtype=np.float32)


def _randomise_weights(model, seed):
    """Give every weight (BatchNorm statistics included) a distinctive value.

    Freshly initialised models have zeros/ones in biases and BatchNorm
    statistics, so a weight that failed to load could go unnoticed.
    """
    rng = np.random.default_rng(seed)
    values = []
    for weight in model.weights:
        value = rng.normal(0.0, 0.2, weight.shape).astype("float32")
        if "variance" in weight.path:
            value = np.abs(value) + 0.5
        values.append(value)
    model.set_weights(values)


def _assert_one_line_error(error_info, path):
    message = str(error_info.value)
    assert str(path) in message
    assert "\n" not in message


# ------------------------------------------------------------ our own models


@pytest.fixture(scope="module", params=["tinyvgg", "gap_cnn"])
def our_model(request):
    model = build_model(request.param)
    _randomise_weights(model, seed=len(request.param))
    return model


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_our_models_reload_and_predict_identically(our_model, tmp_path, suffix):
    path = save_model_atomic(our_model, tmp_path / f"{our_model.name}{suffix}")
    loaded = load_model(path)
    assert loaded.input_shape == (None, 28, 28, 1)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in our_model.layers]
    np.testing.assert_array_equal(
        loaded.predict(IMAGES, verbose=0), our_model.predict(IMAGES, verbose=0)
    )


def test_hdf5_model_with_keras_suffix_loads(tmp_path):
    model = build_model("tinyvgg")
    _randomise_weights(model, seed=7)
    h5_path = save_model_atomic(model, tmp_path / "model.h5")
    misnamed = tmp_path / "model.keras"
    h5_path.rename(misnamed)
    np.testing.assert_array_equal(
        load_model(misnamed).predict(IMAGES, verbose=0), model.predict(IMAGES, verbose=0)
    )


def test_keras_zip_with_h5_suffix_is_explained(tmp_path):
    path = save_model_atomic(build_model("tinyvgg"), tmp_path / "model.keras")
    misnamed = tmp_path / "model.h5"
    path.rename(misnamed)
    with pytest.raises(UserError, match="rename it") as error:
        load_model(misnamed)
    _assert_one_line_error(error, misnamed)


def test_keras3_h5_config_is_left_alone(tmp_path):
    path = save_model_atomic(build_model("gap_cnn"), tmp_path / "model.h5")
    with h5py.File(path, "r") as h5_file:
        config = json.loads(h5_file.attrs["model_config"])
    assert upgrade_legacy_config(config) == config


# --------------------------------------------------------- legacy (Keras 2)


def _tf_2_1_shape(path):
    """Rewrite a tf_keras HDF5 file's attributes into TensorFlow 2.1's shape."""

    def strip_new_keys(node):
        if isinstance(node, dict):
            return {k: strip_new_keys(v) for k, v in node.items() if k not in ("module", "registered_name")}
        if isinstance(node, list):
            return [strip_new_keys(v) for v in node]
        return node

    def drop_input_layers(node):
        if isinstance(node, dict):
            if node.get("class_name") == "Sequential":
                layers = node["config"]["layers"]
                if layers[0]["class_name"] == "InputLayer":
                    del layers[0]
                assert "batch_input_shape" in layers[0]["config"]
            for value in node.values():
                drop_input_layers(value)
        elif isinstance(node, list):
            for value in node:
                drop_input_layers(value)

    with h5py.File(path, "r+") as h5_file:
        config = strip_new_keys(json.loads(h5_file.attrs["model_config"]))
        drop_input_layers(config)
        for layer in config["config"]["layers"]:
            layer.get("config", {}).pop("groups", None)  # Conv2D had no `groups` in 2.1
        h5_file.attrs["model_config"] = json.dumps(config).encode("utf-8")
        training = json.loads(h5_file.attrs["training_config"])
        training["metrics"] = ["sparse_categorical_accuracy"]
        training["optimizer_config"] = {
            "class_name": "Adam",
            "config": {"name": "Adam", "learning_rate": 0.001, "decay": 0.0, "beta_1": 0.9,
                       "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False},
        }
        h5_file.attrs["training_config"] = json.dumps(training).encode("utf-8")
        h5_file.attrs["keras_version"] = b"2.2.4-tf"
        h5_file.attrs["backend"] = b"tensorflow"
        h5_file["model_weights"].attrs["keras_version"] = b"2.2.4-tf"
        if "optimizer_weights" in h5_file:
            del h5_file["optimizer_weights"]


def _train_one_step(model):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    model.fit(IMAGES, np.arange(len(IMAGES)), epochs=1, batch_size=len(IMAGES), verbose=0)


@pytest.fixture(scope="module")
def tf_keras():
    # tf_keras (Keras 2) and keras (Keras 3) are separate packages and coexist in
    # one process; TF_USE_LEGACY_KERAS only changes what `tf.keras` points to.
    return pytest.importorskip("tf_keras")


def write_legacy_demo_model(tf_keras, folder, name="model.h5"):
    """Write a Keras 2 (TensorFlow 2.1-style) HDF5 file like the original demo's model.h5.

    A small conv / batch-norm / GAP / softmax Sequential, trained one step,
    saved by tf_keras and rewritten into the old file shape. Returns
    (path, the tf_keras model that wrote it).
    """
    layers = tf_keras.layers
    model = tf_keras.Sequential([
        layers.Conv2D(8, 3, activation="relu", input_shape=(28, 28, 1)),
        layers.BatchNormalization(),
        layers.Conv2D(8, 3, activation="relu", padding="same"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(10, activation="softmax"),
    ])
    _train_one_step(model)
    path = folder / name
    model.save(str(path))
    _tf_2_1_shape(str(path))
    return path, model


@pytest.fixture(scope="module")
def legacy_sequential(tf_keras, tmp_path_factory):
    """The original demo's kind of file: returns (path, Keras 2's predictions for IMAGES)."""
    path, model = write_legacy_demo_model(tf_keras, tmp_path_factory.mktemp("legacy"), "fashion mnist demo.h5")
    expected = tf_keras.models.load_model(str(path)).predict(IMAGES, verbose=0)
    np.testing.assert_allclose(expected, model.predict(IMAGES, verbose=0), atol=1e-6)
    return path, expected


def test_legacy_fixture_has_the_old_shape(legacy_sequential):
    path, _ = legacy_sequential
    with h5py.File(path, "r") as h5_file:
        assert h5_file.attrs["keras_version"] == "2.2.4-tf"
        assert h5_file.attrs["backend"] == "tensorflow"
        config = json.loads(h5_file.attrs["model_config"])
        assert "sparse_categorical_accuracy" in h5_file.attrs["training_config"]
    layers = config["config"]["layers"]
    assert layers[0]["class_name"] == "Conv2D"
    assert layers[0]["config"]["batch_input_shape"] == [None, 28, 28, 1]
    assert all(layer["class_name"] != "InputLayer" for layer in layers)


def test_plain_keras3_fails_on_legacy_file(legacy_sequential):
    path, _ = legacy_sequential
    with pytest.raises(ValueError, match="Kernel shape must have the same length as input"):
        keras.models.load_model(path, compile=False)


def test_legacy_file_loads_and_predicts_like_keras2(legacy_sequential):
    path, expected = legacy_sequential
    model = load_model(path)
    assert model.input_shape == (None, 28, 28, 1)
    assert isinstance(model.layers[1], keras.layers.BatchNormalization)
    np.testing.assert_allclose(model.predict(IMAGES, verbose=0), expected, atol=1e-5)


def test_legacy_functional_with_nested_sequential(tf_keras, tmp_path):
    layers = tf_keras.layers
    inner = tf_keras.Sequential(
        [layers.Conv2D(4, 3, input_shape=(28, 28, 1)), layers.BatchNormalization()], name="features"
    )
    inputs = tf_keras.Input((28, 28, 1))
    outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(inner(inputs)))
    model = tf_keras.Model(inputs, outputs)
    _train_one_step(model)
    path = tmp_path / "functional.h5"
    model.save(str(path))
    _tf_2_1_shape(str(path))
    with h5py.File(path, "r+") as h5_file:  # TensorFlow 2.1 called functional models "Model"
        config = json.loads(h5_file.attrs["model_config"])
        config["class_name"] = "Model"
        h5_file.attrs["model_config"] = json.dumps(config).encode("utf-8")
    expected = tf_keras.models.load_model(str(path)).predict(IMAGES, verbose=0)
    np.testing.assert_allclose(load_model(path).predict(IMAGES, verbose=0), expected, atol=1e-5)


def test_upgrade_inserts_input_layer():
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Dense", "config": {"name": "dense", "units": 2, "dtype": "float32",
                                           "batch_input_shape": [None, 3]}},
    ]}}
    upgraded = upgrade_legacy_config(config)
    layers = upgraded["config"]["layers"]
    assert layers[0] == {"class_name": "InputLayer", "config": {
        "batch_input_shape": [None, 3], "dtype": "float32", "sparse": False, "name": "dense_input"}}
    assert "batch_input_shape" not in layers[1]["config"]
    assert "batch_input_shape" in config["config"]["layers"][0]["config"]  # input untouched


def test_upgrade_translates_keras2_dtype_policy():
    config = {"class_name": "Dense", "config": {"name": "d", "dtype": {
        "class_name": "Policy", "config": {"name": "mixed_float16"}}}}
    assert upgrade_legacy_config(config)["config"]["dtype"] == "mixed_float16"


# ------------------------------------------------------------- Lambda layers


def _lambda_models(tmp_path, tf_keras=None):
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Lambda(lambda t: t * 2.0, name="double"),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ])
    paths = [save_model_atomic(model, tmp_path / "lambda.keras"),
             save_model_atomic(model, tmp_path / "lambda.h5")]
    if tf_keras is not None:
        legacy = tf_keras.Sequential([
            tf_keras.layers.Lambda(lambda t: t * 2.0, input_shape=(28, 28, 1), name="double"),
            tf_keras.layers.Flatten(),
            tf_keras.layers.Dense(10),
        ])
        legacy_path = tmp_path / "lambda_keras2.h5"
        legacy.save(str(legacy_path))
        paths.append(legacy_path)
    return paths


def test_lambda_layer_is_refused(tmp_path, tf_keras):
    for path in _lambda_models(tmp_path, tf_keras):
        with pytest.raises(UserError, match="Lambda layer \\(double\\)") as error:
            load_model(path)
        _assert_one_line_error(error, path)


def test_keras_safe_mode_also_refuses_lambda(tmp_path, monkeypatch, tf_keras):
    # Without our own check, Keras's safe mode must still refuse the code.
    monkeypatch.setattr(model_handle, "_CODE_LAYERS", ())
    for path in _lambda_models(tmp_path, tf_keras):
        with pytest.raises(UserError, match="Lambda layer") as error:
            load_model(path)
        _assert_one_line_error(error, path)


# ---------------------------------------------------------- not image models


@pytest.mark.parametrize("shape", [(10,), (28, 28, 2), (28, 28)])
def test_model_that_does_not_take_images(tmp_path, shape):
    model = keras.Sequential([keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(10)])
    path = save_model_atomic(model, tmp_path / "vector.keras")
    with pytest.raises(UserError, match="does not take images") as error:
        load_model(path)
    _assert_one_line_error(error, path)


def test_three_channel_model_is_accepted(tmp_path):
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(2, 3),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])
    path = save_model_atomic(model, tmp_path / "rgb.keras")
    assert load_model(path).input_shape == (None, 32, 32, 3)


# ----------------------------------------------------------------- bad files


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    model = build_model("tinyvgg")
    return {suffix: save_model_atomic(model, folder / f"tiny{suffix}") for suffix in (".keras", ".h5")}


def test_missing_file(tmp_path):
    path = tmp_path / "missing.keras"
    with pytest.raises(UserError, match="does not exist") as error:
        load_model(path)
    _assert_one_line_error(error, path)


def test_folder(tmp_path):
    with pytest.raises(UserError, match="is a folder") as error:
        load_model(tmp_path)
    _assert_one_line_error(error, tmp_path)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(UserError, match="empty") as error:
        load_model(path)
    _assert_one_line_error(error, path)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_text_file(tmp_path, suffix):
    path = tmp_path / f"notes{suffix}"
    path.write_text("not a model at all\n")
    with pytest.raises(UserError, match="not a Keras model") as error:
        load_model(path)
    _assert_one_line_error(error, path)


def test_zip_that_is_not_a_model(tmp_path):
    path = tmp_path / "photos.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "holiday photos")
    with pytest.raises(UserError, match="not a Keras model") as error:
        load_model(path)
    _assert_one_line_error(error, path)


def test_zip_with_broken_config(tmp_path):
    path = tmp_path / "broken.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{not json")
    with pytest.raises(UserError, match="damaged") as error:
        load_model(path)
    _assert_one_line_error(error, path)


def test_hdf5_without_model_config(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as h5_file:
        h5_file["numbers"] = np.arange(10)
    with pytest.raises(UserError, match="no model_config") as error:
        load_model(path)
    _assert_one_line_error(error, path)


def test_weights_only_file(tmp_path):
    path = tmp_path / "tiny.weights.h5"
    build_model("tinyvgg").save_weights(path)
    with pytest.raises(UserError, match="no model_config") as error:
        load_model(path)
    _assert_one_line_error(error, path)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_truncated_file(tmp_path, good_files, suffix, fraction):
    data = good_files[suffix].read_bytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(UserError, match="truncated|damaged") as error:
        load_model(path)
    _assert_one_line_error(error, path)


def test_hdf5_with_missing_layer_weights(tmp_path, good_files):
    path = tmp_path / "partial.h5"
    path.write_bytes(good_files[".h5"].read_bytes())
    with h5py.File(path, "r+") as h5_file:
        del h5_file["model_weights"]["conv2d_1"]
    with pytest.raises(UserError, match="conv2d_1") as error:
        load_model(path)
    _assert_one_line_error(error, path)


def test_hdf5_with_unknown_layer_type(tmp_path, good_files):
    path = tmp_path / "custom.h5"
    path.write_bytes(good_files[".h5"].read_bytes())
    with h5py.File(path, "r+") as h5_file:
        config = json.loads(h5_file.attrs["model_config"])
        config["config"]["layers"][1]["class_name"] = "MyFancyConv"
        h5_file.attrs["model_config"] = json.dumps(config).encode("utf-8")
    with pytest.raises(UserError, match="'MyFancyConv', which is not part of Keras 3") as error:
        load_model(path)
    _assert_one_line_error(error, path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path, good_files):
    path = tmp_path / "secret.keras"
    path.write_bytes(good_files[".keras"].read_bytes())
    path.chmod(0)
    try:
        with pytest.raises(UserError, match="permission denied") as error:
            load_model(path)
        _assert_one_line_error(error, path)
    finally:
        path.chmod(0o644)


def test_permission_error_is_reported(tmp_path, good_files, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(model_io, "open", refuse, raising=False)
    with pytest.raises(UserError, match="permission denied") as error:
        load_model(good_files[".keras"])
    _assert_one_line_error(error, good_files[".keras"])


# ------------------------------------------------------------- import cost


def test_modules_do_not_import_tensorflow():
    code = (
        "import sys\n"
        "import fashion_mnist_vis.data.images, fashion_mnist_vis.data.preprocess, fashion_mnist_vis.models.model_io\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'h5py', 'tf_keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
