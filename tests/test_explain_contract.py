"""One contract for every explanation method on every registry architecture, legacy Keras 2 files,
models saved under mixed_bfloat16 and both engines.

A map is float32, finite, the input's size, in [0, 1]; its raw map is float32
and finite; the map of one class differs from another's (except Eigen-CAM,
which does not depend on the class, by definition); a method that cannot
apply says why in one line.
"""

import re

import numpy as np
import pytest

from classify_helpers import synthetic_data, trained_model_path
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.methods import METHODS, MethodSettings, applicable_methods, build_explainer
from fashion_mnist_vis.models.model_handle import keras_handle, open_model
from fashion_mnist_vis.models.registry import MODELS, build_model

CLASS_AGNOSTIC = {"eigencam"}
SETTINGS = MethodSettings(smoothgrad_samples=4, ig_steps=4, occlusion_patch=7, occlusion_stride=7)
"""Few samples, steps and patches: the contract does not depend on them, and the suite stays fast."""


@pytest.fixture(scope="module")
def images():
    pictures, labels = synthetic_data()
    return (pictures[:2].astype(np.float32) / 255.0)[..., None], labels[:2]


@pytest.fixture(scope="module", params=sorted(MODELS))
def handle(request):
    return open_model(trained_model_path(request.param), engine="keras")


def check_map(explanation, image, method):
    assert explanation.method == method
    assert explanation.heatmap.shape == image.shape[:2] and explanation.heatmap.dtype == np.float32
    assert np.isfinite(explanation.heatmap).all()
    assert explanation.heatmap.min() >= 0.0 and explanation.heatmap.max() <= 1.0
    assert explanation.raw.dtype == np.float32 and np.isfinite(explanation.raw).all()
    assert explanation.raw.ndim == 2
    assert explanation.heatmap.max() in (0.0, pytest.approx(1.0))  # no positive evidence, or normalised to 1


@pytest.mark.parametrize("method", METHODS)
def test_every_method_on_every_architecture(handle, method, images):
    reason = applicable_methods(handle)[method]
    if reason is not None:
        assert "\n" not in reason and handle.model.name in reason
        with pytest.raises(UserError, match="^" + re.escape(reason) + "$"):
            build_explainer(handle, method, settings=SETTINGS)
        return
    explainer = build_explainer(handle, method, settings=SETTINGS)
    image, label = images[0][0], int(images[1][0])
    first = explainer(image, label)
    check_map(first, image, method)
    other = explainer(image, (label + 1) % 10)
    check_map(other, image, method)
    if method in CLASS_AGNOSTIC:
        np.testing.assert_array_equal(first.raw, other.raw)
    else:
        scale = max(np.abs(first.raw).max(), np.abs(other.raw).max())
        assert np.abs(first.raw - other.raw).max() > 1e-3 * scale > 0, "the map does not depend on the class"


def test_what_applies_follows_the_structure():
    reasons = applicable_methods(keras_handle(build_model("dense")))
    assert [method for method, reason in reasons.items() if reason is None] == \
        [method for method in METHODS if method in {"saliency", "smoothgrad", "integrated-gradients", "occlusion"}]
    assert reasons["gradcam"] == "Grad-CAM (Selvaraju et al. 2017) needs a convolutional layer and model 'dense' has none"
    assert all(reason is None for reason in applicable_methods(keras_handle(build_model("resnet"))).values())
    tinyvgg = applicable_methods(keras_handle(build_model("tinyvgg")))
    assert [method for method, reason in tinyvgg.items() if reason is not None] == ["cam"]


@pytest.mark.parametrize("method", METHODS)
def test_numpy_and_keras_engines_agree(method, images):
    """With a NumPy handle, forward-only methods run NumPy and gradient methods the file's Keras model."""
    path = trained_model_path("gap_cnn")
    numpy_handle, keras_handle_ = open_model(path, engine="numpy"), open_model(path, engine="keras")
    assert numpy_handle.engine == "NumPy"
    image, label = images[0][1], int(images[1][1])
    from_numpy = build_explainer(numpy_handle, method, settings=SETTINGS)(image, label)
    from_keras = build_explainer(keras_handle_, method, settings=SETTINGS)(image, label)
    # float32 round-off of two engines; occlusion's logit drops on random weights are ~1e-5 of logits ~1
    np.testing.assert_allclose(from_numpy.raw, from_keras.raw, rtol=1e-3, atol=1e-2 * np.abs(from_keras.raw).max())


@pytest.fixture(scope="module")
def legacy_file(tmp_path_factory):
    from test_model_io import write_legacy_demo_model

    tf_keras = pytest.importorskip("tf_keras")
    path, _ = write_legacy_demo_model(tf_keras, tmp_path_factory.mktemp("legacy-explain"))
    return path


@pytest.mark.parametrize("engine", ["numpy", "keras"])
@pytest.mark.parametrize("method", METHODS)
def test_legacy_keras2_file(legacy_file, method, engine, images):
    handle = open_model(legacy_file, engine=engine)
    explanation = build_explainer(handle, method, settings=SETTINGS)(images[0][0], 4)
    check_map(explanation, images[0][0], method)


@pytest.fixture(scope="module")
def mixed_and_float32(tmp_path_factory):
    """tinyvgg built under mixed_bfloat16 and a float32 copy with the same weights: (mixed handle, float32 handle)."""
    from fashion_mnist_vis.models.model_io import save_model_atomic
    from fashion_mnist_vis.models.precision import precision_policy

    with precision_policy("mixed_bfloat16"):
        mixed = build_model("tinyvgg")
    rng = np.random.default_rng(3)
    mixed.set_weights([rng.normal(0, 0.3, w.shape) for w in mixed.get_weights()])
    float32 = build_model("tinyvgg")
    float32.set_weights(mixed.get_weights())
    path = save_model_atomic(mixed, tmp_path_factory.mktemp("mixed") / "mixed.keras")
    return mixed, open_model(path, engine="keras"), keras_handle(float32)


@pytest.mark.parametrize("method", [method for method in METHODS if method != "cam"])
def test_mixed_bfloat16_models_are_explained_in_float32(mixed_and_float32, method, images):
    mixed, saved, float32 = mixed_and_float32
    image = images[0][0]
    expected = build_explainer(float32, method, settings=SETTINGS)(image, 2)
    for handle in (saved, keras_handle(mixed)):
        explanation = build_explainer(handle, method, settings=SETTINGS)(image, 2)
        np.testing.assert_allclose(explanation.raw, expected.raw, rtol=1e-4, atol=1e-5 * np.abs(expected.raw).max())


@pytest.mark.parametrize("method, size", [("gradcam", 26), ("layercam", 26), ("scorecam", 26), ("eigencam", 26),
                                          ("hirescam", 13)])
def test_any_convolutional_layer_by_name(method, size, images):
    handle = open_model(trained_model_path("gap_cnn"), engine="keras")
    layer = "conv2d" if size == 26 else "batch_normalization"
    explanation = build_explainer(handle, method, layer=layer, settings=SETTINGS)(images[0][0], 1)
    assert explanation.layer_name == layer and explanation.raw.shape == (size, size)
    check_map(explanation, images[0][0], method)
