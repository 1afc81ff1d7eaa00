"""Deletion and insertion curves: exact values on a tiny model with hand-set weights, both engines."""

import keras
import numpy as np
import pytest

from fashion_mnist_vis.explain.faithfulness import (
    Curves,
    FaithfulnessSettings,
    area_under_curve,
    baseline_image,
    class_probabilities,
    curves_for_orders,
    explained_classes,
    image_faithfulness,
    map_curves,
    pixel_order,
    random_curves,
    random_order,
    replaced_images,
    step_counts,
    summarise,
)
from fashion_mnist_vis.models.model_handle import keras_handle, open_model
from fashion_mnist_vis.models.model_io import save_model_atomic

# A 2 x 2 image, Flatten -> Dense(2, softmax): class 0's logit is x00 + 2 x01 + 3 x10 + 4 x11,
# class 1's is 0, so P(class 0) = sigmoid(logit).
WEIGHTS = np.array([1.0, 2.0, 3.0, 4.0])
ONES = np.ones((2, 2, 1), dtype=np.float32)
MAP = np.array([[0.1, 0.2], [0.3, 0.4]])  # the most relevant pixel is (1, 1), weight 4
BLACK = FaithfulnessSettings(steps=4, baseline="black")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def trapezoid_quarters(values):
    """The area of five values at x = 0, 0.25, ..., 1, by the trapezoid rule."""
    return 0.25 * (values[0] / 2 + values[1] + values[2] + values[3] + values[4] / 2)


@pytest.fixture(scope="module")
def hand_model():
    model = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(name="flatten"),
                              keras.layers.Dense(2, activation="softmax", name="classifier")])
    model.get_layer("classifier").set_weights([np.stack([WEIGHTS, np.zeros(4)], axis=1), np.zeros(2)])
    return model


@pytest.fixture(scope="module", params=["keras", "numpy"])
def predict(request, hand_model, tmp_path_factory):
    """The hand model's probabilities, run by Keras in memory or by NumPy from a saved file."""
    if request.param == "keras":
        return class_probabilities(keras_handle(hand_model))
    path = save_model_atomic(hand_model, tmp_path_factory.mktemp("faithfulness") / "hand.keras")
    handle = open_model(path, "numpy")
    assert handle.engine == "NumPy"
    return class_probabilities(handle)


def test_deletion_and_insertion_by_hand(predict):
    result = image_faithfulness(predict, ONES, MAP, class_index=0, settings=BLACK)
    # Deleting (1,1), (1,0), (0,1), (0,0) in turn leaves logits 10, 6, 3, 1, 0;
    # inserting them in the same order gives 0, 4, 7, 9, 10.
    deletion, insertion = sigmoid([10, 6, 3, 1, 0]), sigmoid([0, 4, 7, 9, 10])
    np.testing.assert_allclose(result.ranked.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(result.ranked.deletion, deletion, rtol=1e-5)
    np.testing.assert_allclose(result.ranked.insertion, insertion, rtol=1e-5)
    assert result.ranked.deletion_auc == pytest.approx(trapezoid_quarters(deletion), rel=1e-5)
    assert result.ranked.insertion_auc == pytest.approx(trapezoid_quarters(insertion), rel=1e-5)
    assert result.class_index == 0
    assert result.ranked.deletion.dtype == np.float32


def test_class_1_curves_mirror_class_0(predict):
    result = image_faithfulness(predict, ONES, MAP, class_index=1, settings=BLACK)
    np.testing.assert_allclose(result.ranked.deletion, 1 - sigmoid([10, 6, 3, 1, 0]), rtol=1e-5, atol=1e-7)


def test_the_worst_order_scores_worse_than_the_best(predict):
    best = map_curves(predict, [ONES], [MAP], [0], BLACK)[0]
    worst = map_curves(predict, [ONES], [-MAP], [0], BLACK)[0]
    # Deleting the weight-1 pixel first: logits 10, 9, 7, 4, 0.
    np.testing.assert_allclose(worst.deletion, sigmoid([10, 9, 7, 4, 0]), rtol=1e-5)
    assert worst.deletion_auc > best.deletion_auc
    assert worst.insertion_auc < best.insertion_auc


def test_random_order_is_a_permutation_drawn_from_the_seed(predict):
    settings = FaithfulnessSettings(steps=4, baseline="black", seed=3)
    order = random_order(4, seed=3, image_index=0)
    assert sorted(order) == [0, 1, 2, 3]
    expected = np.cumsum([0] + [WEIGHTS[pixel] for pixel in order])  # logits as pixels are inserted
    curves = random_curves(predict, [ONES], [0], settings)[0]
    np.testing.assert_allclose(curves.insertion, sigmoid(expected), rtol=1e-5)
    np.testing.assert_array_equal(random_order(784, 3, 5), random_order(784, 3, 5))
    assert not np.array_equal(random_order(784, 3, 5), random_order(784, 3, 6))


def test_blur_baseline_of_a_flat_image_changes_nothing(predict):
    flat = np.full((2, 2, 1), 0.5, dtype=np.float32)
    result = image_faithfulness(predict, flat, MAP, 0, FaithfulnessSettings(steps=4, baseline="blur", blur_sigma=1.0))
    np.testing.assert_allclose(result.ranked.deletion, np.full(5, sigmoid(5.0)), rtol=1e-5)
    np.testing.assert_allclose(result.random.insertion, np.full(5, sigmoid(5.0)), rtol=1e-5)


def test_blur_spreads_a_point_as_a_gaussian():
    image = np.zeros((28, 28, 1), dtype=np.float32)
    image[14, 14, 0] = 1.0
    blurred = baseline_image(image, FaithfulnessSettings(baseline="blur", blur_sigma=1.0))
    # The sampled kernel is exp(-x^2 / 2) / sum over x = -4..4 (cut at 4 sigma), in each direction.
    one_d = np.exp(-np.arange(-4, 5) ** 2 / 2.0)
    one_d /= one_d.sum()
    assert blurred[14, 14, 0] == pytest.approx(one_d[4] ** 2, rel=1e-5)
    assert blurred[14, 15, 0] == pytest.approx(one_d[4] * one_d[5], rel=1e-5)
    assert blurred.sum() == pytest.approx(1.0, rel=1e-5)
    assert not baseline_image(image, FaithfulnessSettings(baseline="black")).any()


def test_step_counts_and_replaced_images():
    np.testing.assert_array_equal(step_counts(10, 4), [0, 2, 5, 8, 10])  # 2.5 -> 2, 7.5 -> 8
    assert set(np.diff(step_counts(784, 28))) == {28}
    image = np.arange(4, dtype=np.float32).reshape(2, 2, 1)
    walk = replaced_images(image, np.full_like(image, -1), np.array([3, 0, 2, 1]), steps=2)
    np.testing.assert_array_equal(walk[:, :, :, 0], [[[0, 1], [2, 3]], [[-1, 1], [2, -1]], [[-1, -1], [-1, -1]]])


def test_ties_are_broken_in_a_random_order_not_raster_order():
    heatmap = np.zeros((4, 4))
    heatmap[2, 1] = 1.0
    order = pixel_order(heatmap, seed=0)
    assert order[0] == 9
    assert sorted(order) == list(range(16))
    assert list(order[1:]) != sorted(order[1:])
    np.testing.assert_array_equal(order, pixel_order(heatmap, seed=0))


def test_batching_does_not_change_the_curves(predict):
    rng = np.random.default_rng(0)
    images = [rng.random((2, 2, 1)).astype(np.float32) for _ in range(5)]
    orders = [rng.permutation(4) for _ in range(5)]
    whole = curves_for_orders(predict, images, orders, [0, 1, 0, 1, 0], FaithfulnessSettings(steps=4))
    one_by_one = curves_for_orders(predict, images, orders, [0, 1, 0, 1, 0],
                                   FaithfulnessSettings(steps=4, batch_size=1))
    for a, b in zip(whole, one_by_one):
        np.testing.assert_allclose(a.deletion, b.deletion, rtol=1e-6)
        np.testing.assert_allclose(a.insertion, b.insertion, rtol=1e-6)


def test_summarise_averages_curves_and_areas():
    fractions = np.array([0.0, 0.5, 1.0])
    first = Curves(fractions, np.array([1.0, 0.5, 0.0], np.float32), np.array([0.0, 1.0, 1.0], np.float32))
    second = Curves(fractions, np.array([1.0, 1.0, 1.0], np.float32), np.array([0.0, 0.0, 1.0], np.float32))
    # Deletion areas 0.5 and 1.0; insertion areas 0.75 and 0.25.
    summary = summarise("gradcam", [first, second])
    assert (summary.method, summary.images) == ("gradcam", 2)
    assert summary.deletion_auc == pytest.approx(0.75)
    assert summary.insertion_auc == pytest.approx(0.5)
    assert summary.deletion_auc_sem == pytest.approx(0.25)  # std (ddof 1) 0.3536 / sqrt(2)
    assert summary.insertion_auc_sem == pytest.approx(0.25)
    np.testing.assert_allclose(summary.curves.deletion, [1.0, 0.75, 0.5])
    assert area_under_curve(fractions, [0.0, 1.0, 0.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        summarise("gradcam", [])


def test_explained_classes_are_the_predictions(predict):
    images = np.stack([ONES, -ONES])  # logits 10 and -10
    np.testing.assert_array_equal(explained_classes(predict, images, batch_size=1), [0, 1])
    np.testing.assert_array_equal(explained_classes(predict, images, labels=np.array([1, 1])), [1, 1])


@pytest.mark.parametrize("settings", [dict(steps=0), dict(baseline="grey"), dict(blur_sigma=0.0),
                                      dict(batch_size=0)])
def test_settings_refuse_bad_values(settings):
    with pytest.raises(ValueError):
        FaithfulnessSettings(**settings)
