"""Keep a model's :class:`~fashion_mnist_vis.explain.training_index.TrainingIndex` on disk, beside the model.

The index of ``model.keras`` is ``model.keras.neighbours.npz`` in the same
folder (written atomically: a reader never sees half a file). When that
folder cannot be written (a read-only model folder), it goes to the user
cache folder the dataset loader uses
(:func:`fashion_mnist_vis.data.fashion_mnist.default_cache_dir`), under
``neighbours/``, named after the model file's absolute path, and the caller
is told so.

The file is a NumPy ``.npz`` (no pickles): ``embeddings`` float32 (N, D),
``labels`` uint8 (N,), ``prototypes`` and ``atypical`` int64 (10, n),
``atypical_distances`` float32 (10, n) and ``meta``, a JSON string with the
:class:`~fashion_mnist_vis.explain.training_index.IndexKey`, the unfamiliarity
score's calibration and the rest. A
cached index is used only when its key equals the one asked for: a changed
model file (another SHA-256), another embedding layer or other training data
make it stale, and it is rebuilt and overwritten. An unreadable or damaged
file counts as missing.
"""

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Callable, Optional, Tuple

import numpy as np

from fashion_mnist_vis.atomic import atomic_path
from fashion_mnist_vis.explain.class_examples import ClassExamples
from fashion_mnist_vis.explain.training_index import INDEX_FORMAT, IndexKey, TrainingIndex

SUFFIX = ".neighbours.npz"
FALLBACK_FOLDER = "neighbours"


def file_sha256(path: Path, block_size: int = 1 << 20) -> str:
    """Hex SHA-256 of the bytes of the file at ``path``, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(block_size), b""):
            digest.update(block)
    return digest.hexdigest()


def beside_model(model_path: Path) -> Path:
    """``model.keras`` -> ``model.keras.neighbours.npz`` in the same folder."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + SUFFIX)


def in_user_cache(model_path: Path) -> Path:
    """The fallback place of the index of ``model_path``: one file per model path in the user cache."""
    from fashion_mnist_vis.data.fashion_mnist import default_cache_dir

    resolved = str(Path(model_path).resolve())
    tag = hashlib.sha256(resolved.encode("utf-8")).hexdigest()[:16]
    return default_cache_dir() / FALLBACK_FOLDER / f"{Path(model_path).name}-{tag}{SUFFIX}"


def find_cached(model_path: Path, key: IndexKey) -> Tuple[Optional[TrainingIndex], Optional[Path]]:
    """The cached index of ``model_path`` whose key is ``key``, and where it was; (None, None) if none is."""
    return _first_readable(model_path, lambda stored: stored == key.to_dict())


def find_cached_for_model(model_path: Path, model_sha256: str,
                          layer_request: str) -> Tuple[Optional[TrainingIndex], Optional[Path]]:
    """The cached index of the model file whose SHA-256 is ``model_sha256`` for the embedding
    ``layer_request``, whatever training data it was built from (train.py builds it from the data the
    model was trained on), and where it was; (None, None) if none is. Needs no training images."""
    def fits(stored: dict) -> bool:
        return (stored.get("model_sha256") == model_sha256 and stored.get("layer_request") == layer_request
                and stored.get("format") == INDEX_FORMAT)

    return _first_readable(model_path, fits)


def _first_readable(model_path: Path, fits: Callable[[dict], bool]) -> Tuple[Optional[TrainingIndex], Optional[Path]]:
    for place in (beside_model(model_path), in_user_cache(model_path)):
        index = _read(place, fits)
        if index is not None:
            return index, place
    return None, None


def store(index: TrainingIndex, model_path: Path) -> Tuple[Path, Optional[str]]:
    """Write ``index`` beside the model, or in the user cache when that folder is not writable.

    Returns where it went, and a one-line note when it went to the user cache
    (None otherwise).

    Raises:
        OSError: if neither place can be written.
    """
    beside = beside_model(model_path)
    if os.access(beside.parent, os.W_OK | os.X_OK):
        try:
            return write_index(index, beside), None
        except OSError:
            pass  # e.g. a read-only file system that os.access did not report: try the user cache
    fallback = write_index(index, in_user_cache(model_path))
    return fallback, (f"cannot write into the model's folder {str(beside.parent)!r}; the neighbour index "
                      f"is cached in {str(fallback)!r} instead")


def write_index(index: TrainingIndex, path: Path) -> Path:
    """Write ``index`` to ``path`` atomically (see the module's docstring for the contents)."""
    meta = {"key": index.key.to_dict(), "layer_name": index.layer_name, "layer_role": index.layer_role,
            "data": index.data, "build_seconds": index.build_seconds, "unfamiliarity": index.unfamiliarity}
    with atomic_path(path) as temp, open(temp, "wb") as handle:
        np.savez(handle, embeddings=index.embeddings, labels=index.labels,
                 prototypes=index.examples.prototypes, atypical=index.examples.atypical,
                 atypical_distances=index.examples.atypical_distances, meta=np.array(json.dumps(meta)))
    return Path(path)


def read_index(path: Path, key: IndexKey) -> Optional[TrainingIndex]:
    """The index stored at ``path`` if it was built for ``key``; None if missing, stale or unreadable."""
    return _read(path, lambda stored: stored == key.to_dict())


def _read(path: Path, fits: Callable[[dict], bool]) -> Optional[TrainingIndex]:
    """The index stored at ``path`` if ``fits(its key as a dict)``; None if missing, unfit or unreadable."""
    if not Path(path).is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            stored_key = meta.get("key")
            if not isinstance(stored_key, dict) or not fits(stored_key):
                return None
            key = IndexKey(**stored_key)
            examples = ClassExamples(stored["prototypes"], stored["atypical"], stored["atypical_distances"])
            return TrainingIndex(key, stored["embeddings"], stored["labels"], meta["layer_name"],
                                 meta["layer_role"], meta["data"], examples, float(meta["build_seconds"]),
                                 meta.get("unfamiliarity"))
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
        return None
