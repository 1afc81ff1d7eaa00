"""Finding, downloading and loading the real Fashion-MNIST files.

Where the four official IDX files are looked for, in order:

1. ``data_dir`` (``--data-dir``), if given: the files as ``NAME.gz`` or
   uncompressed ``NAME``; nothing is downloaded.
2. The cache folder: ``$FASHION_MNIST_VIS_CACHE_DIR`` or, by default,
   ``~/.keras/datasets/fashion-mnist`` (so an existing Keras cache is reused).
   Cached files are checked against the official MD5; a corrupt entry is
   downloaded again.
3. The mirrors (``$FASHION_MNIST_VIS_MIRRORS``, comma-separated base URLs,
   overrides :data:`MIRRORS`), tried in order. Each download is checked
   against the official MD5 and written atomically (temporary file, then
   rename), so the cache never holds a partial file. A mirror that refuses
   the connection, answers an HTTP error, sends a short or wrong file, or
   stalls for ``$FASHION_MNIST_VIS_DOWNLOAD_TIMEOUT`` seconds (default 30)
   is skipped for the next; when every mirror fails, the one error line says
   what each did.
"""

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, TextIO

import numpy as np

from .classes import IMAGE_SIZE
from .errors import UserError
from .idx import read_idx

CACHE_ENV = "FASHION_MNIST_VIS_CACHE_DIR"
MIRRORS_ENV = "FASHION_MNIST_VIS_MIRRORS"
TIMEOUT_ENV = "FASHION_MNIST_VIS_DOWNLOAD_TIMEOUT"
DEFAULT_CACHE_DIR = Path("~/.keras/datasets/fashion-mnist")

MIRRORS = (
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
DOWNLOAD_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class IdxFile:
    """One of the four dataset files: its official name and MD5."""

    name: str
    md5: str


OFFICIAL_FILES: Dict[str, IdxFile] = {
    "train_images": IdxFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train_labels": IdxFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    "test_images": IdxFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    "test_labels": IdxFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
}


@dataclass(frozen=True)
class RawSplits:
    """The dataset as uint8 arrays: images (N, 28, 28) in 0..255, labels (N,) in 0..9.

    ``checksums`` maps each file name used to its MD5, for reports.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    checksums: Dict[str, str]


def default_cache_dir() -> Path:
    """The cache folder: ``$FASHION_MNIST_VIS_CACHE_DIR`` or ``~/.keras/datasets/fashion-mnist``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser()


def configured_mirrors() -> List[str]:
    """Mirror base URLs: ``$FASHION_MNIST_VIS_MIRRORS`` (comma-separated) or :data:`MIRRORS`."""
    override = os.environ.get(MIRRORS_ENV, "")
    mirrors = [m.strip() for m in override.split(",") if m.strip()] or list(MIRRORS)
    return [m if m.endswith("/") else m + "/" for m in mirrors]


def download_timeout() -> float:
    """Seconds a mirror may stay silent: ``$FASHION_MNIST_VIS_DOWNLOAD_TIMEOUT`` or 30."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DOWNLOAD_TIMEOUT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise UserError(f"${TIMEOUT_ENV} must be a number of seconds above 0, not {text!r}")
    return seconds


def md5_of(path: Path) -> str:
    """Hex MD5 of a file's bytes."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_fashion_mnist(
    data_dir: Optional[Path] = None,
    cache_dir: Optional[Path] = None,
    mirrors: Optional[Sequence[str]] = None,
    files: Dict[str, IdxFile] = OFFICIAL_FILES,
    progress: Optional[TextIO] = sys.stderr,
) -> RawSplits:
    """Load Fashion-MNIST from ``data_dir``, else the cache, else the mirrors.

    Args:
        data_dir: a folder holding the four files (gzipped or not); if given,
            nothing is downloaded.
        cache_dir: the cache folder; default :func:`default_cache_dir`.
        mirrors: base URLs to download from; default :func:`configured_mirrors`.
        files: the four files' names and MD5s (tests pass their own).
        progress: where download progress goes; None for silence.

    Raises:
        UserError: if a file is missing, corrupt, or cannot be downloaded.
    """
    if data_dir is not None:
        paths = {key: _find_in_data_dir(Path(data_dir), spec) for key, spec in files.items()}
    else:
        cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        mirror_list = list(mirrors) if mirrors is not None else configured_mirrors()
        paths = {
            key: _cached_or_downloaded(cache, spec, mirror_list, files, progress)
            for key, spec in files.items()
        }
    x_train = read_idx(paths["train_images"], (IMAGE_SIZE, IMAGE_SIZE))
    y_train = read_idx(paths["train_labels"])
    x_test = read_idx(paths["test_images"], (IMAGE_SIZE, IMAGE_SIZE))
    y_test = read_idx(paths["test_labels"])
    _check_pair(paths["train_images"], x_train, paths["train_labels"], y_train)
    _check_pair(paths["test_images"], x_test, paths["test_labels"], y_test)
    checksums = {path.name: md5_of(path) for path in paths.values()}
    return RawSplits(x_train, y_train, x_test, y_test, checksums)


def _check_pair(images_path: Path, images: np.ndarray, labels_path: Path, labels: np.ndarray) -> None:
    if len(images) != len(labels):
        raise UserError(
            f"{images_path.name} has {len(images)} images but {labels_path.name} has "
            f"{len(labels)} labels; the files do not belong together"
        )
    if labels.size and labels.max() > 9:
        raise UserError(f"{labels_path}: label {int(labels.max())} is outside 0..9")


def _find_in_data_dir(data_dir: Path, spec: IdxFile) -> Path:
    if not data_dir.is_dir():
        raise UserError(f"--data-dir {str(data_dir)!r} is not a folder")
    plain_name = spec.name[: -len(".gz")]
    for candidate in (data_dir / spec.name, data_dir / plain_name):
        if candidate.is_file():
            return candidate
    raise UserError(
        f"{spec.name} (or {plain_name}) not found in {data_dir}; it needs all four files: "
        + ", ".join(f.name for f in OFFICIAL_FILES.values())
    )


def _cached_or_downloaded(
    cache: Path,
    spec: IdxFile,
    mirrors: Sequence[str],
    files: Dict[str, IdxFile],
    progress: Optional[TextIO],
) -> Path:
    target = cache / spec.name
    notes = []  # said once a mirror succeeds; if none does, the one error line says it all
    if target.is_file():
        if md5_of(target) == spec.md5:
            return target
        notes.append(f"{target} is corrupt (MD5 mismatch); downloading it again")
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create the cache folder {cache}: {error.strerror or error}") from None
    timeout = download_timeout()
    failures = []
    for mirror in mirrors:
        url = mirror + spec.name
        try:
            _download_verified(url, target, spec.md5, progress, timeout)
            for note in notes:
                _say(progress, note)
            return target
        except _DownloadFailed as failure:
            failures.append(f"{url}: {failure}")
            notes.append(f"download failed: {url}: {failure}")
    raise UserError(_no_download_message(cache, files, failures, corrupt=target.is_file()))


def _no_download_message(
    cache: Path, files: Dict[str, IdxFile], failures: List[str], corrupt: bool = False
) -> str:
    names = ", ".join(spec.name for spec in files.values())
    tried = f" (tried {len(failures)} mirror{'s' if len(failures) != 1 else ''}: " + "; ".join(failures) + ")" \
        if failures else " (no mirrors configured)"
    cached = " The cached copy failed its MD5 check." if corrupt else ""
    return (
        f"could not download Fashion-MNIST{tried}.{cached} Put the four files {names} in {cache} "
        f"or in a folder given with --data-dir, or train on generated data with --dataset synthetic"
    )


class _DownloadFailed(Exception):
    """One mirror failed for one file; the caller tries the next mirror."""


def _download_verified(
    url: str, target: Path, md5: str, progress: Optional[TextIO], timeout: float
) -> None:
    """Download ``url`` to ``target`` via a temporary file, keeping it only if its MD5 matches."""
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            received, total, checksum = _fetch(url, out, target.name, progress, timeout)
        if total and received != total:
            raise _DownloadFailed(f"truncated: got {received} of {total} bytes")
        if checksum != md5:
            raise _DownloadFailed(f"MD5 {checksum} does not match the official {md5}")
        os.replace(temp_name, target)
    except BaseException:
        try:
            os.remove(temp_name)
        except FileNotFoundError:
            pass
        raise


def _fetch(url: str, out, name: str, progress: Optional[TextIO], timeout: float):
    """Stream ``url`` into ``out``; return (bytes received, Content-Length or 0, hex MD5).

    ``timeout`` bounds the connection and every read (a stalled server fails, it does not hang).
    """
    digest = hashlib.md5()
    received = total = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            for block in iter(lambda: response.read(1 << 16), b""):
                out.write(block)
                digest.update(block)
                received += len(block)
                _show_progress(progress, name, received, total)
    except urllib.error.HTTPError as error:
        raise _DownloadFailed(f"HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise _DownloadFailed(str(error.reason)) from None
    except (OSError, ValueError, http.client.HTTPException) as error:  # timeouts, resets, short reads
        raise _DownloadFailed(str(error) or type(error).__name__) from None
    finally:
        if progress is not None and received:
            progress.write("\n")
    return received, total, digest.hexdigest()


def _show_progress(progress: Optional[TextIO], name: str, received: int, total: int) -> None:
    if progress is None:
        return
    if total:
        done = int(30 * received / total)
        bar = "#" * done + "." * (30 - done)
        progress.write(f"\r{name} [{bar}] {received / 1e6:.1f}/{total / 1e6:.1f} MB")
    else:
        progress.write(f"\r{name} {received / 1e6:.1f} MB")
    progress.flush()


def _say(progress: Optional[TextIO], message: str) -> None:
    if progress is not None:
        progress.write(message + "\n")
        progress.flush()
