"""Train a model on Fashion-MNIST (or synthetic look-alike data) and write an evaluation report.

Run as ``python -m fashion_mnist_vis.train`` or ``python fashion_mnist_vis/train.py``.
"""

import sys

if __package__ in (None, ""):  # run as a file: make the package importable
    import os

    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import argparse
import os
from pathlib import Path
from typing import Optional, Sequence

from fashion_mnist_vis import cli
from fashion_mnist_vis.cli import open_fraction, positive_float, positive_int
from fashion_mnist_vis.datasets import add_data_arguments
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.models import DEFAULT_MODEL, MODELS, models_help

PROG = "train.py"
DEFAULT_EPOCHS = 15


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser(
        PROG,
        "Train a CNN on Fashion-MNIST, keep the best model (lowest validation loss), "
        "log to TensorBoard and write an evaluation report (metrics.json and plots) into a run folder.",
    )
    model = parser.add_argument_group("model and optimisation")
    model.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL, help=models_help())
    model.add_argument("--epochs", type=positive_int, default=None,
                       help=f"maximum number of epochs (default {DEFAULT_EPOCHS}; with --resume, the saved value)")
    model.add_argument("--batch-size", "--batch_size", type=positive_int, default=128, help="images per training step")
    model.add_argument("--learning-rate", "--learning_rate", "--lr", type=positive_float, default=1e-3,
                       help="Adam's initial learning rate (halved when validation loss stalls)")
    model.add_argument("--augment", action="store_true",
                       help="augment training images: shifts of up to 2 pixels, horizontal flips, random erasing")
    model.add_argument("--seed", type=int, default=42,
                       help="random seed: the same seed gives the same split, synthetic data and initial weights")
    model.add_argument("--patience", type=positive_int, default=5,
                       help="stop after this many epochs without a lower validation loss (best weights restored)")
    model.add_argument("--target-accuracy", "--target_accuracy", type=open_fraction, default=None,
                       help="stop as soon as validation accuracy reaches this value, e.g. 0.92")
    add_data_arguments(parser)
    output = parser.add_argument_group("output")
    output.add_argument("--output", "--saved-model", "--saved_model", type=Path, default=Path("model.keras"),
                        help="where the best model is saved (.keras, or .h5 for the legacy format)")
    output.add_argument("--logdir", type=Path, default=Path("runs"),
                        help="parent folder of run folders (TensorBoard logs, history, report)")
    output.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                        help="continue an interrupted run from its run folder, with its saved settings")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_cli(PROG, argv, build_parser(), run)


def run(args: argparse.Namespace) -> int:
    from fashion_mnist_vis.model_io import check_model_path
    from fashion_mnist_vis.training import TrainConfig, new_run_dir

    if args.resume is not None:
        run_dir = args.resume
        config = TrainConfig.load(run_dir)
        if args.epochs is not None:
            config.epochs = args.epochs
    else:
        config = TrainConfig(
            model=args.model,
            epochs=args.epochs or DEFAULT_EPOCHS,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            augment=args.augment,
            seed=args.seed,
            patience=args.patience,
            target_accuracy=args.target_accuracy,
            output=str(args.output),
            data={
                "dataset": args.dataset,
                "data_dir": str(args.data_dir) if args.data_dir else None,
                "train_size": args.train_size,
                "test_size": args.test_size,
                "val_split": args.val_split,
            },
        )
        run_dir = None
    check_output_writable(check_model_path(config.output))
    cli.import_tensorflow(args.debug)
    splits = load_data(config)
    if run_dir is None:
        run_dir = new_run_dir(args.logdir, config.model)
    config.save(run_dir)
    print(f"Run folder: {run_dir}", flush=True)
    return train_and_report(config, splits, run_dir, resume=args.resume is not None)


def check_output_writable(path: Path) -> None:
    """Fail before training, not after, if the model cannot be saved at ``path``."""
    folder = path.parent if str(path.parent) else Path(".")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise UserError(f"cannot write the model to {str(path)!r}: folder {str(existing)!r} is not writable")


def load_data(config):
    from fashion_mnist_vis.datasets import default_data_args, describe_counts, load_splits

    data = dict(config.data)
    data_dir = data.pop("data_dir", None)
    data_args = default_data_args(**data, data_dir=Path(data_dir) if data_dir else None)
    splits = load_splits(data_args, config.seed)
    print(
        f"Data: {splits.source}\n"
        f"  train {describe_counts(splits.y_train)}; validation {describe_counts(splits.y_val)}; "
        f"test {describe_counts(splits.y_test)}",
        flush=True,
    )
    return splits


def train_and_report(config, splits, run_dir: Path, resume: bool) -> int:
    from fashion_mnist_vis.report import write_report
    from fashion_mnist_vis.training import RESUME_FOLDER, fit

    try:
        result = fit(config, splits, run_dir, resume=resume)
    except KeyboardInterrupt:
        print(
            f"\n{PROG}: interrupted. The best model so far is in {config.output}; continue with:\n"
            f"  python -m fashion_mnist_vis.train --resume {run_dir}",
            file=sys.stderr,
        )
        return cli.EXIT_INTERRUPTED
    model = result.model
    if resume:  # the overall best may predate this session; the checkpoint file holds it
        from fashion_mnist_vis.model_io import load_model

        model = load_model(config.output)
    else:
        from fashion_mnist_vis.model_io import save_model_atomic

        save_model_atomic(model, config.output)
    seconds = result.seconds_per_epoch
    mean_seconds = sum(seconds) / len(seconds) if seconds else float("nan")
    report = write_report(
        model,
        run_dir,
        splits.x_test,
        splits.y_test,
        result.history,
        extra={
            "model": config.model,
            "epochs_run": result.epochs_run,
            "stopped_because": result.stopped_because,
            "seconds_per_epoch": round(mean_seconds, 3),
            "seconds_per_epoch_each": [round(s, 3) for s in seconds],
            "train_images_per_second": round(len(splits.y_train) / mean_seconds, 1) if seconds else None,
            "best_val_loss": min(result.history.get("val_loss", [float("nan")])),
            "seed": config.seed,
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
        },
    )
    for note in report["notes"]:
        print(f"note: {note}", file=sys.stderr)
    print(
        f"\nTest accuracy {report['test_accuracy']:.4f}, loss {report['test_loss']:.4f} "
        f"on {report['test_images']} test images ({splits.source})\n"
        f"Model: {config.model}, {report['parameters']:,} parameters, {result.epochs_run} epoch{'s' if result.epochs_run != 1 else ''} "
        f"({result.stopped_because}), {mean_seconds:.1f} s/epoch, "
        f"{report['train_images_per_second'] or 0:,.0f} training images/s\n"
        f"Best model saved to {config.output}\n"
        f"Report in {run_dir}: {', '.join(report['files'])}\n"
        f"TensorBoard: tensorboard --logdir {Path(run_dir) / 'tensorboard'}",
        flush=True,
    )
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
