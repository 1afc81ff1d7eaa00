"""One entry point for the data every command uses: real or synthetic, split three ways.

The validation split is taken from the TRAINING set (stratified, reproducible
with the seed); the test set is kept for the final evaluation only.
"""

import argparse
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Tuple

import numpy as np

from .cli import open_fraction, positive_int
from .errors import UserError

DATASETS = ("fashion_mnist", "synthetic")


@dataclass(frozen=True)
class Splits:
    """Train, validation and test data as uint8 arrays.

    Images are (N, 28, 28) with values 0..255 (light item on a dark
    background); labels are (N,) with values 0..9 (see classes.CLASS_NAMES).
    ``source`` says in one line where the data came from. ``checksums`` says
    what was verified, for reports: for the real files, file name ->
    ``{"path", "decompressed_md5", "verified"}`` (see
    fashion_mnist.RawSplits); for synthetic data, array name -> hex MD5 of
    the generated arrays.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    checksums: Dict[str, object] = field(default_factory=dict)


def add_data_arguments(parser: argparse.ArgumentParser, validation: bool = True, training: bool = True) -> None:
    """Add the shared data flags (--dataset, --data-dir, sizes, and --val-split if wanted).

    With ``training=False`` (commands that only use the test set) there is no
    --train-size and no --val-split.
    """
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset",
        choices=DATASETS,
        default="fashion_mnist",
        help="fashion_mnist: the real files (from --data-dir, the cache, /usr/share/datasets/fashion-mnist "
        "where apt-get install dataset-fashion-mnist puts them, or downloaded); "
        "synthetic: generated look-alike data that needs no download",
    )
    group.add_argument(
        "--data-dir",
        "--data_dir",
        type=Path,
        default=None,
        help="folder holding the four Fashion-MNIST IDX files (.gz or not); nothing is downloaded",
    )
    if training:
        group.add_argument(
            "--train-size",
            "--train_size",
            type=positive_int,
            default=None,
            help="use this many training images (a stratified subset of the real set, "
            "or the number generated; synthetic default 60000)",
        )
    group.add_argument(
        "--test-size",
        "--test_size",
        type=positive_int,
        default=None,
        help="use this many test images (stratified subset; synthetic default 10000)",
    )
    if validation and training:
        group.add_argument(
            "--val-split",
            "--val_split",
            type=open_fraction,
            default=0.1,
            help="fraction of the TRAINING set held out for validation (stratified)",
        )


def load_splits(args: argparse.Namespace, seed: int) -> Splits:
    """Load the data named by the flags of :func:`add_data_arguments` and split it."""
    x_train, y_train, x_test, y_test, source, checksums = _load_raw(args, seed)
    if getattr(args, "train_size", None) is not None:
        x_train, y_train = stratified_subset(x_train, y_train, args.train_size, seed)
    if args.test_size is not None:
        x_test, y_test = stratified_subset(x_test, y_test, args.test_size, seed)
    val_split = getattr(args, "val_split", None)
    if val_split:
        (x_train, y_train), (x_val, y_val) = stratified_split(x_train, y_train, val_split, seed)
    else:
        x_val, y_val = x_train[:0], y_train[:0]
    return Splits(x_train, y_train, x_val, y_val, x_test, y_test, source, checksums)


def load_test_split(args: argparse.Namespace, seed: int) -> Splits:
    """Load only the test images named by the data flags (for evaluating a saved model).

    The test set is the one :func:`load_splits` gives for the same flags and
    seed (the synthetic test set does not depend on the training set's size,
    and is generated without it). The returned Splits has empty train and
    validation arrays.
    """
    _, _, x_test, y_test, source, checksums = _load_raw(args, seed, with_train=False)
    if args.test_size is not None:
        x_test, y_test = stratified_subset(x_test, y_test, args.test_size, seed)
    return Splits(x_test[:0], y_test[:0], x_test[:0], y_test[:0], x_test, y_test, source, checksums)


def _load_raw(args: argparse.Namespace, seed: int, with_train: bool = True):
    if args.dataset == "synthetic":
        if args.data_dir is not None:
            raise UserError("--data-dir is for the real dataset; leave it out with --dataset synthetic")
        from .synthetic import load_synthetic

        train_size = (getattr(args, "train_size", None) or 60000) if with_train else 0
        test_size = args.test_size or 10000
        (x_train, y_train), (x_test, y_test) = load_synthetic(train_size, test_size, seed)
        checksums = {"synthetic_train": _array_digest(x_train, y_train)} if with_train else {}
        checksums["synthetic_test"] = _array_digest(x_test, y_test)
        sizes = f"{train_size} train / {test_size} test" if with_train else f"{test_size} test"
        source = f"synthetic (seed {seed}, {sizes})"
        return x_train, y_train, x_test, y_test, source, checksums
    from .fashion_mnist import load_fashion_mnist

    raw = load_fashion_mnist(data_dir=args.data_dir)
    return raw.x_train, raw.y_train, raw.x_test, raw.y_test, raw.source, raw.checksums


def _array_digest(images: np.ndarray, labels: np.ndarray) -> str:
    digest = hashlib.md5(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(labels).tobytes())
    return digest.hexdigest()


def stratified_split(
    images: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]:
    """Split into (kept, held_out) with ``fraction`` of each class held out.

    The same ``seed`` gives the same split. Raises UserError if a class would
    end up with no example on one side.
    """
    from sklearn.model_selection import train_test_split

    try:
        x_keep, x_out, y_keep, y_out = train_test_split(
            images, labels, test_size=fraction, stratify=labels, random_state=seed
        )
    except ValueError as error:
        raise UserError(f"cannot hold out {fraction:.0%} of {len(labels)} images per class: {error}") from None
    return (x_keep, y_keep), (x_out, y_out)


def stratified_subset(
    images: np.ndarray, labels: np.ndarray, size: int, seed: int
) -> Tuple[np.ndarray, np.ndarray]:
    """Return a class-balanced random subset of ``size`` images (all of them if size >= N)."""
    if size >= len(labels):
        return images, labels
    _, (x_subset, y_subset) = stratified_split(images, labels, size / len(labels), seed)
    return x_subset, y_subset


def describe_counts(labels: np.ndarray) -> str:
    """'6000 images, 600 per class' style summary of a label array."""
    counts = np.bincount(labels, minlength=10)
    if counts.min() == counts.max():
        return f"{len(labels)} images, {counts[0]} per class"
    return f"{len(labels)} images, {counts.min()}-{counts.max()} per class"


def data_settings(args: argparse.Namespace) -> Dict[str, object]:
    """The data flags as a JSON-ready dict (TrainConfig.data), to rebuild the same splits later."""
    return {
        "dataset": args.dataset,
        "data_dir": str(args.data_dir) if args.data_dir else None,
        "train_size": getattr(args, "train_size", None),
        "test_size": args.test_size,
        "val_split": getattr(args, "val_split", None),
    }


def default_data_args(**overrides) -> argparse.Namespace:
    """A Namespace with the defaults of :func:`add_data_arguments` (for library use and tests)."""
    parser = argparse.ArgumentParser()
    add_data_arguments(parser)
    args = parser.parse_args([])
    for key, value in overrides.items():
        setattr(args, key, value)
    return args
