"""One entry point for the data every command uses: real or synthetic, split three ways.

The validation split is taken from the TRAINING set (stratified, reproducible
with the seed); the test set is kept for the final evaluation only.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from fashion_mnist_vis.errors import UserError

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


@dataclass(frozen=True)
class DataSettings:
    """Which data a command works on, and how it is cut.

    ``dataset`` is one of :data:`DATASETS`; ``data_dir`` a folder holding the four
    IDX files (real data only; None: the cache, the system folder or a download);
    ``train_size`` / ``test_size`` a stratified subset of the real set or the
    number of images generated (None: all, or 60,000 / 10,000 synthetic);
    ``val_split`` the fraction of the TRAINING set held out for validation
    (0: none).
    """

    dataset: str = "fashion_mnist"
    data_dir: Optional[Path] = None
    train_size: Optional[int] = None
    test_size: Optional[int] = None
    val_split: float = 0.1

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise UserError(f"unknown dataset {self.dataset!r}; choose one of: {', '.join(DATASETS)}")
        if self.dataset == "synthetic" and self.data_dir is not None:
            raise UserError("a data folder is for the real dataset; synthetic data is generated, not read")
        if not 0 <= self.val_split < 1:
            raise UserError(f"the validation fraction must be in [0, 1), not {self.val_split}")

    def to_dict(self) -> Dict[str, object]:
        """JSON-ready (TrainConfig.data, metrics.json), to rebuild the same splits later."""
        return {"dataset": self.dataset, "data_dir": str(self.data_dir) if self.data_dir else None,
                "train_size": self.train_size, "test_size": self.test_size, "val_split": self.val_split}

    @classmethod
    def from_dict(cls, data: Dict[str, object]) -> "DataSettings":
        """The inverse of :meth:`to_dict`; missing keys take the defaults, a null val_split holds nothing out."""
        data_dir = data.get("data_dir")
        return cls(dataset=data.get("dataset", cls.dataset), data_dir=Path(data_dir) if data_dir else None,
                   train_size=data.get("train_size"), test_size=data.get("test_size"),
                   val_split=data.get("val_split", cls.val_split) or 0.0)


def load_splits(settings: DataSettings, seed: int, download: bool = True) -> Splits:
    """Load the data ``settings`` names and split it (the same seed, the same splits); ``download``: the
    real data may be downloaded when it is not on this machine (False: a UserError instead)."""
    x_train, y_train, x_test, y_test, source, checksums = _load_raw(settings, seed, download=download)
    if settings.train_size is not None:
        x_train, y_train = stratified_subset(x_train, y_train, settings.train_size, seed)
    if settings.test_size is not None:
        x_test, y_test = stratified_subset(x_test, y_test, settings.test_size, seed)
    if settings.val_split:
        (x_train, y_train), (x_val, y_val) = stratified_split(x_train, y_train, settings.val_split, seed)
    else:
        x_val, y_val = x_train[:0], y_train[:0]
    return Splits(x_train, y_train, x_val, y_val, x_test, y_test, source, checksums)


def load_test_split(settings: DataSettings, seed: int, download: bool = True) -> Splits:
    """Load only the test images ``settings`` names (for evaluating a saved model; ``download`` as in
    :func:`load_splits`).

    The test set is the one :func:`load_splits` gives for the same settings and
    seed (the synthetic test set does not depend on the training set's size,
    and is generated without it). The returned Splits has empty train and
    validation arrays.
    """
    _, _, x_test, y_test, source, checksums = _load_raw(settings, seed, with_train=False, download=download)
    if settings.test_size is not None:
        x_test, y_test = stratified_subset(x_test, y_test, settings.test_size, seed)
    return Splits(x_test[:0], y_test[:0], x_test[:0], y_test[:0], x_test, y_test, source, checksums)


def _load_raw(settings: DataSettings, seed: int, with_train: bool = True, download: bool = True):
    if settings.dataset == "synthetic":
        from fashion_mnist_vis.data.synthetic import load_synthetic

        train_size = (settings.train_size or 60000) if with_train else 0
        test_size = settings.test_size or 10000
        (x_train, y_train), (x_test, y_test) = load_synthetic(train_size, test_size, seed)
        checksums = {"synthetic_train": array_digest(x_train, y_train)} if with_train else {}
        checksums["synthetic_test"] = array_digest(x_test, y_test)
        sizes = f"{train_size} train / {test_size} test" if with_train else f"{test_size} test"
        source = f"synthetic (seed {seed}, {sizes})"
        return x_train, y_train, x_test, y_test, source, checksums
    from fashion_mnist_vis.data.fashion_mnist import load_fashion_mnist

    raw = load_fashion_mnist(data_dir=settings.data_dir, mirrors=None if download else ())
    return raw.x_train, raw.y_train, raw.x_test, raw.y_test, raw.source, raw.checksums


def array_digest(images: np.ndarray, labels: np.ndarray) -> str:
    """Hex MD5 of the bytes of ``images`` then ``labels``: identifies a data set (reports, caches keyed by data)."""
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
    """Return a class-balanced random subset of ``size`` images (all of them if size >= N).

    Raises UserError when ``size`` is smaller than the number of classes present,
    since a class-balanced sample needs at least one image of each.
    """
    if size >= len(labels):
        return images, labels
    classes = len(np.unique(labels))
    if size < classes:
        raise UserError(
            f"a class-balanced sample of {size} images is too small: it needs at least {classes}, one per class"
        )
    _, (x_subset, y_subset) = stratified_split(images, labels, size / len(labels), seed)
    return x_subset, y_subset


def describe_counts(labels: np.ndarray) -> str:
    """'6000 images, 600 per class' style summary of a label array."""
    counts = np.bincount(labels, minlength=10)
    if counts.min() == counts.max():
        return f"{len(labels)} images, {counts[0]} per class"
    return f"{len(labels)} images, {counts.min()}-{counts.max()} per class"
