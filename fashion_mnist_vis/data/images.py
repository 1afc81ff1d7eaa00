"""Reading any photo safely: one RGB image per file, or one clear error.

:func:`load_image` opens JPEG (RGB, greyscale or CMYK), PNG (8- and 16-bit,
palette, with or without transparency), GIF (first frame), BMP, TIFF, WebP
and PNM files and always returns an 8-bit ``RGB`` :class:`PIL.Image.Image`:

* the EXIF orientation tag is applied, so a phone photo is upright;
* transparent areas are composited on white (a product cut-out on a
  transparent background looks like a product photo on white);
* 16-bit and 32-bit greyscale is scaled to 8 bits (0..65535 -> 0..255)
  instead of being clipped.

Everything that can go wrong with a user's file (missing, a folder, empty,
not an image, truncated, unreadable, too many pixels, zero size) raises
:class:`~fashion_mnist_vis.errors.UserError` with a one-line message that
names the file. Pixel data is decoded completely inside :func:`load_image`,
so a truncated file fails here and not later.

:func:`collect_image_paths` turns command-line arguments (files and folders)
into the list of files to classify.
"""

import os
import struct
import warnings
from pathlib import Path
from typing import Iterable, List, Optional, Tuple, Union

import numpy as np
from PIL import Image, ImageOps

from fashion_mnist_vis.errors import UserError, one_line

MAX_PIXELS = 40_000_000
"""Images with more pixels than this (40 megapixels) are refused before decoding.

A real photo is rarely above 40 MP; a file claiming more is usually a
"decompression bomb" that would need gigabytes of memory to decode.
"""

IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif",
        ".png",
        ".gif",
        ".bmp", ".dib",
        ".tif", ".tiff",
        ".webp",
        ".ppm", ".pgm", ".pbm", ".pnm",
    }
)
"""File name extensions (lower case) that :func:`collect_image_paths` picks from a folder."""

# Decoders we let Pillow try. Deliberately short: no EPS/PDF (they run
# Ghostscript) and no header-less formats that could claim a random file.
_FORMATS = ("JPEG", "MPO", "PNG", "GIF", "BMP", "DIB", "TIFF", "WEBP", "PPM")

PathLike = Union[str, "os.PathLike[str]"]


def load_image(path: PathLike) -> Image.Image:
    """Read the image file at ``path`` and return it as an 8-bit RGB image.

    The returned image is fully decoded and detached from the file (the file
    is closed), upright according to its EXIF orientation tag, and has no
    transparency: transparent pixels are composited on white. Animated GIFs
    and multi-page TIFFs give their first frame.

    Raises:
        UserError: if the file is missing, a folder, empty, unreadable, not
            an image Pillow can decode, truncated or damaged, larger than
            :data:`MAX_PIXELS`, or has zero width or height. The message is
            one line and names the file.
    """
    path = Path(path)
    name = str(path)
    _check_readable_file(path, what="image file")
    try:
        with warnings.catch_warnings():
            # Pillow warns (instead of failing) between MAX_IMAGE_PIXELS and
            # twice that; treat the warning as the error it is for us.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=_decoders()) as image:
                width, height = image.size
                if width <= 0 or height <= 0:
                    raise UserError(f"image file {name!r} has zero size ({width}x{height} pixels)")
                if width * height > MAX_PIXELS:
                    raise _too_big(name, width, height)
                image.load()  # decode everything now, so truncation shows up here
                return to_rgb(ImageOps.exif_transpose(image))
    except UserError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        size = _header_size(path)
        if size is not None:
            raise _too_big(name, *size) from None
        raise UserError(
            f"image file {name!r} claims more than {MAX_PIXELS // 1_000_000} megapixels; "
            "refusing to decode it (a damaged file or a decompression bomb)"
        ) from None
    except Image.UnidentifiedImageError:
        size = _header_size(path)
        if size is not None and 0 in size:
            raise UserError(
                f"image file {name!r} has zero size ({size[0]}x{size[1]} pixels)"
            ) from None
        raise UserError(
            f"{name!r} is not an image file Pillow can read "
            "(supported: JPEG, PNG, GIF, BMP, TIFF, WebP, PNM)"
        ) from None
    except PermissionError:
        raise UserError(f"cannot read image file {name!r}: permission denied") from None
    except MemoryError:
        raise UserError(f"image file {name!r} is too large to decode in the available memory") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as error:
        # Pillow reports truncated or corrupt data with any of these.
        detail = one_line(error)
        raise UserError(f"image file {name!r} is truncated or damaged ({detail})") from None


def _header_size(path: Path) -> Optional[Tuple[int, int]]:
    """(width, height) from a PNG or GIF header, or None; used only to explain errors.

    Pillow refuses zero-sized PNG and GIF files as unidentified; reading the
    header ourselves lets the error message say what is actually wrong.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(32)
    except OSError:
        return None
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        return struct.unpack(">II", head[16:24])
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    return None


def _decoders() -> List[str]:
    """The formats of :data:`_FORMATS` this Pillow build can decode (loads all plugins once)."""
    Image.init()
    return [name for name in _FORMATS if name in Image.OPEN]


def to_rgb(image: Image.Image) -> Image.Image:
    """Return a new 8-bit RGB copy of ``image`` in any Pillow mode.

    Transparency (an alpha channel, or a palette or greyscale image with a
    transparent colour) is composited on white. 16-bit greyscale
    (``I;16*``) is scaled from 0..65535 to 0..255, as is ``I`` (32-bit
    integer, which is how Pillow opens some 16-bit files) whose values fit
    in 0..65535; other ``I`` and ``F`` images are stretched from their
    minimum to their maximum. The input image is not modified.
    """
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return Image.fromarray(_wide_grey_to_uint8(image)).convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if mode == "RGB" and not has_alpha:
        return image.copy()
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError:
        # Modes without a direct route to RGB (e.g. LAB, HSV via some paths).
        return image.convert("L").convert("RGB")


def _wide_grey_to_uint8(image: Image.Image) -> np.ndarray:
    """Scale a 16/32-bit integer or float greyscale image to uint8 (see :func:`to_rgb`)."""
    values = np.asarray(image).astype(np.float64)
    if values.size == 0:
        return values.astype(np.uint8)
    if image.mode.startswith("I;16") or (
        image.mode == "I" and values.min() >= 0 and values.max() <= 65535
    ):
        scaled = values / 257.0  # 65535 / 255 == 257 exactly
    elif image.mode == "F" and values.min() >= 0.0 and values.max() <= 1.0:
        scaled = values * 255.0
    else:
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def collect_image_paths(inputs: Iterable[PathLike]) -> List[Path]:
    """Expand command-line arguments into the list of image files to process.

    Each input that is a file is kept as given, whatever its extension (it
    is checked when it is loaded). Each folder is replaced by the image
    files directly inside it (not in sub-folders) whose extension is in
    :data:`IMAGE_EXTENSIONS` (case-insensitive), sorted by name; hidden
    files (names starting with ``.``) are skipped. Order of the inputs is
    kept.

    Raises:
        UserError: if ``inputs`` is empty, a path does not exist, or a
            folder holds no image files.
    """
    inputs = list(inputs)
    if not inputs:
        raise UserError("no image files or folders given")
    paths: List[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = image_files_in(path)
            if not found:
                raise UserError(
                    f"folder {str(path)!r} contains no image files "
                    f"(looked for {', '.join(sorted(IMAGE_EXTENSIONS))})"
                )
            paths.extend(found)
        elif path.exists():
            paths.append(path)
        else:
            raise UserError(f"no such file or folder: {str(path)!r}")
    return paths


def image_files_in(folder: PathLike) -> List[Path]:
    """The image files directly inside ``folder``, sorted by name (possibly none).

    Picks regular files whose extension is in :data:`IMAGE_EXTENSIONS`
    (case-insensitive) and whose names do not start with ``.``; sub-folders
    are not searched.
    """
    return sorted(
        (
            child
            for child in Path(folder).iterdir()
            if child.suffix.lower() in IMAGE_EXTENSIONS and not child.name.startswith(".") and child.is_file()
        ),
        key=lambda child: child.name,
    )


def _check_readable_file(path: Path, what: str) -> None:
    """Raise UserError unless ``path`` is an existing, non-empty, readable regular file."""
    name = str(path)
    if not path.exists():
        raise UserError(f"{what} {name!r} does not exist")
    if path.is_dir():
        raise UserError(f"{what} {name!r} is a folder, not a file")
    if not path.is_file():  # opening a FIFO would block forever
        raise UserError(f"{what} {name!r} is not a regular file (a pipe, socket or device)")
    try:
        size = path.stat().st_size
    except OSError as error:
        raise UserError(f"cannot read {what} {name!r}: {error.strerror or error}") from None
    if size == 0:
        raise UserError(f"{what} {name!r} is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise UserError(f"cannot read {what} {name!r}: permission denied")


def _too_big(name: str, width: int, height: int) -> UserError:
    return UserError(
        f"image file {name!r} is {width}x{height} pixels, more than the "
        f"{MAX_PIXELS // 1_000_000} megapixel limit; refusing to decode it "
        "(if it is a real photo, scale it down first)"
    )
