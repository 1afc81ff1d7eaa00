"""What training minimises and how: the loss, the optimizer and the learning-rate schedule.

The default recipe (chosen on the validation split of the real Fashion-MNIST,
see the README's "Training recipe" section):

* cross-entropy with label smoothing (Szegedy et al. 2016, "Rethinking the
  Inception architecture"): the target puts ``1 - s`` on the true class and
  ``s / 10`` on every class;
* AdamW (Loshchilov & Hutter 2019, "Decoupled weight decay regularization");
* a linear warm-up over the first epoch, then cosine decay to zero at the
  last epoch (Loshchilov & Hutter 2017, "SGDR"; Goyal et al. 2017 for the
  warm-up). The schedule counts optimizer steps, so it is saved with the
  optimizer and a resumed run continues it exactly.

``schedule="plateau"`` keeps the earlier recipe: a constant rate that a
``ReduceLROnPlateau`` callback halves when validation loss stalls.
"""

from dataclasses import dataclass

import keras

NUM_CLASSES = 10


@keras.saving.register_keras_serializable(package="fashion_mnist_vis")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer labels (B,) against probabilities (B, 10), with label smoothing.

    Keras's ``SparseCategoricalCrossentropy`` has no label smoothing; this
    one-hot encodes the labels and uses ``categorical_crossentropy``'s.
    With ``label_smoothing=0`` it equals the sparse loss.
    """

    def __init__(self, label_smoothing: float = 0.0, name: str = "smoothed_sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        labels = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), NUM_CLASSES)
        return keras.losses.categorical_crossentropy(
            labels, y_pred, label_smoothing=self.label_smoothing
        )

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


@dataclass(frozen=True)
class Optimisation:
    """The settings :func:`compile_for_training` needs (a view of ``TrainConfig``).

    ``steps_per_epoch`` and ``epochs`` size the cosine schedule; with
    ``steps_per_epoch=0`` the rate is constant (the learning-rate range test
    sets the rate itself, step by step).
    """

    learning_rate: float
    schedule: str = "cosine"
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    epochs: int = 1
    steps_per_epoch: int = 0


def learning_rate(settings: Optimisation):
    """The optimizer's learning rate: a float, or a cosine schedule over every step of the run.

    Cosine: from ``learning_rate / 100`` up to ``learning_rate`` linearly over
    the first epoch (at most a tenth of the run), then down to 0 along half a
    cosine by the last step.
    """
    if settings.schedule != "cosine" or settings.steps_per_epoch <= 0:
        return settings.learning_rate
    total = settings.steps_per_epoch * settings.epochs
    warmup = min(settings.steps_per_epoch, total // 10)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=settings.learning_rate / 100,
        decay_steps=max(1, total - warmup),
        alpha=0.0,
        warmup_target=settings.learning_rate,
        warmup_steps=warmup,
    )


def make_optimizer(settings: Optimisation):
    """AdamW with ``weight_decay`` (Adam when it is 0), at :func:`learning_rate`."""
    rate = learning_rate(settings)
    if settings.weight_decay > 0:
        return keras.optimizers.AdamW(learning_rate=rate, weight_decay=settings.weight_decay)
    return keras.optimizers.Adam(learning_rate=rate)


def make_loss(settings: Optimisation):
    """Smoothed cross-entropy, or Keras's plain sparse cross-entropy without smoothing."""
    if settings.label_smoothing > 0:
        return SmoothedSparseCrossentropy(settings.label_smoothing)
    return "sparse_categorical_crossentropy"
