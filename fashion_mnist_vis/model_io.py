"""Saving and loading Keras model files.

Saves are atomic: the model is written to a temporary file in the target's
folder and renamed over the target only once complete, so a crash or a full
disk never leaves a half-written model and never loses the previous one.
"""

import contextlib
import logging
from pathlib import Path
from typing import Union

from .atomic import atomic_path
from .errors import UserError

MODEL_SUFFIXES = (".keras", ".h5")


def check_model_path(path: Union[str, Path]) -> Path:
    """Return ``path`` as a Path, or raise UserError if its suffix is not .keras or .h5."""
    path = Path(path)
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise UserError(
            f"model file {str(path)!r} must end in .keras or .h5 (got {path.suffix or 'no suffix'!r})"
        )
    return path


def save_model_atomic(model, path: Union[str, Path]) -> Path:
    """Save ``model`` to ``path`` (.keras or .h5) via a temporary file and a rename.

    If saving fails for any reason, the temporary file is removed, any file
    already at ``path`` is left untouched and the error propagates (as a
    UserError for an OS error such as a full disk or a read-only folder).
    """
    path = check_model_path(path)
    try:
        with atomic_path(path) as temp, _quiet_hdf5_notice():
            model.save(temp)
    except OSError as error:
        raise UserError(f"could not save the model to {str(path)!r}: {error.strerror or error}") from error
    return path


@contextlib.contextmanager
def _quiet_hdf5_notice():
    """Keras logs a 'legacy format' warning for .h5; the user asked for .h5, so hide it."""
    logger = logging.getLogger("absl")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)
