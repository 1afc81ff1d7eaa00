"""The cascading model-randomisation test: similarity measures by hand, the cascade's clones, and the flag
raised for an input-only edge detector but not for Grad-CAM on a trained tiny model."""

from types import SimpleNamespace

import keras
import numpy as np
import pytest

from classify_helpers import synthetic_data, trained_model
from fashion_mnist_vis.data.pipeline import to_model_input
from fashion_mnist_vis.explain.cam import grad_cam
from fashion_mnist_vis.explain.sanity import (
    SanitySettings,
    cascading_clones,
    cascading_randomisation,
    reinitialised_weights,
    sanity_table,
    spearman,
    ssim,
    weighted_layers_top_down,
)
from fashion_mnist_vis.models.model_handle import keras_handle, open_model
from fashion_mnist_vis.models.registry import find_last_conv_layer
from fashion_mnist_vis.visualize.map_arrays import resize_map

# ------------------------------------------------------------------ similarity, by hand


def test_spearman_by_hand():
    # Ranks 1 2 3 4 against 1 3 2 4: d^2 sums to 2, rho = 1 - 6 * 2 / (4 * 15) = 0.8.
    assert spearman(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[10.0, 30.0], [20.0, 40.0]])) == pytest.approx(0.8)
    assert spearman(np.arange(9.0), -np.arange(9.0)) == pytest.approx(-1.0)
    # Ties share their mean rank: ranks (1.5, 1.5, 3) against (1, 2, 3) -> Pearson of those = 0.866.
    assert spearman(np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 2.0])) == pytest.approx(np.sqrt(3) / 2)
    assert spearman(np.zeros((3, 3)), np.arange(9.0).reshape(3, 3)) == 0.0  # a constant map has no ranking


def test_ssim_of_flat_maps_by_hand():
    # One 7 x 7 window, no variance: SSIM = (2 * 0.5 * 0.25 + C1) / (0.5^2 + 0.25^2 + C1), C1 = 0.0001.
    value = ssim(np.full((7, 7), 0.5), np.full((7, 7), 0.25))
    assert value == pytest.approx((0.25 + 1e-4) / (0.3125 + 1e-4))


def test_ssim_of_a_pattern_and_its_negative_by_hand():
    pattern = (np.arange(49).reshape(7, 7) % 2).astype(float)  # 24 ones, 25 zeros
    mean = 24 / 49
    variance = (24 * (1 - mean) ** 2 + 25 * mean ** 2) / 48  # sample variance
    c1, c2 = 1e-4, 9e-4
    # Against 1 - pattern: mean 25/49, the same variance, covariance -variance.
    expected = ((2 * mean * (1 - mean) + c1) * (-2 * variance + c2)
                / ((mean ** 2 + (1 - mean) ** 2 + c1) * (2 * variance + c2)))
    assert ssim(pattern, 1 - pattern) == pytest.approx(expected)
    assert ssim(pattern, pattern) == pytest.approx(1.0)


def test_ssim_averages_the_windows_and_refuses_small_maps():
    rng = np.random.default_rng(0)
    first, second = rng.random((9, 8)), rng.random((9, 8))
    windows = [ssim(first[i:i + 7, j:j + 7], second[i:i + 7, j:j + 7]) for i in range(3) for j in range(2)]
    assert ssim(first, second) == pytest.approx(np.mean(windows))
    with pytest.raises(ValueError, match="7 x 7"):
        ssim(np.zeros((6, 6)), np.zeros((6, 6)))
    with pytest.raises(ValueError):
        ssim(np.zeros((8, 8)), np.zeros((8, 9)))


# ------------------------------------------------------------------ re-initialising


@pytest.fixture(scope="module")
def small_model():
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(3, 3, name="conv"),
        keras.layers.BatchNormalization(name="norm"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(2, activation="softmax", name="classifier"),
    ])
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(0.5, 0.1, w.shape) for w in model.get_weights()])
    return model


def test_reinitialised_weights_come_from_the_layers_initialisers(small_model):
    kernel, bias = reinitialised_weights(small_model.get_layer("classifier"), seed=5)
    limit = np.sqrt(6 / (3 + 2))  # Glorot uniform: fan in 3, fan out 2
    assert kernel.shape == (3, 2) and np.abs(kernel).max() <= limit and kernel.std() > 0
    np.testing.assert_array_equal(bias, np.zeros(2))
    np.testing.assert_array_equal(kernel, reinitialised_weights(small_model.get_layer("classifier"), seed=5)[0])
    assert not np.array_equal(kernel, reinitialised_weights(small_model.get_layer("classifier"), seed=6)[0])
    gamma, beta, mean, variance = reinitialised_weights(small_model.get_layer("norm"), seed=5)
    np.testing.assert_array_equal(np.stack([gamma, beta, mean, variance]), [[1] * 3, [0] * 3, [0] * 3, [1] * 3])


def test_the_cascade_reinitialises_one_more_layer_per_step_on_a_clone(small_model):
    trained = {layer.name: [w.copy() for w in layer.get_weights()] for layer in small_model.layers}
    assert [layer.name for layer in weighted_layers_top_down(small_model)] == ["classifier", "norm", "conv"]
    seen = []
    for name, count, clone in cascading_clones(small_model, seed=0):
        seen.append((name, count))
        for depth, layer in enumerate(weighted_layers_top_down(clone), start=1):
            same = all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), trained[layer.name]))
            assert same == (depth > count), (name, layer.name)
    assert seen == [("classifier", 1), ("norm", 2), ("conv", 3)]
    for layer in small_model.layers:  # the model itself is untouched
        for a, b in zip(layer.get_weights(), trained[layer.name]):
            np.testing.assert_array_equal(a, b)


def test_numpy_engine_is_refused(small_model):
    handle = SimpleNamespace(engine="NumPy", model=small_model)
    with pytest.raises(ValueError, match="Keras"):
        cascading_randomisation(handle, lambda h: None, [], [], "cam")


# ------------------------------------------------------------------ the flag


def edge_detector(handle):
    """A "method" that ignores the model: the gradient magnitude of the image, scaled to [0, 1]."""
    def explain(image, class_index):
        rows, columns = np.gradient(image[:, :, 0].astype(np.float64))
        magnitude = np.hypot(rows, columns)
        return SimpleNamespace(heatmap=(magnitude / magnitude.max()).astype(np.float32))
    return explain


def grad_cam_method(handle):
    """Grad-CAM on the last convolution, upsampled to the input's size."""
    model = handle.model
    layer = find_last_conv_layer(model)

    def explain(image, class_index):
        raw = grad_cam(model, image, class_index, layer, graph=handle.graph)
        return SimpleNamespace(heatmap=resize_map(raw, image.shape[1::-1]))
    return explain


@pytest.fixture(scope="module")
def tinyvgg_case():
    """tinyvgg briefly trained, and six images on which its Grad-CAM map is not all zeros (an all-zero
    map has no ranking, so its correlation with any map counts as 0 and would pass the test for free)."""
    model = trained_model("tinyvgg")
    handle = keras_handle(model)
    candidates = to_model_input(synthetic_data()[0][-30:])
    classes = model.predict(candidates, verbose=0).argmax(axis=1)
    explain = grad_cam_method(handle)
    chosen = [index for index in range(len(candidates)) if explain(candidates[index], classes[index]).heatmap.max() > 0]
    assert len(chosen) >= 6
    return handle, [candidates[index] for index in chosen[:6]], [classes[index] for index in chosen[:6]]


def test_an_edge_detector_is_flagged(tinyvgg_case):
    handle, images, classes = tinyvgg_case
    result = cascading_randomisation(handle, edge_detector, images, classes, "edges")
    assert len(result.steps) == len(weighted_layers_top_down(handle.model))
    assert all(step.mean_spearman == pytest.approx(1.0) and step.mean_ssim == pytest.approx(1.0)
               for step in result.steps)
    assert not result.depends_on_model
    assert "**no** (flagged)" in sanity_table([result])


def test_grad_cam_on_a_trained_model_is_not_flagged(tinyvgg_case):
    handle, images, classes = tinyvgg_case
    result = cascading_randomisation(handle, grad_cam_method, images, classes, "gradcam", SanitySettings(seed=1))
    assert result.depends_on_model, [step.mean_spearman for step in result.steps]
    assert result.steps[-1].mean_spearman < 0.5
    assert result.steps[0].spearman.shape == (6,)
    table = sanity_table([result])
    assert table.splitlines()[0].startswith("| method | dense")  # tinyvgg's classifier goes first
    assert table.splitlines()[2].endswith("| yes |")


def test_settings_refuse_a_threshold_outside_minus_one_to_one():
    with pytest.raises(ValueError):
        SanitySettings(threshold=1.5)


def test_the_cascade_runs_on_a_legacy_keras2_file(tmp_path):
    from test_model_io import write_legacy_demo_model

    tf_keras = pytest.importorskip("tf_keras")
    path, _ = write_legacy_demo_model(tf_keras, tmp_path)
    handle = open_model(path, "keras")
    images = list(to_model_input(synthetic_data()[0][:2]))
    result = cascading_randomisation(handle, grad_cam_method, images, [0, 1], "gradcam")
    assert [step.layer_name for step in result.steps] == \
        [layer.name for layer in weighted_layers_top_down(handle.model)]
    assert all(np.isfinite(step.mean_ssim) for step in result.steps)


def test_the_cascade_hides_tensorflows_retracing_warnings(small_model, caplog):
    """Each step's clone traces new functions on purpose, so TensorFlow's "triggered tf.function
    retracing" warnings (printed by evaluate --sanity before) stay hidden; errors still come through."""
    import logging

    tensorflow_log = logging.getLogger("tensorflow")

    def logging_method(handle):
        def explain(image, class_index):
            tensorflow_log.warning("5 out of the last 14 calls triggered tf.function retracing")
            tensorflow_log.error("a real error")
            return SimpleNamespace(heatmap=image[:, :, 0].astype(np.float32))
        return explain

    image = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(28, 28, 1)
    level = tensorflow_log.level
    with caplog.at_level(logging.DEBUG):
        result = cascading_randomisation(keras_handle(small_model), logging_method, [image], [0], "logs")
    steps = len(result.steps)
    assert steps >= 2
    messages = [(record.levelno, record.getMessage()) for record in caplog.records if record.name == "tensorflow"]
    retracing = [message for levelno, message in messages if "retracing" in message]
    assert len(retracing) == 1  # the trained model's map, before the cascade starts
    assert [levelno for levelno, _ in messages].count(logging.ERROR) == steps + 1
    assert tensorflow_log.level == level
