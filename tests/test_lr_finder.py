"""The learning-rate range test: schedule, smoothing, stopping and the suggestion, on hand-made curves."""

import numpy as np
import pytest

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.training.lr_finder import (
    has_diverged,
    learning_rate_schedule,
    run_range_test,
    smooth_losses,
    suggest_learning_rate,
)


def test_schedule_is_exponential_from_start_to_end():
    rates = learning_rate_schedule(7, 1e-6, 1.0)
    np.testing.assert_allclose(rates, [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    with pytest.raises(ValueError):
        learning_rate_schedule(1)


def test_smoothing_by_hand_and_bias_correction():
    # beta 0.5: raw averages 0.5*2 = 1, then 0.5*1 + 0.5*4 = 2.5; corrections 1-0.5 and 1-0.25.
    np.testing.assert_allclose(smooth_losses([2.0, 4.0], beta=0.5), [2.0, 2.5 / 0.75])
    np.testing.assert_allclose(smooth_losses([3.0] * 50, beta=0.9), [3.0] * 50)  # no pull towards 0


@pytest.mark.parametrize(
    "smoothed, diverged",
    [([2.0, 1.0, 3.9], False), ([2.0, 1.0, 4.1], True), ([2.0, float("nan")], True), ([], False)],
)
def test_divergence_is_four_times_the_best(smoothed, diverged):
    assert has_diverged(smoothed) is diverged


def _valley(rates, low=-3.0, noise=0.0, seed=0):
    """A hand-made range-test curve: flat at 2.3, falls in a valley whose bottom is at 10**low, then blows up."""
    x = np.log10(rates)
    curve = 2.3 - 1.8 / (1 + np.exp(-3 * (x - (low - 1.5)))) + 0.8 * np.maximum(0, x - low) ** 2
    return curve + noise * np.random.default_rng(seed).standard_normal(len(x))


def test_suggestion_is_a_tenth_of_the_minimum_on_a_clean_curve():
    rates = learning_rate_schedule(121)  # 20 points per decade: 1e-6, 10**-5.95, ...
    suggestion = suggest_learning_rate(rates, _valley(rates, low=-2.0))
    assert suggestion.min_loss_lr == pytest.approx(10**-2.0, rel=0.2)
    assert suggestion.learning_rate == pytest.approx(suggestion.min_loss_lr / 10)
    # the logistic fall is steepest at its midpoint, 1.5 decades below the minimum
    assert suggestion.steepest_lr == pytest.approx(10**-3.5, rel=0.15)
    assert suggestion.rule.startswith("min/10")


def test_suggestion_survives_batch_noise_after_smoothing():
    rates = learning_rate_schedule(150)
    smoothed = smooth_losses(_valley(rates, low=-2.5, noise=0.15, seed=3))
    suggestion = suggest_learning_rate(rates, smoothed)
    # the smoothed minimum lags the true one by well under a decade
    assert 10**-3.8 < suggestion.learning_rate < 10**-3.0


def test_a_curve_that_never_falls_or_is_too_short_is_refused():
    rates = learning_rate_schedule(30)
    with pytest.raises(UserError, match="never fell"):
        suggest_learning_rate(rates, np.linspace(2.3, 9.0, 30))
    with pytest.raises(UserError, match="only 5 usable steps"):
        suggest_learning_rate(rates[:5], np.linspace(2.3, 1.0, 5))


def test_range_test_on_a_keras_model_restores_its_weights():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0)
    before = [w.copy() for w in model.get_weights()]
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]  # 4 batches, cycled
    seen = []
    result = run_range_test(model, batches, steps=60, progress=lambda step, rate, loss: seen.append(step))
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert float(np.asarray(model.optimizer.learning_rate)) == pytest.approx(1e-3)
    assert len(result.losses) == len(result.learning_rates) == len(result.smoothed) == len(seen) <= 60
    assert 1e-6 <= result.suggestion.learning_rate <= 1.0
    assert set(result.as_dict()) >= {"suggested_learning_rate", "rule", "steps_run", "stopped_because"}
