"""Train a model on Fashion-MNIST (or synthetic look-alike data) and write an evaluation report.

Run as ``python -m fashion_mnist_vis.train`` or ``python fashion_mnist_vis/train.py``.
"""

import argparse
import re
import sys
from pathlib import Path
from typing import Optional, Sequence, Tuple

from fashion_mnist_vis.atomic import check_writable_folder
from fashion_mnist_vis.commands import cli
from fashion_mnist_vis.commands.cli import (
    add_data_arguments, add_precision_argument, data_settings_from_args, number_in_range, open_fraction, positive_float,
    positive_int,
)
from fashion_mnist_vis.training.distribute import CPU_DEVICES_ENV, STRATEGIES
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.models.keras_runtime import import_tensorflow
from fashion_mnist_vis.training.lr_finder import DEFAULT_STEPS, MIN_STEPS
from fashion_mnist_vis.models.registry import DEFAULT_MODEL, MODELS, models_help
from fashion_mnist_vis.training.presets import PRESET_EPOCHS, PRESETS, preset_epochs
from fashion_mnist_vis.training.trainer import SCHEDULES, TrainConfig

PROG = "train.py"
DEFAULTS = TrainConfig()
non_negative_float = number_in_range(float, low=0)
smoothing = number_in_range(float, low=0, high=0.5)
DEVICE_PATTERN = re.compile(r"^(?:/?(?:device:)?)?(CPU|GPU):(\d+)$", re.IGNORECASE)
"""One device name of --devices: CPU:N or GPU:N, any case, optionally as TensorFlow's /device:GPU:N."""


def epochs_of_preset(preset: str, precision: str) -> int:
    """The epochs of ``preset`` for training at ``precision`` (``auto`` resolved for this machine); prints the choice."""
    from fashion_mnist_vis.models.precision import detect_precision

    epochs, why = preset_epochs(preset, detect_precision(precision).policy)
    print(f"Epochs: {epochs} (--preset {why})", flush=True)
    return epochs


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser(
        PROG,
        "Train a CNN on Fashion-MNIST, keep the best model (lowest validation loss), "
        "log to TensorBoard and write an evaluation report (metrics.json and plots) into a run folder.",
    )
    model = parser.add_argument_group("model and optimisation")
    model.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL, help=models_help())
    model.add_argument("--epochs", type=positive_int, default=None,
                       help="maximum number of epochs (default: the --preset's; with --resume, the saved value)")
    model.add_argument("--preset", choices=PRESETS, default="auto",
                       help=f"the epoch budget of the recipe: long: {PRESET_EPOCHS['long']} epochs (the most "
                       f"accurate); full: {PRESET_EPOCHS['full']}; quick: {PRESET_EPOCHS['quick']}, for a first look; "
                       "auto: long where training computes in 16 bits (a GPU, or a CPU with bfloat16 units), "
                       "else full, so a 2-core CPU without them finishes well under an hour (see the README's "
                       "recipe section)")
    model.add_argument("--batch-size", "--batch_size", type=positive_int, default=128, help="images per training step")
    model.add_argument("--learning-rate", "--learning_rate", "--lr", type=learning_rate_or_auto,
                       default=DEFAULTS.learning_rate,
                       help="peak learning rate (see --schedule); 'auto' runs the learning-rate range test first "
                       "and trains with its suggestion")
    model.add_argument("--schedule", choices=SCHEDULES, default=DEFAULTS.schedule,
                       help="cosine: warm up over the first epoch, then decay along a cosine to 0 at the last "
                       "epoch; plateau: constant, halved when validation loss stalls for patience // 2 epochs")
    model.add_argument("--weight-decay", "--weight_decay", type=non_negative_float, default=DEFAULTS.weight_decay,
                       help="AdamW's decoupled weight decay (0: plain Adam)")
    model.add_argument("--label-smoothing", "--label_smoothing", type=smoothing, default=DEFAULTS.label_smoothing,
                       help="share of each target spread evenly over the 10 classes (0: none)")
    model.add_argument("--lr-find", "--lr_find", action="store_true",
                       help="only run the learning-rate range test (rate rising from 1e-6 to 1), plot the loss "
                       "against it, print the suggested rate and exit; no model is kept")
    model.add_argument("--lr-find-steps", "--lr_find_steps", type=number_in_range(int, low=MIN_STEPS),
                       default=DEFAULT_STEPS, help="training steps of the range test")
    model.add_argument("--augment", action=argparse.BooleanOptionalAction, default=DEFAULTS.augment,
                       help="augment training images: shifts of up to 2 pixels, horizontal flips, random erasing "
                       "(--no-augment: off)")
    model.add_argument("--photo-augment", action=argparse.BooleanOptionalAction, default=DEFAULTS.photo_augment,
                       help="with --augment, also turn images by up to 10 degrees, zoom them by up to 10%% and "
                       "add soft shadows, so photos classify as well as the test arrays (--no-photo-augment: off)")
    model.add_argument("--seed", type=int, default=42,
                       help="random seed: the same seed gives the same split, synthetic data and initial weights")
    model.add_argument("--patience", type=positive_int, default=5,
                       help="stop after this many epochs without a lower validation loss (best weights restored)")
    model.add_argument("--target-accuracy", "--target_accuracy", type=open_fraction, default=None,
                       help="stop as soon as validation accuracy reaches this value, e.g. 0.92")
    add_precision_argument(model)
    add_data_arguments(parser)
    distributed = parser.add_argument_group("distributed training (tf.distribute)")
    distributed.add_argument("--strategy", choices=STRATEGIES, default=None,
                             help="one: a single device; mirrored: MirroredStrategy over all local GPUs (or "
                             "--devices); multiworker: MultiWorkerMirroredStrategy over the machines in TF_CONFIG; "
                             "auto: mirrored when several GPUs are visible, else one. --batch-size is per replica "
                             "(default one; with --resume, the run's own)")
    distributed.add_argument("--devices", type=device_list, default=None,
                             help="for mirrored: the local devices to use, e.g. GPU:0,GPU:1; "
                             f"CPU:0,CPU:1 with {CPU_DEVICES_ENV}=2 splits the CPU into two logical devices")
    distributed.add_argument("--backup-dir", "--backup_dir", type=Path, default=None,
                             help="back up the training state here after every epoch; running the same command "
                             "again after a crash continues from the last finished epoch; removed when training "
                             "ends (default LOGDIR/backup with --strategy multiworker, else no backup)")
    output = parser.add_argument_group("output")
    output.add_argument("--embedding-snapshots", "--embedding_snapshots", type=positive_int, default=None,
                        metavar="K", help="every K epochs record a 2-D PCA of the embeddings of 500 validation "
                        "images; at the end write an animated GIF and a small-multiples PNG into the run folder")
    output.add_argument("--output", "--saved-model", "--saved_model", type=Path, default=Path("model.keras"),
                        help="where the best model is saved (.keras, or .h5 for the legacy format)")
    output.add_argument("--logdir", type=Path, default=Path("runs"),
                        help="parent folder of run folders (TensorBoard logs, history, report)")
    output.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                        help="continue an interrupted run from its run folder, with its saved settings")
    output.add_argument("--no-unfamiliarity", "--no_unfamiliarity", dest="no_unfamiliarity", action="store_true",
                        help="do not build the saved model's training index (MODEL.neighbours.npz: every training "
                        "image's embedding and the unfamiliarity threshold, calibrated on the test images) at the "
                        "end; classify and the other commands then build it on first use")
    return parser


def device_list(text: str) -> Tuple[str, ...]:
    """argparse type of --devices: 'gpu:0, GPU:1' -> ('GPU:0', 'GPU:1'); CPU:N and GPU:N, any case, no repeats."""
    names = []
    for part in text.split(","):
        match = DEVICE_PATTERN.match(part.strip())
        if not match:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r} is not a device; expected e.g. GPU:0,GPU:1 or CPU:0,CPU:1")
        names.append(f"{match.group(1).upper()}:{int(match.group(2))}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"{text!r} names a device twice")
    return tuple(names)


device_list.__name__ = "device list"  # argparse names the type in its messages


def learning_rate_or_auto(text: str):
    """argparse type: 'auto' or a positive number."""
    return "auto" if text.strip().lower() == "auto" else positive_float(text)


learning_rate_or_auto.__name__ = "learning rate"


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_cli(PROG, argv, build_parser(), run)


def run(args: argparse.Namespace) -> int:
    from fashion_mnist_vis.models.model_io import check_model_path
    from fashion_mnist_vis.training.trainer import load_data, new_run_dir

    find_rate = args.lr_find or args.learning_rate == "auto"
    if args.resume is not None and find_rate:
        raise UserError("--resume continues with the run's saved learning rate; leave out --lr-find and "
                        "--learning-rate auto")
    check_distribution_flags(args, find_rate)
    if args.resume is not None:
        run_dir = args.resume
        config = TrainConfig.load(run_dir)
        if args.epochs is not None:
            config.epochs = args.epochs
    else:
        config = TrainConfig(
            model=args.model,
            epochs=args.epochs or PRESET_EPOCHS["full"],  # auto is resolved below, once TensorFlow is loaded
            batch_size=args.batch_size,
            learning_rate=1e-3 if find_rate else args.learning_rate,
            augment=args.augment,
            photo_augment=args.photo_augment,
            schedule=args.schedule,
            weight_decay=args.weight_decay,
            label_smoothing=args.label_smoothing,
            seed=args.seed,
            patience=args.patience,
            target_accuracy=args.target_accuracy,
            embedding_snapshots=args.embedding_snapshots,
            output=str(args.output),
            data=data_settings_from_args(args).to_dict(),
            precision=args.precision,
        )
        run_dir = None
    check_model_path(config.output)
    import_tensorflow(args.debug)
    if args.resume is None and args.epochs is None and not args.lr_find:
        config.epochs = epochs_of_preset(args.preset, config.precision)
    distribution = make_distribution(args, config)
    if distribution.is_chief:
        check_writable_folder(Path(config.output).parent, f"the model {config.output!r} into")
    splits = load_data(config)
    if distribution.strategy is not None or args.backup_dir is not None:
        return train_distributed(args, config, splits, distribution, run_dir)
    if run_dir is None:
        run_dir = new_run_dir(args.logdir, config.model)
    print(f"Run folder: {run_dir}", flush=True)
    model, extra = None, {}
    if find_rate:
        finder, model = find_and_report_learning_rate(config, splits, run_dir, args.lr_find_steps)
        if args.lr_find:
            return cli.EXIT_OK
        config.learning_rate = finder.suggestion.learning_rate
        extra["learning_rate_finder"] = finder.as_dict()
        print(f"Training with the suggested learning rate {config.learning_rate:.3g}", flush=True)
    config.save(run_dir)
    return train_and_report(config, splits, run_dir, resume=args.resume is not None, model=model, extra=extra,
                            index=not args.no_unfamiliarity)


def check_distribution_flags(args: argparse.Namespace, find_rate: bool) -> None:
    """Refuse flag combinations that distributed training does not support, before anything starts."""
    distributed = args.strategy not in (None, "one") or args.devices is not None
    if find_rate and (distributed or args.backup_dir is not None):
        raise UserError("the learning-rate range test runs on one device without a backup; leave out --strategy, "
                        "--devices and --backup-dir, or give --learning-rate a number")
    if args.resume is not None and (args.strategy == "multiworker" or args.backup_dir is not None):
        raise UserError("--resume continues a run on this machine; a multiworker run (or one with --backup-dir) "
                        "continues by itself when the same command is run again")


def make_distribution(args: argparse.Namespace, config):
    """Create the strategy (with --resume, by default the run's own) and record it in ``config``."""
    from fashion_mnist_vis.training.distribute import make_distribution as make

    saved = config.distribution if args.resume is not None else {}
    strategy = args.strategy or saved.get("strategy", "one")
    devices = args.devices or (tuple(saved.get("devices") or ()) if strategy == "mirrored" else None)
    distribution = make(strategy, devices)
    config.distribution = distribution.settings(config.batch_size)
    if distribution.strategy is not None:
        print(f"Strategy: {distribution.describe(config.batch_size)}", flush=True)
    return distribution


def train_distributed(args: argparse.Namespace, config, splits, distribution, run_dir: Optional[Path]) -> int:
    """Train under a tf.distribute strategy or with a backup: the chief reports, other workers clean up."""
    import contextlib
    import dataclasses

    from fashion_mnist_vis.training.backup_restore import RunPlace, run_place
    from fashion_mnist_vis.training.loop import fit
    from fashion_mnist_vis.training.trainer import new_run_dir

    if run_dir is not None:  # --resume
        place = contextlib.nullcontext(RunPlace(run_dir, config.output))
    else:
        backup_root = args.backup_dir or (args.logdir / "backup" if distribution.name == "multiworker" else None)
        place = run_place(distribution, config, args.logdir, backup_root, new_run_dir)
    with place as where:
        if where.restarted:
            print(f"Restarting from the backup in {where.backup_dir}", flush=True)
        if not distribution.is_chief:
            worker_config = dataclasses.replace(config, output=where.output)
            worker_config.save(where.run_dir)
            fit(worker_config, splits, where.run_dir, distribution=distribution, backup_dir=where.backup_dir)
            where.completed = True
            print(f"{distribution.task_name}: training done; the chief writes the model and the report", flush=True)
            return cli.EXIT_OK
        print(f"Run folder: {where.run_dir}", flush=True)
        config.save(where.run_dir)
        status = train_and_report(config, splits, where.run_dir, resume=args.resume is not None,
                                  distribution=distribution, backup_dir=where.backup_dir,
                                  index=not args.no_unfamiliarity)
        where.completed = status == cli.EXIT_OK
        return status


def find_and_report_learning_rate(config, splits, run_dir: Path, steps: int):
    """Run the learning-rate range test, write its plot and CSV, print the suggestion."""
    from fashion_mnist_vis.training.report import write_range_test
    from fashion_mnist_vis.training.trainer import find_learning_rate

    def progress(step, rate, loss):
        if (step + 1) % 20 == 0:
            print(f"  range test step {step + 1}/{steps}: learning rate {rate:.2e}, loss {loss:.4f}", flush=True)

    print(f"Learning-rate range test: {steps} steps of {config.batch_size} images, "
          f"rate rising from 1e-6 to 1", flush=True)
    result, model = find_learning_rate(config, splits, steps, progress)
    files = write_range_test(result, run_dir)
    suggestion = result.suggestion
    print(
        f"Range test: {result.stopped_because}. Lowest smoothed loss {suggestion.min_loss:.4f} at learning rate "
        f"{suggestion.min_loss_lr:.3g}; steepest descent at {suggestion.steepest_lr:.3g}.\n"
        f"Suggested learning rate (min/10): {suggestion.learning_rate:.3g}\n"
        f"Plot and data in {run_dir}: {', '.join(files)} (the model's weights were restored, nothing was kept)",
        flush=True,
    )
    return result, model


def train_and_report(config, splits, run_dir: Path, resume: bool, model=None, extra=None,
                     distribution=None, backup_dir=None, index: bool = True) -> int:
    """Train, evaluate and print the report; then (``index``) build the saved model's training index."""
    from fashion_mnist_vis.training.report import mirror_note
    from fashion_mnist_vis.training.trainer import train_and_evaluate

    try:
        result, report = train_and_evaluate(config, splits, run_dir, resume=resume, model=model, extra=extra,
                                            distribution=distribution, backup_dir=backup_dir)
    except KeyboardInterrupt:
        how = ("run the same command again" if backup_dir is not None
               else f"python -m fashion_mnist_vis.train --resume {run_dir}")
        print(f"\n{PROG}: interrupted. The best model so far is in {config.output}; continue with:\n  {how}",
              file=sys.stderr)
        return cli.EXIT_INTERRUPTED
    for note in report["notes"]:
        print(f"note: {note}", file=sys.stderr)
    distributed = distribution is not None and distribution.strategy is not None
    strategy_line = f"Strategy: {distribution.describe(config.batch_size)}\n" if distributed else ""
    print(
        f"\nTest accuracy {report['test_accuracy']:.4f}{mirror_note(report)}, loss {report['test_loss']:.4f} "
        f"on {report['test_images']} test images ({splits.source})\n"
        f"Model: {config.model}, {report['parameters']:,} parameters, {result.epochs_run} epoch{'s' if result.epochs_run != 1 else ''} "
        f"({result.stopped_because}), {result.precision}, {report['seconds_per_epoch']:.1f} s/epoch, "
        f"{report['train_images_per_second'] or 0:,.0f} training images/s\n"
        f"{strategy_line}"
        f"Best model saved to {config.output}\n"
        f"Report in {run_dir}: {', '.join(report['files'])}\n"
        f"TensorBoard: tensorboard --logdir {Path(run_dir) / 'tensorboard'}",
        flush=True,
    )
    if index:
        build_training_index(config)
    return cli.EXIT_OK


def build_training_index(config) -> None:
    """Build and cache the saved model's training index, so every command reports unfamiliarity at once;
    one line on how long it took (a note instead when it cannot be built: the model is saved either way)."""
    from fashion_mnist_vis.data.datasets import DataSettings
    from fashion_mnist_vis.explain.examples import ExampleSettings
    from fashion_mnist_vis.explain.unfamiliarity_plan import build_for_trained_model

    settings = ExampleSettings(1, DataSettings.from_dict(config.data), seed=config.seed)
    try:
        print(build_for_trained_model(Path(config.output), settings), flush=True)
    except (UserError, OSError) as error:
        print(f"note: the unfamiliarity index was not built ({error}); classify builds it on first use",
              file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
