"""Training a registered model: settings, compile, the run folder, train and evaluate (fit: loop.py).

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
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.data.datasets import Splits

RUN_CONFIG = "run_config.json"
RESUME_FOLDER = "resume"
SCHEDULES = ("cosine", "plateau")  # see optimisation.py
LEGACY_SETTINGS = {"schedule": "plateau", "weight_decay": 0.0, "label_smoothing": 0.0, "photo_augment": False}
"""What a run_config.json written before these settings existed trained with."""


@dataclass
class TrainConfig:
    """Settings of one training run (saved as run_config.json)."""

    model: str = "gap_cnn"
    epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 4e-3  # the default recipe, chosen on the validation split (README: the default recipe)
    augment: bool = True
    photo_augment: bool = True  # rotations, zoom, shadows (data/photo_augment.py); needs augment
    schedule: str = "cosine"  # see optimisation.py
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
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

    def augmentation_summary(self) -> str:
        """In words, e.g. 'shifts, flips, erasing, rotations, zoom, shadows' or 'off'."""
        if not self.augment:
            return "off"
        return "shifts, flips, erasing" + (", rotations, zoom, shadows" if self.photo_augment else "")

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
        splits.x_train, splits.y_train, config.batch_size, training=True, augment=config.augment,
        photo_augment=config.photo_augment, seed=config.seed,
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
    ``evaluate --saved-model`` gives for that file. A model trained with
    augmentation (horizontal flips) is scored with each test image averaged
    with its mirror image, as classify and evaluate predict; metrics.json
    keeps the accuracy of the images alone in ``test_accuracy_alone``.

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

    from fashion_mnist_vis.training.loop import fit

    result = fit(config, splits, run_dir, resume=resume, model=model, distribution=distribution, backup_dir=backup_dir)
    if not (resume or result.restarted):  # else the overall best may predate this session; the file holds it
        save_model_atomic(result.model, config.output)
    # One rule for every run, interrupted or not, distributed or not: the report evaluates the
    # model file as users load it (float32, whatever the training precision), so metrics.json
    # gives the figures that `evaluate --saved-model` prints for that file.
    # A model trained with flips is scored as classify and evaluate predict: each image averaged with
    # its mirror image (chosen on the validation split: +0.1 to +0.55 points for every flip-trained
    # gap_cnn measured, -0.3 for one trained without flips); metrics.json keeps the images alone too.
    report = write_report(
        load_model(config.output), run_dir, splits.x_test, splits.y_test, result.history,
        extra={**training_metrics(config, splits, result, run_dir), **(extra or {})},
        mirror_average=config.augment,
    )
    if config.embedding_snapshots:
        report["files"].extend(name for name in (ANIMATION_FILE, SMALL_MULTIPLES_FILE)
                               if (Path(run_dir) / name).exists())
    return result, report


def new_run_dir(logdir: Path, model_name: str) -> Path:
    """Create and return ``logdir/<model>-<YYYYmmdd-HHMMSS>`` (suffixed if taken)."""
    if Path(logdir).exists() and not Path(logdir).is_dir():
        raise UserError(f"log folder {str(logdir)!r} is a file, not a folder", settings=("logdir",))
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
