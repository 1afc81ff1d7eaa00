"""Training a registered model: compile, callbacks, fit, resume.

The run folder holds everything one training run produces::

    RUN/run_config.json     the settings, so --resume can rebuild the same run
    RUN/history.csv         per-epoch metrics (Keras CSVLogger)
    RUN/tensorboard/        TensorBoard logs: scalars, histograms, images
    RUN/resume/             last.keras + state.json after every epoch
    RUN/metrics.json, *.png the evaluation report (see report.py)
    RUN/lr_finder.*         the learning-rate range test, when one ran
    RUN/embedding_snapshots.*  embeddings during training, with --embedding-snapshots

The best model (lowest validation loss) is written atomically to the
``output`` path each time it improves.
"""

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.data.datasets import Splits

RUN_CONFIG = "run_config.json"
RESUME_FOLDER = "resume"
SCHEDULES = ("cosine", "plateau")  # see optimisation.py
LEGACY_SETTINGS = {"schedule": "plateau", "weight_decay": 0.0, "label_smoothing": 0.0}
"""What a run_config.json written before these settings existed trained with."""


@dataclass
class TrainConfig:
    """Settings of one training run (saved as run_config.json)."""

    model: str = "gap_cnn"
    epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 1e-3
    augment: bool = True
    schedule: str = "cosine"  # see optimisation.py
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    seed: int = 42
    patience: int = 5
    target_accuracy: Optional[float] = None
    embedding_snapshots: Optional[int] = None
    output: str = "model.keras"
    data: Dict[str, object] = field(default_factory=dict)
    distribution: Dict[str, object] = field(default_factory=dict)  # Distribution.settings(): strategy, global batch
    precision: str = "auto"  # see precision.py; absent from older run_config.json files, whose models were float32

    def __post_init__(self) -> None:
        from fashion_mnist_vis.models.precision import PRECISIONS

        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; expected one of {', '.join(PRECISIONS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; expected one of {', '.join(SCHEDULES)}")

    def save(self, run_dir: Path) -> None:
        from fashion_mnist_vis.atomic import write_json_atomic

        write_json_atomic(Path(run_dir) / RUN_CONFIG, asdict(self))

    @classmethod
    def load(cls, run_dir: Path) -> "TrainConfig":
        path = Path(run_dir) / RUN_CONFIG
        try:
            return cls(**{**LEGACY_SETTINGS, **json.loads(path.read_text())})
        except FileNotFoundError:
            raise UserError(f"{run_dir} is not a run folder (no {RUN_CONFIG}); pass the folder train.py printed") from None
        except (ValueError, TypeError) as error:
            raise UserError(f"{path} is damaged: {error}") from None


@dataclass
class TrainingResult:
    """What fit produced: the trained model (best weights restored) and its history."""

    model: object
    history: Dict[str, List[float]]
    epochs_run: int
    seconds_per_epoch: List[float]
    stopped_because: str
    restarted: bool = False  # continued from a BackupAndRestore backup
    precision: str = "float32"  # the Keras dtype policy the model trained under


def load_data(config: TrainConfig) -> Splits:
    """Load and split the data ``config.data`` describes, and print a one-line summary of each split."""
    from fashion_mnist_vis.data.datasets import DataSettings, describe_counts, load_splits

    splits = load_splits(DataSettings.from_dict(config.data), config.seed)
    print(
        f"Data: {splits.source}\n"
        f"  train {describe_counts(splits.y_train)}; validation {describe_counts(splits.y_val)}; "
        f"test {describe_counts(splits.y_test)}",
        flush=True,
    )
    return splits


def compile_model(model, learning_rate, jit_compile="auto") -> None:
    """Compile with cross-entropy and accuracy, for ``learning_rate`` (a float: plain Adam) or an Optimisation.

    ``jit_compile="auto"`` is Keras's choice: XLA on GPUs, not on CPU-only
    machines (on a 2-core AVX2 CPU XLA made gap_cnn's training steps slower,
    33 against 81 images/s; see benchmarks/train_ab.py).
    Under ``mixed_float16`` Keras wraps the optimizer in loss scaling.
    """
    from fashion_mnist_vis.training.optimisation import Optimisation, make_loss, make_optimizer

    settings = learning_rate if isinstance(learning_rate, Optimisation) else \
        Optimisation(learning_rate, schedule="plateau")
    model.compile(
        optimizer=make_optimizer(settings),
        loss=make_loss(settings),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )


def optimisation_of(config: TrainConfig, steps_per_epoch: int = 0):
    """The loss, optimizer and schedule settings of ``config`` (constant rate when ``steps_per_epoch`` is 0)."""
    from fashion_mnist_vis.training.optimisation import Optimisation

    return Optimisation(
        learning_rate=config.learning_rate, schedule=config.schedule, weight_decay=config.weight_decay,
        label_smoothing=config.label_smoothing, epochs=config.epochs, steps_per_epoch=steps_per_epoch,
    )


def build_for_training(config: TrainConfig, steps_per_epoch: int = 0):
    """Build ``config.model`` under ``config.precision`` (auto resolved here), compile it, print the precision.

    ``steps_per_epoch`` sizes the learning-rate schedule (0: a constant rate,
    for the learning-rate range test).

    Returns the compiled model; its layers keep their dtype policy, the
    softmax layer computes in float32 (see models/registry.py).
    """
    from fashion_mnist_vis.models.registry import build_model
    from fashion_mnist_vis.models.precision import detect_precision, precision_policy

    precision = detect_precision(config.precision)
    with precision_policy(precision.policy):
        model = build_model(config.model)
    compile_model(model, optimisation_of(config, steps_per_epoch))
    print(f"Precision: {precision}", flush=True)
    return model


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

    from fashion_mnist_vis.data.pipeline import EVAL_BATCH_SIZE, make_dataset, steps_per_epoch
    from fashion_mnist_vis.models.precision import model_policy
    from fashion_mnist_vis.training.distribute import Distribution

    distribution = distribution or Distribution()
    keras.utils.set_random_seed(config.seed)
    batch_size = distribution.global_batch(config.batch_size)
    steps = steps_per_epoch(len(splits.y_train), batch_size)
    model, state, restarted_at = _starting_point(config, run_dir, resume, model, distribution, backup_dir, steps)
    initial_epoch = int(state["epochs_done"])
    if initial_epoch >= config.epochs:
        raise UserError(f"this run already did {initial_epoch} epochs; pass a larger --epochs to continue")
    watch = _callbacks(config, splits, run_dir, state, appending=resume or bool(restarted_at), backup_dir=backup_dir)

    train_data = distribution.shard(make_dataset(
        splits.x_train, splits.y_train, batch_size, training=True, augment=config.augment, seed=config.seed,
        epochs=range(initial_epoch, config.epochs),
    ))
    val_data = distribution.shard(make_dataset(splits.x_val, splits.y_val, max(batch_size, EVAL_BATCH_SIZE)))
    history = model.fit(
        train_data,
        validation_data=val_data,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps,
        callbacks=watch.callbacks,
        shuffle=False,  # the dataset draws each epoch's order from (seed, epoch)
        verbose=2 if _output_is_redirected() else 1,
    )
    losses = history.history.get("loss", [])
    if any(not math.isfinite(value) for value in losses):
        raise UserError(
            f"the training loss became NaN in epoch {initial_epoch + len(losses)}; "
            f"try a lower --learning-rate (the best model so far is in {config.output})"
        )
    return TrainingResult(
        model=model,
        history=watch.resume_state.history,
        epochs_run=initial_epoch + len(losses),
        seconds_per_epoch=watch.timer.seconds,
        stopped_because=watch.stopped_because(config),
        restarted=bool(restarted_at),
        precision=model_policy(model),
    )


def _starting_point(config: TrainConfig, run_dir: Path, resume: bool, model, distribution, backup_dir, steps: int):
    """(model, state, epochs restored from a backup or 0): the model to train and where it stands.

    ``state`` holds epochs_done, best_val_loss, history and, when resumed, the
    callbacks' counters (see :func:`fit`).
    """
    from fashion_mnist_vis.models.precision import model_policy
    from fashion_mnist_vis.training.callbacks import read_resume_state
    from fashion_mnist_vis.training.distribute import backup_epochs

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
    from fashion_mnist_vis.training.distribute import backup_callback

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
    from fashion_mnist_vis.training.distribute import truncate_csv, truncate_history

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
        raise UserError("--embedding-snapshots needs validation images; use a --val-split above 0")
    images, labels = stratified_subset(splits.x_val, splits.y_val, SNAPSHOT_IMAGES, config.seed)
    return EmbeddingSnapshots(run_dir, images, labels, every=config.embedding_snapshots)


def find_learning_rate(config: TrainConfig, splits: Splits, steps: int, progress=None):
    """Run the learning-rate range test (see lr_finder.py) on a new ``config.model``.

    The model is built with ``config.seed`` exactly as :func:`fit` would
    build it, and its initial weights are restored after the test.

    Returns:
        (RangeTestResult, model): the model is compiled and has its initial
        weights; pass it to :func:`fit` to train it.
    """
    import keras

    from fashion_mnist_vis.training.lr_finder import run_range_test
    from fashion_mnist_vis.data.pipeline import make_dataset

    keras.utils.set_random_seed(config.seed)
    model = build_for_training(config)
    batches = make_dataset(
        splits.x_train, splits.y_train, config.batch_size, training=True, augment=config.augment, seed=config.seed
    )
    return run_range_test(model, batches, steps=steps, progress=progress), model


def training_metrics(config: TrainConfig, splits: Splits, result: TrainingResult, run_dir: Path) -> Dict[str, object]:
    """The metrics.json entries that describe a training run: timing, stopping, settings, data."""
    seconds = result.seconds_per_epoch
    mean_seconds = sum(seconds) / len(seconds) if seconds else float("nan")
    return {
        "model": config.model,
        "epochs_run": result.epochs_run,
        "stopped_because": result.stopped_because,
        "seconds_per_epoch": round(mean_seconds, 3),
        "seconds_per_epoch_each": [round(s, 3) for s in seconds],
        "train_images_per_second": round(len(splits.y_train) / mean_seconds, 1) if seconds else None,
        "best_val_loss": min(result.history.get("val_loss", [float("nan")])),
        "precision": result.precision,
        "seed": config.seed,
        "learning_rate": config.learning_rate,
        "settings": {k: v for k, v in vars(config).items() if k != "data"},
        "dataset": {
            "source": splits.source,
            **config.data,
            "train_images": int(len(splits.y_train)),
            "validation_images": int(len(splits.y_val)),
            "test_images": int(len(splits.y_test)),
            "checksums": splits.checksums,
        },
        "resume_folder": str(Path(run_dir) / RESUME_FOLDER),
    }


def train_and_evaluate(
    config: TrainConfig,
    splits: Splits,
    run_dir: Path,
    resume: bool = False,
    model=None,
    extra: Optional[Dict[str, object]] = None,
    distribution=None,
    backup_dir: Optional[Path] = None,
) -> Tuple[TrainingResult, Dict[str, object]]:
    """:func:`fit`, keep the best model at ``config.output``, and write the report into ``run_dir``.

    The report always evaluates the saved best model, reloaded from
    ``config.output`` with :func:`model_io.load_model` (float32, on one
    device): the same figures whether the run was interrupted, restarted,
    distributed or trained under a mixed precision policy, and the same as
    ``evaluate --saved-model`` gives for that file.

    Returns:
        (TrainingResult, report): the report is what
        :func:`report.write_report` returns (metrics, ``files``, ``notes``),
        with ``extra`` added to metrics.json.

    Raises:
        KeyboardInterrupt: on Ctrl-C during training (the best model so far is on disk).
    """
    from fashion_mnist_vis.training.embedding_snapshots import ANIMATION_FILE, SMALL_MULTIPLES_FILE
    from fashion_mnist_vis.models.model_io import load_model, save_model_atomic
    from fashion_mnist_vis.training.report import write_report

    result = fit(config, splits, run_dir, resume=resume, model=model, distribution=distribution, backup_dir=backup_dir)
    if not (resume or result.restarted):  # else the overall best may predate this session; the file holds it
        save_model_atomic(result.model, config.output)
    # One rule for every run, interrupted or not, distributed or not: the report evaluates the
    # model file as users load it (float32, whatever the training precision), so metrics.json
    # gives the figures that `evaluate --saved-model` prints for that file.
    report = write_report(
        load_model(config.output), run_dir, splits.x_test, splits.y_test, result.history,
        extra={**training_metrics(config, splits, result, run_dir), **(extra or {})},
    )
    if config.embedding_snapshots:
        report["files"].extend(name for name in (ANIMATION_FILE, SMALL_MULTIPLES_FILE)
                               if (Path(run_dir) / name).exists())
    return result, report


def _load_resume_point(resume_dir: Path, read_state):
    import keras

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


def new_run_dir(logdir: Path, model_name: str) -> Path:
    """Create and return ``logdir/<model>-<YYYYmmdd-HHMMSS>`` (suffixed if taken)."""
    if Path(logdir).exists() and not Path(logdir).is_dir():
        raise UserError(f"--logdir {str(logdir)!r} is a file, not a folder")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(100):
        candidate = Path(logdir) / (f"{model_name}-{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            candidate.mkdir(parents=True, exist_ok=False)
            return candidate
        except FileExistsError:
            continue
        except OSError as error:
            raise UserError(f"cannot create the run folder {candidate}: {error.strerror or error}") from None
    raise UserError(f"cannot find a free run folder name in {logdir}")
