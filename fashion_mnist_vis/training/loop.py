"""The training loop: :func:`fit` trains per a :class:`~fashion_mnist_vis.training.trainer.TrainConfig`.

It builds the model (or resumes it from ``RUN/resume``, or restarts it from a
backup), sets up the callbacks in the order they must run (checkpoint, early
stopping, logs, timing, resume state, backup) and runs Keras's ``fit`` on the
tf.data pipeline, with each epoch's shuffling and augmentation drawn from
(seed, epoch) so a resumed run equals an uninterrupted one.
"""

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from fashion_mnist_vis.data.datasets import Splits
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.training.trainer import (
    RESUME_FOLDER,
    TrainConfig,
    TrainingResult,
    build_for_training,
    compile_model,
    optimisation_of,
)


def fit(
    config: TrainConfig,
    splits: Splits,
    run_dir: Path,
    resume: bool = False,
    model=None,
    distribution=None,
    backup_dir: Optional[Path] = None,
) -> TrainingResult:
    """Train per ``config`` on ``splits``, writing checkpoints and logs into ``run_dir``.

    With ``resume``, continue from ``run_dir/resume`` (weights, optimizer
    state, epochs done, best validation loss, history). Otherwise ``model``,
    if given, is trained (recompiled with ``config.learning_rate``) instead
    of a newly built one, e.g. the model a learning-rate range test used.

    ``distribution`` (a :class:`distribute.Distribution`; default: one
    device) builds the model in its strategy's scope and feeds batches of
    ``config.batch_size`` per replica. With ``backup_dir``, the training
    state is backed up there after every epoch
    (``keras.callbacks.BackupAndRestore``) and a backup left by an
    interrupted run is restored first.

    Raises:
        UserError: if the loss became NaN, or the resume state is unusable.
        KeyboardInterrupt: on Ctrl-C; the best model and resume state so far are on disk.
    """
    import keras

    from fashion_mnist_vis.data.pipeline import steps_per_epoch
    from fashion_mnist_vis.models.precision import model_policy
    from fashion_mnist_vis.training.distribute import Distribution

    distribution = distribution or Distribution()
    keras.utils.set_random_seed(config.seed)
    batch_size = distribution.global_batch(config.batch_size)
    steps = steps_per_epoch(len(splits.y_train), batch_size)
    model, state, restarted_at = _starting_point(config, run_dir, resume, model, distribution, backup_dir, steps)
    initial_epoch = int(state["epochs_done"])
    if initial_epoch >= config.epochs:
        raise UserError(f"this run already did {initial_epoch} epochs; ask for more epochs to continue",
                        settings=("epochs",))
    watch = _callbacks(config, splits, run_dir, state, appending=resume or bool(restarted_at), backup_dir=backup_dir)

    losses = _run_epochs(model, config, splits, distribution, (batch_size, steps), initial_epoch, watch.callbacks)
    return TrainingResult(
        model=model,
        history=watch.resume_state.history,
        epochs_run=initial_epoch + len(losses),
        seconds_per_epoch=watch.timer.seconds,
        stopped_because=watch.stopped_because(config),
        restarted=bool(restarted_at),
        precision=model_policy(model),
    )



def _run_epochs(model, config: TrainConfig, splits: Splits, distribution, batching, initial_epoch: int,
                callbacks) -> list:
    """Keras's ``fit`` from epoch ``initial_epoch`` to ``config.epochs`` on the tf.data datasets, sharded
    by ``distribution``; ``batching`` is (global batch size, steps per epoch). The training batches
    are shuffled and augmented per (seed, epoch), the validation batches hold at least
    :data:`~fashion_mnist_vis.data.pipeline.EVAL_BATCH_SIZE` images.

    Returns:
        The training loss of each epoch run.

    Raises:
        UserError: if the loss became NaN.
    """
    from fashion_mnist_vis.data.pipeline import EVAL_BATCH_SIZE, make_dataset
    from fashion_mnist_vis.training.interrupts import InterruptCheck, interrupt_latch

    batch_size, steps = batching
    train_data = distribution.shard(make_dataset(
        splits.x_train, splits.y_train, batch_size, training=True, augment=config.augment,
        photo_augment=config.photo_augment, seed=config.seed,
        epochs=range(initial_epoch, config.epochs),
    ))
    val_data = distribution.shard(make_dataset(splits.x_val, splits.y_val, max(batch_size, EVAL_BATCH_SIZE)))
    with interrupt_latch() as interrupts:  # a Ctrl-C swallowed by a weakref callback still stops the run
        history = model.fit(
            train_data,
            validation_data=val_data,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps,
            callbacks=[*callbacks, InterruptCheck(interrupts)],
            shuffle=False,  # the dataset draws each epoch's order from (seed, epoch)
            verbose=2 if _output_is_redirected() else 1,
        )
    losses = history.history.get("loss", [])
    _check_finite(losses, initial_epoch, config.output)
    return losses


def _check_finite(losses, initial_epoch: int, output: Path) -> None:
    """Raise a :class:`UserError` if an epoch's training loss (``losses``, from epoch
    ``initial_epoch + 1`` on) is NaN or infinite; the best model so far is in ``output``."""
    if any(not math.isfinite(value) for value in losses):
        raise UserError(
            f"the training loss became NaN in epoch {initial_epoch + len(losses)} (the best model so far "
            f"is in {output}); try a lower learning rate",
            settings=("learning_rate",),
        )

def _starting_point(config: TrainConfig, run_dir: Path, resume: bool, model, distribution, backup_dir, steps: int):
    """(model, state, epochs restored from a backup or 0): the model to train and where it stands.

    ``state`` holds epochs_done, best_val_loss, history and, when resumed, the
    callbacks' counters (see :func:`fit`).
    """
    from fashion_mnist_vis.models.precision import model_policy
    from fashion_mnist_vis.training.callbacks import read_resume_state
    from fashion_mnist_vis.training.backup_restore import backup_epochs

    fresh = {"epochs_done": 0, "best_val_loss": None, "history": {}}
    with distribution.scope():
        if resume:
            model, state = _load_resume_point(Path(run_dir) / RESUME_FOLDER, read_resume_state)
            print(f"Precision: {model_policy(model)} (the resumed model's)", flush=True)
        elif model is not None:
            compile_model(model, optimisation_of(config, steps))
            state = fresh
        else:
            model = build_for_training(config, steps)
            state = fresh
    restarted_at = backup_epochs(backup_dir)
    if restarted_at:
        state = _restart_state(run_dir, restarted_at)
    return model, state, restarted_at


@dataclass
class _Watchers:
    """The callbacks of one :func:`fit`, and the ones it asks afterwards why training stopped."""

    callbacks: list
    timer: object
    resume_state: object
    early_stopping: object
    target: object = None

    def stopped_because(self, config: TrainConfig) -> str:
        if self.target and self.target.reached_at_epoch:
            return f"validation accuracy reached {config.target_accuracy}"
        if self.early_stopping.stopped_epoch:
            return f"early stopping (no val_loss improvement for {config.patience} epochs)"
        return f"all {config.epochs} epochs done" if config.epochs != 1 else "the 1 epoch asked for is done"


def _callbacks(config: TrainConfig, splits: Splits, run_dir: Path, state: dict, appending: bool,
               backup_dir: Optional[Path]) -> _Watchers:
    """Checkpoint, early stopping, logs, timing and resume state, in the order they must run."""
    import keras

    from fashion_mnist_vis.training.callbacks import (
        BestModelCheckpoint,
        EpochSeeds,
        EpochTimer,
        ResumeState,
        TargetAccuracyStop,
        TensorBoardImages,
    )
    from fashion_mnist_vis.training.backup_restore import backup_callback

    best = state["best_val_loss"]
    checkpoint = BestModelCheckpoint(Path(config.output), best=best if best is not None else math.inf)
    target = TargetAccuracyStop(config.target_accuracy) if config.target_accuracy else None
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=config.patience, restore_best_weights=True, verbose=1
    )
    stateful = {"early_stopping": early_stopping}
    if config.schedule == "plateau":  # the cosine schedule lives in the optimizer instead
        stateful["reduce_lr"] = keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=max(1, config.patience // 2), min_lr=1e-6, verbose=1
        )
    resume_state = ResumeState(
        Path(run_dir) / RESUME_FOLDER, history=state["history"], checkpoint=checkpoint,
        stateful=stateful, restore=state.get("callbacks"),
        best_weights=lambda: _best_weights(config.output),
    )
    timer = EpochTimer(config.epochs)
    callbacks = [
        EpochSeeds(config.seed),
        keras.callbacks.TerminateOnNaN(),
        checkpoint,
        *([target] if target else []),
        early_stopping,
        *([_embedding_snapshots(config, splits, run_dir)] if config.embedding_snapshots else []),
        *[callback for name, callback in stateful.items() if name != "early_stopping"],
        keras.callbacks.CSVLogger(str(Path(run_dir) / "history.csv"), append=appending),
        keras.callbacks.TensorBoard(
            log_dir=str(Path(run_dir) / "tensorboard"), histogram_freq=1, update_freq="epoch", write_graph=False
        ),
        TensorBoardImages(Path(run_dir) / "tensorboard", splits.x_val, splits.y_val),
        timer,
        resume_state,
    ]
    if backup_dir is not None:  # last: an epoch counts as done once everything else recorded it
        callbacks.append(backup_callback(backup_dir))
    return _Watchers(callbacks, timer, resume_state, early_stopping, target)


def _restart_state(run_dir: Path, epochs: int) -> dict:
    """The resume state after a restart from a backup of ``epochs`` epochs.

    History (state.json and history.csv) is cut back to those epochs, so an
    epoch that finished after the backup and is trained again counts once.
    """
    from fashion_mnist_vis.training.callbacks import read_resume_state
    from fashion_mnist_vis.training.backup_restore import truncate_csv, truncate_history

    try:
        history = truncate_history(read_resume_state(Path(run_dir) / RESUME_FOLDER)["history"], epochs)
    except (OSError, ValueError, KeyError):
        history = {}
    truncate_csv(Path(run_dir) / "history.csv", epochs)
    val_losses = history.get("val_loss") or [math.inf]
    return {"epochs_done": epochs, "best_val_loss": min(val_losses), "history": history}


def _embedding_snapshots(config: TrainConfig, splits: Splits, run_dir: Path):
    """The snapshot callback on a fixed, stratified subset of the validation images."""
    from fashion_mnist_vis.training.callbacks import EmbeddingSnapshots
    from fashion_mnist_vis.data.datasets import stratified_subset
    from fashion_mnist_vis.training.embedding_snapshots import SNAPSHOT_IMAGES

    if len(splits.y_val) == 0:
        raise UserError("embedding snapshots need validation images; hold out a validation fraction above 0",
                        settings=("embedding_snapshots", "val_split"))
    images, labels = stratified_subset(splits.x_val, splits.y_val, SNAPSHOT_IMAGES, config.seed)
    return EmbeddingSnapshots(run_dir, images, labels, every=config.embedding_snapshots)


def _load_resume_point(resume_dir: Path, read_state):
    import keras

    from . import optimisation  # noqa: F401  registers the smoothed loss that last.keras names

    try:
        state = read_state(resume_dir)
        model = keras.models.load_model(resume_dir / "last.keras", compile=True, safe_mode=True)
    except (OSError, ValueError) as error:
        raise UserError(f"cannot resume from {resume_dir}: {error}") from None
    return model, state


def _best_weights(path: str):
    """The weights of the best model saved so far (for a resumed early stopping to restore)."""
    from fashion_mnist_vis.models.model_io import load_model

    return load_model(path).get_weights()


def _output_is_redirected() -> bool:
    """Keras's live progress bar garbles logs; use one line per epoch when not on a terminal."""
    import sys

    return not sys.stdout.isatty()
