"""Train several registered models on the same data and budget, and compare them.

Run as ``python -m fashion_mnist_vis.compare`` or ``python fashion_mnist_vis/compare.py``.

Every model is trained by :func:`training.train_and_evaluate` (the same
loop and report as train.py) with the same data, split, seed, batch size,
learning rate and epoch budget, in its own run folder ``OUTPUT_DIR/<model>/``
(its best model is ``OUTPUT_DIR/<model>/model.keras``). Then
``OUTPUT_DIR/comparison.md``, ``comparison.csv`` and ``comparison.png`` sum
them up. A model whose ``metrics.json`` exists is not trained again (so an
interrupted comparison continues where it stopped) unless ``--force``.
"""

import sys

import argparse
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import List, Optional, Sequence

from fashion_mnist_vis.atomic import check_writable_folder
from fashion_mnist_vis.commands import cli
from fashion_mnist_vis.commands.cli import (
    add_data_arguments, add_precision_argument, data_settings_from_args, positive_float, positive_int,
)
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.models.keras_runtime import import_tensorflow
from fashion_mnist_vis.models.registry import MODELS

PROG = "compare.py"
DEFAULT_MODELS = ("dense", "lenet", "cnn64", "tinyvgg", "gap_cnn", "resnet")
DEFAULT_EPOCHS = 5


def model_list(text: str) -> List[str]:
    """argparse type: comma-separated registry names, duplicates dropped, order kept."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODELS]
    if unknown or not names:
        what = f"unknown model{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}" if unknown \
            else "no model names"
        raise argparse.ArgumentTypeError(f"{what}; choose from: {', '.join(MODELS)}")
    return list(dict.fromkeys(names))


model_list.__name__ = "model list"


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser(
        PROG,
        "Train several models on the same data, split, seed and epoch budget, each with the full training "
        "report in its own run folder, then write a comparison table (Markdown and CSV) and a plot of test "
        "accuracy against parameter count. Models already done are skipped unless --force.",
    )
    group = parser.add_argument_group("models and budget")
    group.add_argument("--models", type=model_list, default=list(DEFAULT_MODELS),
                       help=f"comma-separated model names, from: {', '.join(MODELS)}")
    group.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS,
                       help="maximum epochs for every model (early stopping may end a run sooner)")
    group.add_argument("--batch-size", "--batch_size", type=positive_int, default=128, help="images per training step")
    group.add_argument("--learning-rate", "--learning_rate", "--lr", type=positive_float, default=1e-3,
                       help="Adam's initial learning rate, the same for every model")
    group.add_argument("--patience", type=positive_int, default=5,
                       help="stop a model after this many epochs without a lower validation loss")
    group.add_argument("--seed", type=int, default=42,
                       help="random seed: the same split, synthetic data and initial weights for every run")
    add_precision_argument(group)
    add_data_arguments(parser)
    output = parser.add_argument_group("output")
    output.add_argument("--output-dir", "--output_dir", type=Path, default=Path("comparison"),
                        help="folder for the run folders (one per model) and the comparison files")
    output.add_argument("--force", action="store_true",
                        help="train every listed model again, even those whose run folder has a metrics.json")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_cli(PROG, argv, build_parser(), run)


def run(args: argparse.Namespace) -> int:
    import json

    from fashion_mnist_vis.training.report import comparison_row, comparison_table, write_comparison
    from fashion_mnist_vis.training.trainer import TrainConfig

    output_dir: Path = args.output_dir
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"--output-dir {str(output_dir)!r} is a file, not a folder")
    check_writable_folder(output_dir, "--output-dir")
    configs = [
        TrainConfig(model=name, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                    seed=args.seed, patience=args.patience, output=str(output_dir / name / "model.keras"),
                    data=data_settings_from_args(args).to_dict(), precision=args.precision)
        for name in args.models
    ]
    to_train = [config for config in configs if args.force or not _is_done(config, output_dir)]
    for config in configs:
        if config not in to_train:
            print(f"{config.model}: already done in {output_dir / config.model} (skipped; --force trains it again)")
    if to_train:
        import_tensorflow(args.debug)
        from fashion_mnist_vis.training.trainer import load_data

        splits = load_data(configs[0])
        for position, config in enumerate(to_train, 1):
            print(f"\n=== {config.model} ({position} of {len(to_train)}) ===", flush=True)
            if not _train_one(config, splits, output_dir / config.model):
                return cli.EXIT_INTERRUPTED
    metrics = [json.loads((output_dir / config.model / "metrics.json").read_text()) for config in configs]
    rows = [comparison_row(entry) for entry in metrics]
    first, data = configs[0], metrics[0]["dataset"]
    description = (
        f"Data: {data['source']}, {data['train_images']} training / {data['validation_images']} validation / "
        f"{data['test_images']} test images; seed {first.seed}; up to {first.epochs} epochs "
        f"(early stopping patience {first.patience}); batch size {first.batch_size}; "
        f"{'AdamW, weight decay ' + format(first.weight_decay, 'g') if first.weight_decay else 'Adam'}, "
        f"learning rate {first.learning_rate:g} ({first.schedule} schedule), label smoothing "
        f"{first.label_smoothing:g}, augmentation {first.augmentation_summary()}. "
        "Seconds per epoch include validation and depend on the machine and its load."
    )
    files = write_comparison(rows, output_dir, description)
    print(f"\n{comparison_table(rows)}\n\nComparison in {output_dir}: {', '.join(files)}", flush=True)
    return cli.EXIT_OK


def _is_done(config, output_dir: Path) -> bool:
    """True if this model's run folder has a report made with the same settings.

    Raises:
        UserError: if it has a report made with other settings (comparing it
            would be unfair), naming the differences.
    """
    from fashion_mnist_vis.training.trainer import TrainConfig

    run_dir = output_dir / config.model
    if not (run_dir / "metrics.json").is_file():
        return False
    previous = asdict(TrainConfig.load(run_dir))
    current = asdict(config)
    differences = [f"{key} {previous.get(key)!r}, now {value!r}" for key, value in current.items()
                   if key != "output" and previous.get(key) != value]
    if differences:
        raise UserError(
            f"{run_dir} was trained with other settings ({'; '.join(differences)}); pass --force to train "
            f"it again, or choose another --output-dir"
        )
    return True


def _train_one(config, splits, run_dir: Path) -> bool:
    """Train ``config.model`` from scratch into ``run_dir``; False if interrupted (Ctrl-C)."""
    from fashion_mnist_vis.training.trainer import RUN_CONFIG, train_and_evaluate

    if run_dir.exists():
        if not (run_dir / RUN_CONFIG).is_file():
            raise UserError(f"{run_dir} exists but is not a run folder (no {RUN_CONFIG}); move it away first")
        shutil.rmtree(run_dir)  # an earlier, unfinished or forced-over run of this model
    run_dir.mkdir(parents=True)
    config.save(run_dir)
    try:
        _, report = train_and_evaluate(config, splits, run_dir)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted while training {config.model}; run the same command again to continue "
              f"(finished models are kept, {config.model} starts over)", file=sys.stderr)
        return False
    for note in report["notes"]:
        print(f"note: {note}", file=sys.stderr)
    print(f"{config.model}: test accuracy {report['test_accuracy']:.4f}, loss {report['test_loss']:.4f}, "
          f"{report['parameters']:,} parameters, {report['seconds_per_epoch']:.1f} s/epoch", flush=True)
    return True


if __name__ == "__main__":
    sys.exit(main())
