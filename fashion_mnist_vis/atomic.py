"""Atomic file writes: write beside the target, then rename over it.

A reader (or a crash) never sees a half-written file, and if writing fails
the file that was there before is left untouched.
"""

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator, Union

from fashion_mnist_vis.errors import UserError


@contextlib.contextmanager
def atomic_path(target: Union[str, Path]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it to ``target``.

    The temporary name keeps ``target``'s suffix (Keras and matplotlib choose
    the format from it). If the ``with`` body raises, the temporary file is
    removed and the error propagates.
    """
    target = Path(target)
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=folder)
    os.close(handle)
    os.chmod(temp_name, 0o666 & ~_current_umask())  # mkstemp makes 0600; give the usual mode
    try:
        yield Path(temp_name)
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp_name)
        raise


def write_text_atomic(path: Union[str, Path], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically: a reader sees the old file or the whole new one."""
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: Union[str, Path], data: dict) -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    return write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable_folder(folder: Union[str, Path], what: str) -> Path:
    """Fail before any work if ``folder`` cannot be created or written into; return it as a Path.

    Nothing is created here.

    ``what`` names the folder in the one-line error, e.g. "the plot folder".
    Uses ``os.access``, which also reports read-only file systems (even to root).
    """
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == folder and not folder.is_dir():
        raise UserError(f"{what} {str(folder)!r} exists and is not a folder")
    if not existing.is_dir():
        raise UserError(f"cannot create {what} {str(folder)!r}: {str(existing)!r} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {what} {str(folder)!r}: {str(existing)!r} is not writable")
    return folder
