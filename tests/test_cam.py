"""CAM and Grad-CAM: values computed by hand, the two methods agreeing, method choice per model."""

import keras
import numpy as np
import pytest

from classify_helpers import trained_model
from fashion_mnist_vis.models.keras_graph import LayerGraph
from fashion_mnist_vis.explain.cam import (
    CAM,
    GRAD_CAM,
    CamExplainer,
    class_activation_map,
    grad_cam,
    normalise_map,
)
from fashion_mnist_vis.models.registry import MODELS, build_model, find_gap_layer, find_last_conv_layer

# ---------------------------------------------------------------- pure maths


def test_class_activation_map_by_hand():
    # Two 2x2 channels; weights 2 and -1.
    feature_maps = np.stack([[[1.0, 0.0], [2.0, 3.0]], [[0.0, 1.0], [1.0, 4.0]]], axis=-1)
    raw = class_activation_map(feature_maps, np.array([2.0, -1.0]), normalise=False)
    np.testing.assert_allclose(raw, [[2.0, -1.0], [3.0, 2.0]])
    normalised = class_activation_map(feature_maps, np.array([2.0, -1.0]))
    np.testing.assert_allclose(normalised, [[2 / 3, 0.0], [1.0, 2 / 3]], rtol=1e-6)
    assert normalised.dtype == np.float32


def test_normalise_map_relu_and_max():
    np.testing.assert_allclose(normalise_map(np.array([[-2.0, 1.0], [4.0, 0.0]])), [[0, 0.25], [1, 0]])
    assert not normalise_map(np.full((3, 3), -1.0)).any()  # no positive evidence: all zeros
    assert not normalise_map(np.zeros((2, 2))).any()


def test_class_activation_map_rejects_bad_shapes():
    with pytest.raises(ValueError, match="class_weights"):
        class_activation_map(np.zeros((2, 2, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="feature_maps"):
        class_activation_map(np.zeros((2, 2)), np.zeros(2))


# --------------------------------------------- a tiny model with hand-set weights

IMAGE = np.array([[0.0, 0.2, 0.4], [0.6, 0.8, 1.0], [0.2, 0.4, 0.0]], dtype=np.float32)[:, :, None]
# conv: channel 0 = relu(x), channel 1 = relu(0.5 - x)
CHANNEL_1 = np.array([[0.5, 0.3, 0.1], [0.0, 0.0, 0.0], [0.3, 0.1, 0.5]])
# dense: class 0 weights (2, -1), class 1 weights (-1, 3), biases (0.5, -0.5)
CAM_RAW = {
    0: np.array([[-0.5, 0.1, 0.7], [1.2, 1.6, 2.0], [0.1, 0.7, -0.5]]),  # 2 x - channel 1
    1: np.array([[1.5, 0.7, -0.1], [-0.6, -0.8, -1.0], [0.7, -0.1, 1.5]]),  # -x + 3 channel 1
}


@pytest.fixture(scope="module")
def hand_model():
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((3, 3, 1)),
        layers.Conv2D(2, 1, activation="relu", name="conv"),
        layers.GlobalAveragePooling2D(name="gap"),
        layers.Dropout(0.5, name="dropout"),
        layers.Dense(2, activation="softmax", name="classifier"),
    ])
    model.get_layer("conv").set_weights([np.array([1.0, -1.0]).reshape(1, 1, 1, 2), np.array([0.0, 0.5])])
    model.get_layer("classifier").set_weights([np.array([[2.0, -1.0], [-1.0, 3.0]]), np.array([0.5, -0.5])])
    return model


def test_hand_model_features_are_as_computed_by_hand(hand_model):
    probe = keras.Model(hand_model.inputs, hand_model.get_layer("conv").output)
    maps = probe.predict(IMAGE[None], verbose=0)[0]
    np.testing.assert_allclose(maps[:, :, 0], IMAGE[:, :, 0], atol=1e-6)
    np.testing.assert_allclose(maps[:, :, 1], CHANNEL_1, atol=1e-6)


@pytest.mark.parametrize("class_index, expected", [
    (0, [[0.0, 0.05, 0.35], [0.6, 0.8, 1.0], [0.05, 0.35, 0.0]]),  # CAM_RAW[0] / 2.0, negatives to 0
    (1, [[1.0, 7 / 15, 0.0], [0.0, 0.0, 0.0], [7 / 15, 0.0, 1.0]]),  # CAM_RAW[1] / 1.5
])
def test_cam_of_hand_model(hand_model, class_index, expected):
    explainer = CamExplainer(hand_model, LayerGraph(hand_model))
    assert explainer.methods == (CAM, GRAD_CAM)
    cam, gradcam = explainer.explain(IMAGE, class_index)
    assert (cam.method, cam.layer_name, cam.class_index) == (CAM, "conv", class_index)
    np.testing.assert_allclose(cam.heatmap, expected, atol=1e-6)
    # The conv layer feeds the GAP directly, so Grad-CAM on it is the same map.
    assert (gradcam.method, gradcam.layer_name) == (GRAD_CAM, "conv")
    np.testing.assert_allclose(gradcam.heatmap, expected, atol=1e-5)


def test_cam_mean_plus_bias_is_the_logit(hand_model):
    # Zhou et al.: y_c = mean_ij M_c(i, j) + b_c. Logits from the softmax: log p0 - log p1 = y0 - y1.
    probabilities = hand_model.predict(IMAGE[None], verbose=0)[0]
    logit_0 = CAM_RAW[0].mean() + 0.5  # 0.6 + 0.5
    logit_1 = CAM_RAW[1].mean() - 0.5  # 0.2 - 0.5
    assert np.log(probabilities[0] / probabilities[1]) == pytest.approx(logit_0 - logit_1, abs=1e-5)


@pytest.mark.parametrize("class_index", [0, 1])
def test_raw_grad_cam_is_raw_cam_over_positions(hand_model, class_index):
    # d y_c / d A_ij^k = w_kc / (h w) for GAP -> Dense: Grad-CAM weights are w_kc / 9 here.
    raw = grad_cam(hand_model, IMAGE, class_index, hand_model.get_layer("conv"), normalise=False)
    np.testing.assert_allclose(raw, CAM_RAW[class_index] / 9.0, atol=1e-6)


# ------------------------------------ the GAP network gap_cnn (random weights and BN statistics)


@pytest.fixture(scope="module")
def gap_cnn():
    return trained_model("gap_cnn")


@pytest.fixture(scope="module")
def samples():
    from classify_helpers import synthetic_data

    images, labels = synthetic_data()
    return (images[-2:].astype(np.float32) / 255.0)[..., None], labels[-2:]


def test_grad_cam_on_gap_input_agrees_with_cam(gap_cnn, samples):
    explainer = CamExplainer(gap_cnn, LayerGraph(gap_cnn))
    assert explainer.methods == (CAM, GRAD_CAM)
    assert explainer.gap_input_name() == "batch_normalization_2"  # not the last conv: BN sits between
    feeding = gap_cnn.get_layer(explainer.gap_input_name())
    informative = 0
    for image, label in zip(*samples):
        feature_maps = explainer.gap_input(image)
        kernel = np.asarray(explainer.classifier.kernel)
        for class_index in range(10):
            raw_cam = class_activation_map(feature_maps, kernel[:, class_index], normalise=False)
            raw_grad = grad_cam(gap_cnn, image, class_index, feeding, normalise=False)
            assert raw_cam.shape == raw_grad.shape == (3, 3)
            # Same map up to the positive scale 1 / (h w) = 1 / 9 ...
            assert np.corrcoef(raw_cam.ravel(), raw_grad.ravel())[0, 1] > 0.99
            np.testing.assert_allclose(raw_grad * 9.0, raw_cam, rtol=1e-4, atol=1e-5)
            # ... so the normalised maps are equal.
            cam = class_activation_map(feature_maps, kernel[:, class_index])
            np.testing.assert_allclose(normalise_map(raw_grad), cam, atol=1e-4)
            informative += int(cam.std() > 0.05)
        explained = explainer.explain(image, int(label))[0]
        np.testing.assert_allclose(explained.heatmap, class_activation_map(feature_maps, kernel[:, int(label)]))
    assert informative >= 6  # enough maps with a visible pattern for the check to mean something


def test_grad_cam_on_last_conv_is_a_valid_map(gap_cnn, samples):
    images, labels = samples
    heatmap = grad_cam(gap_cnn, images[0], int(labels[0]), find_last_conv_layer(gap_cnn))
    assert heatmap.shape == (3, 3) and heatmap.dtype == np.float32
    assert heatmap.min() >= 0.0 and heatmap.max() == pytest.approx(1.0)


# --------------------------------------------------------------- method choice


@pytest.mark.parametrize("name, methods, layer", [
    ("gap_cnn", (CAM, GRAD_CAM), "conv2d_5"),
    ("resnet", (CAM, GRAD_CAM), "conv2d_14"),
    ("tinyvgg", (GRAD_CAM,), "conv2d_2"),
    ("lenet", (GRAD_CAM,), "conv2d_1"),
    ("cnn64", (GRAD_CAM,), "conv2d_1"),
    ("dense", (), None),
])
def test_methods_follow_the_model_structure(name, methods, layer):
    model = build_model(name)
    explainer = CamExplainer(model, LayerGraph(model))
    assert explainer.methods == methods
    assert (explainer.conv_layer.name if explainer.conv_layer else None) == layer
    results = explainer.explain(np.zeros(model.input_shape[1:], np.float32), 3)
    assert [result.method for result in results] == list(methods)
    if not methods:
        assert "no convolutional layer" in explainer.why_none()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_gets_the_methods_its_structure_allows(name):
    model = build_model(name)
    explainer = CamExplainer(model, LayerGraph(model))
    has_conv = find_last_conv_layer(model) is not None
    assert (GRAD_CAM in explainer.methods) == has_conv
    assert (CAM in explainer.methods) == (has_conv and find_gap_layer(model) is not None)


def test_gap_not_feeding_the_classifier_means_grad_cam_only():
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((8, 8, 1)), layers.Conv2D(4, 3), layers.GlobalAveragePooling2D(),
        layers.Dense(6, activation="relu"), layers.Dense(10, activation="softmax"),
    ])
    assert CamExplainer(model, LayerGraph(model)).methods == (GRAD_CAM,)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_maps_of_a_loaded_model_match_the_original(hand_model, tmp_path, suffix):
    """A loaded Sequential model's layers carry stale graph nodes; the maps must not be affected."""
    from fashion_mnist_vis.models.model_io import load_model, save_model_atomic

    loaded = load_model(save_model_atomic(hand_model, tmp_path / f"hand{suffix}"))
    for original, reloaded in zip(CamExplainer(hand_model, LayerGraph(hand_model)).explain(IMAGE, 1), CamExplainer(loaded, LayerGraph(loaded)).explain(IMAGE, 1)):
        assert (original.method, original.layer_name) == (reloaded.method, reloaded.layer_name)
        np.testing.assert_allclose(reloaded.heatmap, original.heatmap, atol=1e-6)
