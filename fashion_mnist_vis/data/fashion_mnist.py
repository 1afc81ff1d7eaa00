"""Finding, downloading and loading the real Fashion-MNIST files.

Every file is verified by the MD5 of its **decompressed** content (the IDX
bytes), never by the MD5 of a ``.gz``: gzip output depends on the compressor,
so a recompressed copy (Debian's package recompresses the official files) is
accepted when it holds the official data, and a wrong or truncated file is
refused wherever it comes from. :data:`OFFICIAL_FILES` lists those MD5s (the
official ``.gz`` files from the mirrors decompress to exactly these bytes).

Where the four official IDX files are looked for, in order:

1. ``data_dir`` (``--data-dir``), if given: the files as ``NAME.gz`` or
   uncompressed ``NAME``; nothing is downloaded. These files are checked but
   not refused (the user chose them): the report records which are official.
2. The cache folder: ``$FASHION_MNIST_VIS_CACHE_DIR`` or, by default,
   ``~/.keras/datasets/fashion-mnist`` (so an existing Keras cache is reused).
   A cached file that fails its check is downloaded again.
3. The system-wide copy: ``$FASHION_MNIST_VIS_SYSTEM_DIR`` or, by default,
   ``/usr/share/datasets/fashion-mnist``, where Debian's and Ubuntu's package
   ``dataset-fashion-mnist`` installs the four files. It is read in place.
4. The mirrors (``$FASHION_MNIST_VIS_MIRRORS``, comma-separated base URLs,
   overrides :data:`MIRRORS`), tried in order. Each download goes to a
   temporary file in the cache, is verified, and only then renamed into
   place, so the cache never holds a partial file. A mirror that refuses
   the connection, answers an HTTP error, sends a short or wrong file, or
   stalls for ``$FASHION_MNIST_VIS_DOWNLOAD_TIMEOUT`` seconds (default 30)
   is skipped for the next; when every mirror fails, the one error line says
   what each did.

Each file is looked for on its own, so the four may come from different
places; :attr:`RawSplits.source` says where they came from and
:attr:`RawSplits.checksums` what was verified.
"""

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, TextIO

import numpy as np

from fashion_mnist_vis.classes import IMAGE_SIZE
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.data.idx import decompressed, parse_idx, read_content

CACHE_ENV = "FASHION_MNIST_VIS_CACHE_DIR"
SYSTEM_ENV = "FASHION_MNIST_VIS_SYSTEM_DIR"
MIRRORS_ENV = "FASHION_MNIST_VIS_MIRRORS"
TIMEOUT_ENV = "FASHION_MNIST_VIS_DOWNLOAD_TIMEOUT"
DEFAULT_CACHE_DIR = Path("~/.keras/datasets/fashion-mnist")
DEFAULT_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
SYSTEM_PACKAGE = "dataset-fashion-mnist"

MIRRORS = (
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
DOWNLOAD_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class IdxFile:
    """One of the four dataset files: its official (gzipped) name and the MD5 of its decompressed content."""

    name: str
    md5: str


# MD5s of the decompressed IDX files. Zalando publishes the MD5s of its .gz files instead
# (train images 8d4fb7e6c68d591d4c3dfef9ec88bf0d, train labels 25c81989df183df01b3e8a0aad5dffbe,
# test images bef4ecab320f06d8554ea6380940ec79, test labels bb300cfdad3c16e7a12a480ee83cd310);
# those decompress to the bytes below, and so do Debian's recompressed copies.
OFFICIAL_FILES: Dict[str, IdxFile] = {
    "train_images": IdxFile("train-images-idx3-ubyte.gz", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    "train_labels": IdxFile("train-labels-idx1-ubyte.gz", "9018921c3c673c538a1fc5bad174d6f9"),
    "test_images": IdxFile("t10k-images-idx3-ubyte.gz", "8181f5470baa50b63fa0f6fddb340f0a"),
    "test_labels": IdxFile("t10k-labels-idx1-ubyte.gz", "15d484375f8d13e6eb1aabb0c3f46965"),
}


@dataclass(frozen=True)
class RawSplits:
    """The dataset as uint8 arrays: images (N, 28, 28) in 0..255, labels (N,) in 0..9.

    ``source`` says in one line where the files came from, e.g.
    "Fashion-MNIST from /usr/share/datasets/fashion-mnist". ``checksums`` maps
    each file name to what was verified, for reports: ``{"path": str,
    "decompressed_md5": hex str, "verified": bool}``, where ``verified`` means
    the content's MD5 is the official one (always true except with ``data_dir``).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    checksums: Dict[str, Dict[str, object]]


@dataclass(frozen=True)
class _Found:
    """One file as loaded: where it is, where it came from ("from DIR", ...), its IDX bytes and their check."""

    path: Path
    origin: str
    content: bytes
    md5: str
    verified: bool

    def record(self) -> Dict[str, object]:
        return {"path": str(self.path), "decompressed_md5": self.md5, "verified": self.verified}


def default_cache_dir() -> Path:
    """The cache folder: ``$FASHION_MNIST_VIS_CACHE_DIR`` or ``~/.keras/datasets/fashion-mnist``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser()


def default_system_dir() -> Path:
    """The system-wide copy: ``$FASHION_MNIST_VIS_SYSTEM_DIR`` or ``/usr/share/datasets/fashion-mnist``."""
    return Path(os.environ.get(SYSTEM_ENV) or DEFAULT_SYSTEM_DIR).expanduser()


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


def content_md5(path: Path) -> str:
    """Hex MD5 of a file's IDX bytes (decompressed first if gzipped): what the loader verifies.

    Raises:
        UserError: naming the file, if it is missing, unreadable or corrupt gzip.
    """
    return hashlib.md5(read_content(path)).hexdigest()


def load_fashion_mnist(
    data_dir: Optional[Path] = None,
    cache_dir: Optional[Path] = None,
    mirrors: Optional[Sequence[str]] = None,
    files: Dict[str, IdxFile] = OFFICIAL_FILES,
    progress: Optional[TextIO] = sys.stderr,
    system_dir: Optional[Path] = None,
) -> RawSplits:
    """Load Fashion-MNIST from ``data_dir``, else the cache, else the system copy, else the mirrors.

    Args:
        data_dir: a folder holding the four files (gzipped or not); if given,
            nothing else is looked at and nothing is downloaded.
        cache_dir: the cache folder; default :func:`default_cache_dir`.
        mirrors: base URLs to download from; default :func:`configured_mirrors`.
        files: the four files' names and decompressed MD5s (tests pass their own).
        progress: where download progress and notes go; None for silence.
        system_dir: the system-wide copy; default :func:`default_system_dir`
            (a folder that does not exist is skipped).

    Raises:
        UserError: if a file is missing, corrupt, or cannot be downloaded.
    """
    if data_dir is not None:
        found = {key: _from_data_dir(Path(data_dir), spec) for key, spec in files.items()}
    else:
        places = _Places(
            cache=Path(cache_dir) if cache_dir is not None else default_cache_dir(),
            system=Path(system_dir) if system_dir is not None else default_system_dir(),
            mirrors=list(mirrors) if mirrors is not None else configured_mirrors(),
        )
        found = {key: _cached_system_or_downloaded(places, spec, files, progress) for key, spec in files.items()}
    image_dims = (IMAGE_SIZE, IMAGE_SIZE)
    x_train = parse_idx(found["train_images"].content, found["train_images"].path, image_dims)
    y_train = parse_idx(found["train_labels"].content, found["train_labels"].path)
    x_test = parse_idx(found["test_images"].content, found["test_images"].path, image_dims)
    y_test = parse_idx(found["test_labels"].content, found["test_labels"].path)
    _check_pair(found["train_images"].path, x_train, found["train_labels"].path, y_train)
    _check_pair(found["test_images"].path, x_test, found["test_labels"].path, y_test)
    checksums = {item.path.name: item.record() for item in found.values()}
    return RawSplits(x_train, y_train, x_test, y_test, _describe_source(found.values()), checksums)


def _describe_source(found: Iterable[_Found]) -> str:
    """One line: "Fashion-MNIST from DIR", or which files came from where when they differ."""
    found = list(found)
    by_origin: Dict[str, List[str]] = {}
    for item in found:
        by_origin.setdefault(item.origin, []).append(item.path.name)
    if len(by_origin) == 1:
        source = f"Fashion-MNIST {next(iter(by_origin))}"
    else:
        source = "Fashion-MNIST: " + "; ".join(f"{', '.join(names)} {origin}" for origin, names in by_origin.items())
    unofficial = sum(not item.verified for item in found)
    if unofficial:
        source += f" ({unofficial} of {len(found)} files are not the official ones)"
    return source


def _check_pair(images_path: Path, images: np.ndarray, labels_path: Path, labels: np.ndarray) -> None:
    if len(images) != len(labels):
        raise UserError(
            f"{images_path.name} has {len(images)} images but {labels_path.name} has "
            f"{len(labels)} labels; the files do not belong together"
        )
    if labels.size and labels.max() > 9:
        raise UserError(f"{labels_path}: label {int(labels.max())} is outside 0..9")


def _candidates(folder: Path, spec: IdxFile) -> List[Path]:
    """The files in ``folder`` that may be ``spec``: ``NAME.gz`` or the uncompressed ``NAME``."""
    plain_name = spec.name[: -len(".gz")]
    return [path for path in (folder / spec.name, folder / plain_name) if path.is_file()]


def _from_data_dir(data_dir: Path, spec: IdxFile) -> _Found:
    if not data_dir.is_dir():
        raise UserError(f"data folder {str(data_dir)!r} is not a folder", settings=("data_dir",))
    candidates = _candidates(data_dir, spec)
    if not candidates:
        raise UserError(
            f"{spec.name} (or {spec.name[: -len('.gz')]}) not found in {data_dir}; it needs all four files: "
            + ", ".join(f.name for f in OFFICIAL_FILES.values())
        )
    content = read_content(candidates[0])
    md5 = hashlib.md5(content).hexdigest()
    return _Found(candidates[0], f"from {data_dir}", content, md5, verified=md5 == spec.md5)


@dataclass(frozen=True)
class _Places:
    """Where files are looked for when there is no ``data_dir``: the cache, the system copy, the mirrors."""

    cache: Path
    system: Path
    mirrors: List[str]


class _Refused(Exception):
    """A file failed its check, or a mirror failed for one file; the message says why."""


def _verified(path: Path, md5: str, origin: str) -> _Found:
    """``path`` as a verified :class:`_Found`, if its decompressed content has MD5 ``md5``.

    Raises:
        _Refused: saying what is wrong (unreadable, corrupt gzip, MD5 mismatch).
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise _Refused(f"cannot read it ({error.strerror or error})") from None
    try:
        content = decompressed(raw)
    except ValueError as error:
        raise _Refused(str(error)) from None
    actual = hashlib.md5(content).hexdigest()
    if actual != md5:
        raise _Refused(f"MD5 {actual} of its content does not match the official {md5}")
    return _Found(path, origin, content, actual, verified=True)


def _cached_system_or_downloaded(
    places: _Places, spec: IdxFile, files: Dict[str, IdxFile], progress: Optional[TextIO]
) -> _Found:
    target = places.cache / spec.name
    notes = []  # said once a mirror succeeds; if none does, the one error line says it all
    problems = []  # for that error line
    if target.is_file():
        try:
            return _verified(target, spec.md5, f"from the cache {places.cache}")
        except _Refused as refusal:
            notes.append(f"{target} is corrupt ({refusal}); downloading it again")
            problems.append(f"The cached copy {target} is corrupt: {refusal}.")
    for path in _candidates(places.system, spec):
        try:
            return _verified(path, spec.md5, f"from {places.system}")
        except _Refused as refusal:
            notes.append(f"{path} is corrupt ({refusal}); not using it")
            problems.append(f"The system copy {path} is corrupt: {refusal}.")
    if not places.mirrors:  # nothing to download: no cache folder to create
        raise UserError(_no_download_message(places.cache, files, [], problems),
                        settings=("data_dir", "dataset=synthetic"))
    try:
        places.cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create the cache folder {places.cache}: {error.strerror or error}") from None
    timeout = download_timeout()
    failures = []
    for mirror in places.mirrors:
        url = mirror + spec.name
        origin = f"downloaded from {mirror} into {places.cache}"
        try:
            found = _download_verified(url, target, spec.md5, origin, progress, timeout)
        except _Refused as failure:
            failures.append(f"{url}: {failure}")
            notes.append(f"download failed: {url}: {failure}")
            continue
        for note in notes:
            _say(progress, note)
        return found
    raise UserError(_no_download_message(places.cache, files, failures, problems),
                    settings=("data_dir", "dataset=synthetic"))


def _no_download_message(cache: Path, files: Dict[str, IdxFile], failures: List[str], problems: List[str]) -> str:
    names = ", ".join(spec.name for spec in files.values())
    tried = f" (tried {len(failures)} mirror{'s' if len(failures) != 1 else ''}: " + "; ".join(failures) + ")" \
        if failures else " (no mirrors configured)"
    found_bad = "".join(" " + problem for problem in problems)
    return (
        f"could not download Fashion-MNIST{tried}.{found_bad} On Debian or Ubuntu, "
        f"`apt-get install {SYSTEM_PACKAGE}` installs the four files in {DEFAULT_SYSTEM_DIR} for use offline; "
        f"or put the four files {names} in {cache} or in a data folder of your own, "
        f"or train on generated data (the synthetic dataset)"
    )


def _download_verified(
    url: str, target: Path, md5: str, origin: str, progress: Optional[TextIO], timeout: float
) -> _Found:
    """Download ``url`` to ``target`` via a temporary file, keeping it only if its content's MD5 matches."""
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            received, total = _fetch(url, out, target.name, progress, timeout)
        if total and received != total:
            raise _Refused(f"truncated: got {received} of {total} bytes")
        found = _verified(Path(temp_name), md5, origin)
        os.replace(temp_name, target)
        return replace(found, path=target)
    except BaseException:
        try:
            os.remove(temp_name)
        except FileNotFoundError:
            pass
        raise


def _fetch(url: str, out, name: str, progress: Optional[TextIO], timeout: float):
    """Stream ``url`` into ``out``; return (bytes received, Content-Length or 0).

    ``timeout`` bounds the connection and every read (a stalled server fails, it does not hang).
    """
    received = total = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            for block in iter(lambda: response.read(1 << 16), b""):
                out.write(block)
                received += len(block)
                _show_progress(progress, name, received, total)
    except urllib.error.HTTPError as error:
        raise _Refused(f"HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise _Refused(str(error.reason)) from None
    except (OSError, ValueError, http.client.HTTPException) as error:  # timeouts, resets, short reads
        raise _Refused(str(error) or type(error).__name__) from None
    finally:
        if progress is not None and received:
            progress.write("\n")
    return received, total


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
