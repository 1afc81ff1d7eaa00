"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a big-endian header followed by raw data: two zero bytes, a
type code (0x08 = unsigned byte), the number of dimensions, one uint32 per
dimension, then the values in C order. See http://yann.lecun.com/exdb/mnist/.
Files may be gzip-compressed (``.gz``); both forms are read.
"""

import gzip
import struct
import zlib
from pathlib import Path
from typing import Tuple, Union

import numpy as np

from fashion_mnist_vis.errors import UserError

UNSIGNED_BYTE = 0x08


def decompressed(raw: bytes) -> bytes:
    """``raw`` itself, or its decompression if it starts with the gzip magic (whatever the file is called).

    Raises:
        ValueError: "corrupt or truncated gzip data (...)" if the gzip stream is damaged.
    """
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"corrupt or truncated gzip data ({error})") from None


def read_content(path: Union[str, Path]) -> bytes:
    """The IDX bytes of a file, plain or gzipped (decompressed here).

    Raises:
        UserError: naming the file, if it is missing, unreadable or corrupt gzip.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror or error})") from None
    try:
        return decompressed(raw)
    except ValueError as error:
        raise UserError(f"{path}: {error}") from None


def read_idx(path: Union[str, Path], expected_dims: Tuple[int, ...] = ()) -> np.ndarray:
    """Read an unsigned-byte IDX file (plain or gzipped) into a uint8 array.

    Args:
        path: the file.
        expected_dims: if given, the trailing dimensions the file must have,
            e.g. ``(28, 28)`` for images or ``()`` for labels (rank 1).

    Returns:
        uint8 array whose shape is the file's dimensions, e.g. (60000, 28, 28).

    Raises:
        UserError: naming the file, if it is missing, not an IDX file, of the
            wrong type or shape, or shorter or longer than its header says.
    """
    return parse_idx(read_content(path), path, expected_dims)


def parse_idx(data: bytes, path: Union[str, Path], expected_dims: Tuple[int, ...] = ()) -> np.ndarray:
    """Parse the (decompressed) bytes of an unsigned-byte IDX file; ``path`` names it in errors.

    Returns and raises as :func:`read_idx`.
    """
    if len(data) < 4:
        raise UserError(f"{path}: not an IDX file (only {len(data)} bytes)")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or ndim == 0:
        raise UserError(f"{path}: not an IDX file (bad magic number 0x{data[:4].hex()})")
    if type_code != UNSIGNED_BYTE:
        raise UserError(f"{path}: IDX data type 0x{type_code:02x} is not unsigned byte (0x08)")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise UserError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header_size])
    expected_rank = 1 + len(expected_dims)
    if ndim != expected_rank or tuple(dims[1:]) != tuple(expected_dims):
        want = "x".join(str(d) for d in ("N", *expected_dims))
        raise UserError(f"{path}: IDX dimensions {'x'.join(map(str, dims))}, expected {want}")
    expected_size = header_size + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected_size:
        state = "truncated" if len(data) < expected_size else "has trailing bytes"
        raise UserError(
            f"{path}: {state}: {len(data)} bytes, the header says {expected_size}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims)


def write_idx(path: Union[str, Path], array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file, gzipped if ``path`` ends in ``.gz``."""
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, UNSIGNED_BYTE, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    if path.suffix == ".gz":
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    path.write_bytes(payload)
    return path
