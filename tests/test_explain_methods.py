"""Each explanation method on a tiny model with hand-set weights: the expected maps worked out by hand.

The model (input 2 x 2 x 1): a 1 x 1 convolution "conv" with kernel (1, -1)
and bias (0, 1) and a ReLU, so for pixels x in (0, 1) its two channels are
A0 = x and A1 = 1 - x; then Flatten and a softmax Dense "classifier" whose
kernel column for class c holds G0[c] (for A0) and G1[c] (for A1) at each
position. The logit of class c is therefore sum_ij G0[c] x + G1[c] (1 - x)
(no bias), and the gradient of that logit with respect to the conv's output
is exactly (G0[c], G1[c]) at every position.
"""

import keras
import numpy as np
import pytest

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.methods import MethodSettings, applicable_methods, build_explainer, upsample
from fashion_mnist_vis.explain.methods.base import target_weights
from fashion_mnist_vis.models.model_handle import keras_handle, open_model
from fashion_mnist_vis.models.model_io import save_model_atomic

X = np.array([[0.2, 0.6], [0.9, 0.4]])
IMAGE = X.astype(np.float32)[:, :, None]
G0 = {0: np.array([[1.0, 2.0], [-1.0, 0.0]]), 1: np.array([[0.0, 1.0], [1.0, 0.0]])}
G1 = {0: np.array([[0.5, -1.0], [1.0, 2.0]]), 1: np.array([[1.0, 0.0], [0.0, 1.0]])}
A0, A1 = X, 1.0 - X  # the conv's two channels: [[0.2, 0.6], [0.9, 0.4]] and [[0.8, 0.4], [0.1, 0.6]]


def hand_model(name, pooling, kernel, bias, conv=((1.0, -1.0), (0.0, 1.0))):
    """Input 2 x 2 x 1 -> "conv" (1 x 1, two channels, kernel and bias ``conv``, ReLU) -> ``pooling``
    layers -> softmax "classifier" with ``kernel`` and ``bias``."""
    model = keras.Sequential([
        keras.Input((2, 2, 1)),
        keras.layers.Conv2D(2, 1, activation="relu", name="conv"),
        *pooling,
        keras.layers.Dense(np.shape(kernel)[1], activation="softmax", name="classifier"),
    ], name=name)
    model.get_layer("conv").set_weights([np.array(conv[0]).reshape(1, 1, 1, 2), np.array(conv[1])])
    model.get_layer("classifier").set_weights([np.asarray(kernel), np.asarray(bias)])
    return model


@pytest.fixture(scope="module")
def hand():
    kernel = np.stack([np.stack([G0[c], G1[c]], axis=-1).reshape(-1) for c in (0, 1)], axis=1)  # flat (i, j, k)
    return keras_handle(hand_model("hand", [keras.layers.Flatten(name="flatten")], kernel, np.zeros(2)))


def explain(handle, method, class_index=0, contrast_index=None, **settings):
    return build_explainer(handle, method, settings=MethodSettings(**settings))(IMAGE, class_index, contrast_index)


# ------------------------------------------------------------------ the interface


def test_upsample_by_hand():
    # 1 x 2 -> 1 x 4, pixel centres aligned: output centres sit at 0.25, 0.75, 1.25, 1.75 input pixels
    # (minus the half pixel: -0.25, 0.25, 0.75, 1.25), i.e. 0 (clamped), 0.25, 0.75, 1 of the way from a to b.
    np.testing.assert_allclose(upsample(np.array([[0.0, 4.0]]), (1, 4)), [[0.0, 1.0, 3.0, 4.0]], atol=1e-6)
    same = upsample(np.array([[1, 2]], dtype=np.int64), (1, 2))
    assert same.dtype == np.float32 and same.tolist() == [[1.0, 2.0]]


def test_target_weights():
    assert target_weights(4, 2, None).tolist() == [0, 0, 1, 0]
    assert target_weights(4, 2, 0).tolist() == [-1, 0, 1, 0]


def test_settings_are_checked_without_naming_flags():
    with pytest.raises(UserError, match="smoothgrad_samples must be a whole number of at least 1, not 0"):
        MethodSettings(smoothgrad_samples=0)
    with pytest.raises(UserError, match="ig_baseline must be a finite number"):
        MethodSettings(ig_baseline=float("nan"))


def test_unknown_method_and_bad_calls(hand):
    with pytest.raises(UserError, match="unknown explanation method 'gradcam3'; choose from: cam, gradcam, gradcam"):
        build_explainer(hand, "gradcam3")
    explainer = build_explainer(hand, "gradcam")
    with pytest.raises(UserError, match=r"needs an image of shape \(2, 2, 1\), not \(3, 3, 1\)"):
        explainer(np.zeros((3, 3, 1), np.float32), 0)
    with pytest.raises(UserError, match="class 2 is out of range: the model has classes 0-1"):
        explainer(IMAGE, 2)
    with pytest.raises(UserError, match=r"contrast class must differ from the explained class \(1\)$"):
        explainer(IMAGE, 1, 1)  # a two-class model: only the label


def test_a_fashion_mnist_models_contrast_error_names_the_class():
    """explain.py IMAGE --contrast shirt on a photo predicted Shirt: the line names the class, not only "(6)"."""
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3, name="conv"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, name="classifier")])
    explainer = build_explainer(keras_handle(model), "gradcam")
    with pytest.raises(UserError, match=r"must differ from the explained class \('Shirt', 6\)$"):
        explainer(np.zeros((4, 4, 1), np.float32), 6, 6)


def test_layer_choice_errors(hand):
    with pytest.raises(UserError, match="has no layer 'conv9'; for Grad-CAM .* choose one of: conv$"):
        build_explainer(hand, "gradcam", layer="conv9")
    with pytest.raises(UserError, match="layer 'flatten' is not convolutional"):
        build_explainer(hand, "gradcam", layer="flatten")


def test_cam_does_not_apply_without_gap(hand):
    reasons = applicable_methods(hand)
    assert reasons["gradcam"] is None
    assert reasons["cam"] == ("CAM needs global average pooling feeding the classifier directly and model 'hand' "
                              "has none; use Grad-CAM")
    with pytest.raises(UserError, match="^CAM needs global average pooling"):
        build_explainer(hand, "cam")


# ------------------------------------------------------------------ CAM


@pytest.fixture(scope="module")
def gap_hand():
    """conv as above, then GAP and a Dense with kernel [[2, -1], [-1, 3]] (rows: channels) and biases (0.5, -0.5)."""
    pooling = [keras.layers.GlobalAveragePooling2D(name="gap"), keras.layers.Dropout(0.5, name="dropout")]
    return hand_model("gap_hand", pooling, [[2.0, -1.0], [-1.0, 3.0]], [0.5, -0.5])


@pytest.mark.parametrize("engine", ["keras", "numpy"])
def test_cam_by_hand(gap_hand, tmp_path, engine):
    handle = open_model(save_model_atomic(gap_hand, tmp_path / "gap.keras"), engine=engine)
    explanation = explain(handle, "cam", 0)
    # class 0: 2 A0 - A1 = [[0.4 - 0.8, 1.2 - 0.4], [1.8 - 0.1, 0.8 - 0.6]]
    np.testing.assert_allclose(explanation.raw, [[-0.4, 0.8], [1.7, 0.2]], atol=1e-6)
    np.testing.assert_allclose(explanation.heatmap, [[0.0, 0.8 / 1.7], [1.0, 0.2 / 1.7]], atol=1e-6)
    assert (explanation.method, explanation.layer_name, explanation.class_index) == ("cam", "conv", 0)
    # why 0 and not 1: (2 + 1) A0 + (-1 - 3) A1 = 3 A0 - 4 A1
    contrast = explain(handle, "cam", 0, 1)
    np.testing.assert_allclose(contrast.raw, [[0.6 - 3.2, 1.8 - 1.6], [2.7 - 0.4, 1.2 - 2.4]], atol=1e-6)
    assert contrast.contrast_index == 1


def test_cam_refuses_another_layer(gap_hand):
    with pytest.raises(UserError, match="CAM is exact only on the layer feeding global average pooling"):
        build_explainer(keras_handle(gap_hand), "cam", layer="gap")


# ------------------------------------------------------------------ the gradient CAM family


def test_gradcam_by_hand(hand):
    # alpha_k = mean of the gradients: class 0: mean(G0) = (1 + 2 - 1 + 0) / 4 = 0.5, mean(G1) = (0.5 - 1 + 1 + 2) / 4 = 0.625
    explanation = explain(hand, "gradcam", 0)
    expected = 0.5 * A0 + 0.625 * A1  # [[0.6, 0.55], [0.5125, 0.575]]
    np.testing.assert_allclose(explanation.raw, expected, atol=1e-6)
    np.testing.assert_allclose(explanation.heatmap, expected / 0.6, atol=1e-6)
    assert explanation.layer_name == "conv" and explanation.raw.dtype == explanation.heatmap.dtype == np.float32
    # why 0 and not 1: the gradients of logit 0 - logit 1, means (0.5 - 0.5) and (0.625 - 0.5)
    np.testing.assert_allclose(explain(hand, "gradcam", 0, 1).raw, 0.125 * A1, atol=1e-6)


def test_gradcam_plus_plus_by_hand(hand):
    # a_ij = G^2 / (2 G^2 + S_k G^3), S_0 = sum A0 = 2.1, S_1 = sum A1 = 1.9; w_k = sum_ij a_ij ReLU(G_ij).
    # channel 0, G0 = [[1, 2], [-1, 0]]: 1 / (2 + 2.1) * 1 + 4 / (8 + 2.1 * 8) * 2 (negative and zero G: 0)
    w0 = 1 / 4.1 + 8 / 24.8
    # channel 1, G1 = [[0.5, -1], [1, 2]]: 0.25 / (0.5 + 1.9 * 0.125) * 0.5 + 1 / (2 + 1.9) + 4 / (8 + 1.9 * 8) * 2
    w1 = 0.125 / 0.7375 + 1 / 3.9 + 8 / 23.2
    np.testing.assert_allclose(explain(hand, "gradcam++", 0).raw, w0 * A0 + w1 * A1, rtol=1e-5)


def test_hirescam_by_hand(hand):
    # sum_k G^k * A^k = G0 x + G1 (1 - x) = [[0.2 + 0.4, 1.2 - 0.4], [-0.9 + 0.1, 0 + 1.2]]
    explanation = explain(hand, "hirescam", 0)
    np.testing.assert_allclose(explanation.raw, [[0.6, 0.8], [-0.8, 1.2]], atol=1e-6)
    np.testing.assert_allclose(explanation.heatmap, [[0.5, 0.8 / 1.2], [0.0, 1.0]], atol=1e-6)


def test_layercam_by_hand(hand):
    # sum_k ReLU(G^k) * A^k = [[0.2 + 0.4, 1.2 + 0], [0 + 0.1, 0 + 1.2]]
    np.testing.assert_allclose(explain(hand, "layercam", 0).raw, [[0.6, 1.2], [0.1, 1.2]], atol=1e-6)


def test_contrastive_by_hand(hand):
    # The other class is the default B; Grad-CAM of logit 0 - logit 1 is 0.125 A1 (see test_gradcam_by_hand).
    explanation = explain(hand, "contrastive", 0)
    assert (explanation.class_index, explanation.contrast_index) == (0, 1)
    np.testing.assert_allclose(explanation.raw, 0.125 * A1, atol=1e-6)
    np.testing.assert_allclose(explain(hand, "contrastive", 1).raw, -0.125 * A1, atol=1e-6)


def test_contrastive_default_is_the_most_probable_other_class(gap_hand):
    """Three classes: the default contrast of the prediction is the runner-up, of another class the prediction."""
    three = hand_model("three", [keras.layers.GlobalAveragePooling2D()], np.array([[1.0, 2.0, 3.0], [0, 0, 0]]),
                       np.zeros(3))
    explainer = build_explainer(keras_handle(three), "contrastive")
    assert explainer(IMAGE, 2).contrast_index == 1 and explainer(IMAGE, 0).contrast_index == 2


def test_eigencam_by_hand():
    # conv kernel (1, 2), bias 0: A = x (1, 2), rank one; its first right singular vector is (1, 2) / sqrt(5),
    # so the projection is sqrt(5) x, the same for every class.
    model = hand_model("rank_one", [keras.layers.Flatten()], np.ones((8, 2)), np.zeros(2), conv=((1.0, 2.0), (0, 0)))
    explainer = build_explainer(keras_handle(model), "eigencam")
    for class_index in (0, 1):
        explanation = explainer(IMAGE, class_index)
        np.testing.assert_allclose(explanation.raw, np.sqrt(5.0) * X, rtol=1e-5)
        np.testing.assert_allclose(explanation.heatmap, X / 0.9, rtol=1e-5)
    assert explainer(IMAGE, 0, 1).contrast_index is None  # no class, so no contrast either


def test_scorecam_by_hand(hand):
    # Masks: each channel scaled to [0, 1]: H0 = (x - 0.2) / 0.7, H1 = ((1 - x) - 0.1) / 0.7.
    masks = [[[0.0, 4 / 7], [1.0, 2 / 7]], [[1.0, 3 / 7], [0.0, 5 / 7]]]

    def logits(z):  # the model by hand, for pixels z in [0, 1]
        return np.array([np.sum(G0[c] * z + G1[c] * (1 - z)) for c in (0, 1)])

    def probability_0(z):
        return 1.0 / (1.0 + np.exp(logits(z)[1] - logits(z)[0]))

    weights = [probability_0(X * np.array(mask)) - probability_0(np.zeros((2, 2))) for mask in masks]
    expected = weights[0] * A0 + weights[1] * A1
    np.testing.assert_allclose(explain(hand, "scorecam", 0).raw, expected, rtol=1e-5)


# ------------------------------------------------------------------ pixel methods

SLOPE_0 = G0[0] - G1[0]  # d logit_0 / dx = G0 (A0 = x) - G1 (A1 = 1 - x) = [[0.5, 3], [-2, -2]]


def test_saliency_by_hand(hand):
    explanation = explain(hand, "saliency", 0)
    np.testing.assert_allclose(explanation.raw, [[0.5, 3.0], [2.0, 2.0]], atol=1e-6)
    np.testing.assert_allclose(explanation.heatmap, [[0.5 / 3, 1.0], [2 / 3, 2 / 3]], atol=1e-6)
    assert explanation.layer_name is None


def test_smoothgrad_by_hand(hand):
    # Noise of 0.01 never moves a pixel (0.2-0.9) across a ReLU's kink: the gradient stays SLOPE_0.
    np.testing.assert_allclose(explain(hand, "smoothgrad", 0, smoothgrad_noise=0.01, smoothgrad_samples=8).raw,
                               np.abs(SLOPE_0), atol=1e-6)


def test_smoothgrad_averages_across_a_kink():
    """A pixel at 0 sits on relu(x)'s kink: its gradient is G0 where x + noise > 0, else 0 (TensorFlow's relu'(0) = 0)."""
    image = np.array([[0.0, 0.5], [0.5, 0.5]], np.float32)[:, :, None]
    model = hand_model("kink", [keras.layers.Flatten()], np.stack([np.tile([1.0, 0.0], 4)] * 2, axis=1),
                       np.zeros(2), conv=((1.0, 1.0), (0.0, 0.0)))
    explainer = build_explainer(keras_handle(model), "smoothgrad", settings=MethodSettings(smoothgrad_samples=40))
    noise = explainer.noise(image.shape)[:, 0, 0, 0]
    assert noise.std() == pytest.approx(0.15, rel=0.3) and (noise > 0).any() and (noise < 0).any()
    raw = explainer(image, 0).raw
    assert raw[0, 0] == pytest.approx(np.mean(noise > 0), abs=1e-6)  # the fraction of samples past the kink
    np.testing.assert_allclose(explainer(image, 0).raw, raw)  # the same noise every time


def test_integrated_gradients_by_hand(hand):
    # On the path s x (s > 0) the gradient is SLOPE_0 everywhere, so IG = x * SLOPE_0, and by completeness
    # its sum is logit_0(x) - logit_0(0) = (0.5 + 1.3) - 2.5 = -0.7.
    explanation = explain(hand, "integrated-gradients", 0, ig_steps=5)
    np.testing.assert_allclose(explanation.raw, [[0.1, 1.8], [-1.8, -0.8]], atol=1e-6)
    assert explanation.raw.sum() == pytest.approx(-0.7, abs=1e-5)
    # baseline 0.5: IG = (x - 0.5) * SLOPE_0 (every path point keeps both channels positive)
    np.testing.assert_allclose(explain(hand, "integrated-gradients", 0, ig_steps=3, ig_baseline=0.5).raw,
                               (X - 0.5) * SLOPE_0, atol=1e-6)


def test_occlusion_by_hand(hand):
    # Blacking out pixel ij changes A0 from x to 0 and A1 from 1 - x to 1: the logit drops by SLOPE_0 * x.
    one_pixel = explain(hand, "occlusion", 0, occlusion_patch=1, occlusion_stride=1)
    np.testing.assert_allclose(one_pixel.raw, [[0.1, 1.8], [-1.8, -0.8]], atol=1e-6)
    # One 2 x 2 patch covers everything: the whole drop, -0.7, for every pixel.
    np.testing.assert_allclose(explain(hand, "occlusion", 0, occlusion_patch=2).raw, np.full((2, 2), -0.7), atol=1e-6)
    # Stride 2 with 1-pixel patches covers only the top-left pixel; the others get 0.
    np.testing.assert_allclose(explain(hand, "occlusion", 0, occlusion_patch=1, occlusion_stride=2).raw,
                               [[0.1, 0.0], [0.0, 0.0]], atol=1e-6)
    # Grey (0.5) instead of black: the drop is SLOPE_0 * (x - 0.5).
    np.testing.assert_allclose(explain(hand, "occlusion", 0, occlusion_patch=1, occlusion_stride=1, occlusion_baseline=0.5).raw,
                               SLOPE_0 * (X - 0.5), atol=1e-6)


def test_gradients_are_traced_once(hand):
    """One traced function serves every class, contrast and batch size."""
    from fashion_mnist_vis.explain.methods.model_access import LogitGradients

    gradients = LogitGradients(hand, "conv", batch_size=3)
    for count, class_index, contrast in ((1, 0, None), (5, 1, 0), (2, 0, 1)):
        activations, values = gradients(np.repeat(IMAGE[None], count, axis=0), target_weights(2, class_index, contrast))
        assert activations.shape == values.shape == (count, 2, 2, 2)
        expected = G0[class_index] - (G0[contrast] if contrast is not None else 0)
        np.testing.assert_allclose(values[-1, :, :, 0], expected, atol=1e-6)
    assert gradients.traces == 1


def test_a_numpy_handle_opens_the_keras_model_once(gap_hand, tmp_path):
    handle = open_model(save_model_atomic(gap_hand, tmp_path / "gap.h5"), engine="numpy")
    first = build_explainer(handle, "saliency")
    keras_model = handle.keras_model
    build_explainer(handle, "gradcam")
    assert handle.engine == "NumPy" and handle.keras_model is keras_model and handle.model is not keras_model
    np.testing.assert_allclose(first(IMAGE, 0).raw, explain(keras_handle(gap_hand), "saliency", 0).raw, atol=1e-6)


def test_forward_methods_share_one_traced_function_per_layer():
    """CAM (on the GAP's input), occlusion and the contrastive choice (logits only), Score-CAM and
    Eigen-CAM (the last conv): three traced forward functions for five explainers."""
    from classify_helpers import trained_model_path

    handle = open_model(trained_model_path("gap_cnn"), engine="keras")
    image = np.zeros((28, 28, 1), np.float32)
    settings = MethodSettings(occlusion_patch=14, occlusion_stride=14)
    for method in ("cam", "occlusion", "contrastive", "scorecam", "eigencam"):
        build_explainer(handle, method, settings=settings)(image, 1)
    assert handle.keras_graph.traces == 3


def test_errors_name_the_settings_to_change(hand):
    """The explain command turns these into its flags (--layer, --methods)."""
    with pytest.raises(UserError) as unknown_layer:
        build_explainer(hand, "layercam", layer="nowhere")
    with pytest.raises(UserError) as not_applicable:
        build_explainer(hand, "cam")
    assert unknown_layer.value.settings == ("layer",) and not_applicable.value.settings == ("methods",)
