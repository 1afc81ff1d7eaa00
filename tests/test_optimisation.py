"""The default recipe's parts: label-smoothed loss, warm-up + cosine schedule, AdamW, old run folders."""

import json
import math

import numpy as np
import pytest

from fashion_mnist_vis.training.optimisation import Optimisation, SmoothedSparseCrossentropy, learning_rate, make_loss, \
    make_optimizer
from fashion_mnist_vis.training.trainer import LEGACY_SETTINGS, RUN_CONFIG, TrainConfig, compile_model, optimisation_of


def test_smoothed_loss_by_hand():
    """Target 0.9 + 0.01 on the true class and 0.01 elsewhere (s = 0.1 over 10 classes)."""
    probabilities = np.full((1, 10), 0.05, np.float32)
    probabilities[0, 3] = 0.55
    loss = float(SmoothedSparseCrossentropy(0.1)(np.array([3]), probabilities))
    expected = -(0.91 * math.log(0.55) + 9 * 0.01 * math.log(0.05))
    assert loss == pytest.approx(expected, rel=1e-5)


def test_without_smoothing_the_loss_is_the_plain_sparse_cross_entropy():
    import keras

    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10), size=8).astype(np.float32)
    labels = rng.integers(0, 10, size=8)
    plain = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    assert float(SmoothedSparseCrossentropy(0.0)(labels, probabilities)) == pytest.approx(float(plain), rel=1e-5)
    assert make_loss(Optimisation(1e-3)) == "sparse_categorical_crossentropy"


def test_cosine_schedule_warms_up_over_the_first_epoch_then_decays_to_zero():
    schedule = learning_rate(Optimisation(2e-3, schedule="cosine", epochs=10, steps_per_epoch=100))
    rate = lambda step: float(schedule(step))  # noqa: E731
    assert rate(0) == pytest.approx(2e-5)  # a hundredth of the peak
    assert rate(50) == pytest.approx(2e-5 + (2e-3 - 2e-5) / 2, rel=1e-4)  # linear warm-up
    assert rate(100) == pytest.approx(2e-3)
    assert rate(100 + 450) == pytest.approx(1e-3, rel=1e-4)  # half-way down the cosine: half the peak
    assert rate(1000) == pytest.approx(0.0, abs=1e-9)


def test_plateau_or_no_steps_gives_a_constant_rate_and_weight_decay_picks_adamw():
    import keras

    assert learning_rate(Optimisation(1e-3, schedule="plateau", epochs=5, steps_per_epoch=10)) == 1e-3
    assert learning_rate(Optimisation(1e-3, schedule="cosine", epochs=5, steps_per_epoch=0)) == 1e-3
    assert isinstance(make_optimizer(Optimisation(1e-3, weight_decay=0.05)), keras.optimizers.AdamW)
    assert type(make_optimizer(Optimisation(1e-3))) is keras.optimizers.Adam


def test_a_compiled_model_with_the_recipe_saves_and_reloads_for_resuming(tmp_path):
    """The smoothed loss and the schedule survive a .keras round trip (as --resume needs), safe mode on."""
    import keras

    from fashion_mnist_vis.models.registry import build_model

    model = build_model("tinyvgg")
    config = TrainConfig(model="tinyvgg", epochs=3, label_smoothing=0.1, weight_decay=0.01)
    compile_model(model, optimisation_of(config, steps_per_epoch=4))
    images = np.random.default_rng(0).random((16, 28, 28, 1), np.float32)
    model.fit(images, np.arange(16) % 10, batch_size=8, epochs=1, verbose=0)  # two steps: builds the optimizer
    model.save(tmp_path / "last.keras")
    loaded = keras.models.load_model(tmp_path / "last.keras", compile=True, safe_mode=True)
    assert isinstance(loaded.loss, SmoothedSparseCrossentropy) and loaded.loss.label_smoothing == 0.1
    assert isinstance(loaded.optimizer, keras.optimizers.AdamW)
    assert int(loaded.optimizer.iterations) == 2  # the schedule continues where it was
    assert float(loaded.optimizer.learning_rate) == pytest.approx(float(model.optimizer.learning_rate))
    assert float(loaded.optimizer.learning_rate) > 1e-5  # the rate of step 2, not of step 0


def test_a_run_folder_from_before_the_recipe_resumes_with_its_old_settings(tmp_path):
    saved = {"model": "tinyvgg", "epochs": 3, "batch_size": 128, "learning_rate": 0.001, "augment": False,
             "seed": 42, "patience": 5}
    (tmp_path / RUN_CONFIG).write_text(json.dumps(saved))
    config = TrainConfig.load(tmp_path)
    assert (config.schedule, config.weight_decay, config.label_smoothing) == \
        (LEGACY_SETTINGS["schedule"], 0.0, 0.0) == ("plateau", 0.0, 0.0)
    assert config.photo_augment is False  # trained before photo augmentation existed
    assert TrainConfig().schedule == "cosine" and TrainConfig().photo_augment is True
