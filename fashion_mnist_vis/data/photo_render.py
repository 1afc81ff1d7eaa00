"""Fashion-MNIST images rendered as the photos people take of clothes: for measuring, not for training.

A Fashion-MNIST item is a light garment on black, 28 x 28, cropped and
centred. A product photo is a dark (often coloured) garment on a light,
uneven background, larger, off-centre, with a shadow, a little blur and JPEG
artefacts. :func:`render_photo` turns one into the other under a
:class:`PhotoStyle`, so a benchmark can classify the same test images as
arrays and as photos (``benchmarks/photos.py``) and tell which part of the
photo round trip costs accuracy.

How a photo is made from a uint8 (28, 28) image ``item`` (0 black .. 255 white):

1. ``item / 255`` is the garment's **coverage** (alpha) at each pixel; it is
   mirrored left-right if ``mirror``, rotated by ``rotation`` degrees
   (bicubic, growing the frame so no corner is lost) and upscaled with a
   Lanczos filter so its longer side is ``scale`` times the photo's shorter
   side (scale above 1 crops the garment tightly: its edges fall outside the
   photo).
2. The **background** is grey level ``background`` (0..255) plus a linear
   ramp of ``gradient`` grey levels across the photo (darker to the left,
   lighter to the right, at angle ``gradient_angle``).
3. A **soft shadow**: the coverage, shifted down-right by 3% of the photo and
   blurred, darkens the background by at most ``shadow`` (a fraction).
4. The **garment** is composited: ``photo = background * (1 - alpha) +
   garment_colour * alpha``, its centre placed at ``offset`` (fractions of the
   photo's size from the centre).
5. Gaussian **blur** of standard deviation ``blur`` pixels, then sensor **noise** (standard
   deviation ``noise`` grey levels), then the photo is 8-bit RGB; a file
   written by :func:`write_photo` is JPEG at ``jpeg_quality`` (or PNG when
   None).

Everything random (the noise) comes from the ``numpy.random.Generator``
passed in, so the same seed gives the same photo.
"""

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
from PIL import Image

from fashion_mnist_vis.atomic import atomic_path


@dataclass(frozen=True)
class PhotoStyle:
    """How :func:`render_photo` makes a photo of a Fashion-MNIST item (see the module's docstring).

    Attributes:
        size: (width, height) of the photo in pixels.
        scale: the garment's longer side over the photo's shorter side (above 0; above 1 crops it).
        offset: (x, y) of the garment's centre from the photo's centre, fractions of its width and height.
        background: background grey level at the centre, 0..255.
        gradient: grey levels the background rises across the photo (0: even).
        gradient_angle: direction of the rise in degrees (0: left to right, 90: top to bottom).
        shadow: how much the shadow darkens the background, 0..1 (0: none).
        garment_colour: the RGB colour of fully covered pixels.
        blur: standard deviation of the Gaussian blur in pixels (0: none).
        noise: standard deviation of the sensor noise in grey levels (0: none).
        rotation: degrees, anticlockwise.
        mirror: mirror the garment left-right (a shoe then faces right).
        jpeg_quality: 1..95 for a JPEG file, None for PNG (see :func:`write_photo`).
    """

    size: Tuple[int, int] = (320, 320)
    scale: float = 0.8
    offset: Tuple[float, float] = (0.0, 0.0)
    background: float = 238.0
    gradient: float = 0.0
    gradient_angle: float = 0.0
    shadow: float = 0.0
    garment_colour: Tuple[int, int, int] = (38, 40, 52)
    blur: float = 0.0
    noise: float = 0.0
    rotation: float = 0.0
    mirror: bool = False
    jpeg_quality: Optional[int] = 92

    def __post_init__(self):
        if min(self.size) < 8:
            raise ValueError(f"size must be at least 8 x 8 pixels; got {self.size}")
        if self.scale <= 0:
            raise ValueError(f"scale must be above 0; got {self.scale}")
        if not 0 <= self.shadow <= 1:
            raise ValueError(f"shadow must be in [0, 1]; got {self.shadow}")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 95:
            raise ValueError(f"jpeg_quality must be in 1..95 or None; got {self.jpeg_quality}")


PRODUCT = PhotoStyle()
"""A clean product photo: a dark garment centred on an even, light background."""

AS_TAKEN = PhotoStyle(scale=0.62, offset=(0.1, -0.06), background=205.0, gradient=50.0, gradient_angle=30.0,
                      shadow=0.35, blur=1.5, noise=3.0, jpeg_quality=70)
"""A photo as a person takes one: off-centre, an uneven background, a soft shadow, slight blur, JPEG."""

STYLES: Dict[str, PhotoStyle] = {
    "product": PRODUCT,
    "mirrored": replace(PRODUCT, mirror=True),
    "small (padded)": replace(PRODUCT, scale=0.3),
    "tight crop": replace(PRODUCT, scale=1.08),
    "off-centre": replace(PRODUCT, scale=0.6, offset=(0.17, 0.12)),
    "grey background": replace(PRODUCT, background=150.0),
    "background gradient": replace(PRODUCT, gradient=90.0, gradient_angle=20.0),
    "soft shadow": replace(PRODUCT, shadow=0.5),
    "blur": replace(PRODUCT, blur=3.0),
    "JPEG quality 15": replace(PRODUCT, jpeg_quality=15),
    "rotated 10 degrees": replace(PRODUCT, rotation=10.0),
    "rotated -10 degrees": replace(PRODUCT, rotation=-10.0),
    "as taken": AS_TAKEN,
    "as taken, mirrored": replace(AS_TAKEN, mirror=True),
}
"""The renderings the photo benchmark measures, by name: each changes one thing of :data:`PRODUCT`,
and the last two combine several."""


def render_photo(item: np.ndarray, style: PhotoStyle, rng: np.random.Generator) -> np.ndarray:
    """A photo of the Fashion-MNIST ``item`` under ``style`` (see the module's docstring).

    Args:
        item: uint8 (28, 28) (any size works), 0 black .. 255 white: a light garment on black.
        style: how the photo is taken.
        rng: the source of the sensor noise.

    Returns:
        uint8 (height, width, 3) RGB photo.
    """
    item = np.asarray(item)
    if item.ndim != 2:
        raise ValueError(f"item must be one greyscale image (H, W); got shape {item.shape}")
    width, height = style.size
    alpha = _placed_coverage(item, style)
    background = _background(style)
    if style.shadow > 0:
        shift = max(1, int(round(0.03 * min(width, height))))
        shadow = np.zeros_like(alpha)
        shadow[shift:, shift:] = alpha[:-shift, :-shift]
        shadow = _gaussian(shadow, 0.04 * min(width, height))
        background = background * (1.0 - style.shadow * shadow)
    colour = np.asarray(style.garment_colour, dtype=np.float32)
    photo = background[:, :, None] * (1.0 - alpha[:, :, None]) + colour * alpha[:, :, None]
    if style.blur > 0:
        photo = np.stack([_gaussian(photo[:, :, channel], style.blur) for channel in range(3)], axis=2)
    if style.noise > 0:
        photo = photo + rng.normal(0.0, style.noise, size=photo.shape)
    return np.clip(np.rint(photo), 0, 255).astype(np.uint8)


def write_photo(photo: np.ndarray, stem: Path, style: PhotoStyle) -> Path:
    """Write ``photo`` (uint8 (H, W, 3)) as ``stem.jpg`` at ``style.jpeg_quality``, or ``stem.png``
    when that is None, atomically; returns the file's path."""
    suffix = ".png" if style.jpeg_quality is None else ".jpg"
    path = Path(stem).with_suffix(suffix)
    options = {} if style.jpeg_quality is None else {"quality": int(style.jpeg_quality)}
    with atomic_path(path) as temp:
        Image.fromarray(photo, "RGB").save(temp, format="PNG" if style.jpeg_quality is None else "JPEG",
                                           **options)
    return path


def _placed_coverage(item: np.ndarray, style: PhotoStyle) -> np.ndarray:
    """float32 (height, width) in [0, 1]: the garment's coverage, mirrored, rotated, scaled and placed."""
    width, height = style.size
    coverage = Image.fromarray(item.astype(np.float32) / 255.0, mode="F")
    if style.mirror:
        coverage = coverage.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if style.rotation:
        coverage = coverage.rotate(style.rotation, resample=Image.Resampling.BICUBIC, expand=True)
    longer = max(item.shape)
    factor = style.scale * min(width, height) / longer
    new_size = (max(1, int(round(coverage.width * factor))), max(1, int(round(coverage.height * factor))))
    scaled = np.clip(np.asarray(coverage.resize(new_size, Image.Resampling.LANCZOS)), 0.0, 1.0)
    canvas = np.zeros((height, width), dtype=np.float32)
    left = int(round(width / 2 + style.offset[0] * width - new_size[0] / 2))
    top = int(round(height / 2 + style.offset[1] * height - new_size[1] / 2))
    # The part of the scaled garment that falls inside the photo.
    src_left, src_top = max(0, -left), max(0, -top)
    dst_left, dst_top = max(0, left), max(0, top)
    span_w = min(new_size[0] - src_left, width - dst_left)
    span_h = min(new_size[1] - src_top, height - dst_top)
    if span_w > 0 and span_h > 0:
        canvas[dst_top:dst_top + span_h, dst_left:dst_left + span_w] = \
            scaled[src_top:src_top + span_h, src_left:src_left + span_w]
    return canvas


def _background(style: PhotoStyle) -> np.ndarray:
    """float32 (height, width): ``background`` at the centre, rising by ``gradient`` across the photo."""
    width, height = style.size
    x = (np.arange(width, dtype=np.float32) - (width - 1) / 2) / width
    y = (np.arange(height, dtype=np.float32) - (height - 1) / 2) / height
    angle = np.deg2rad(style.gradient_angle)
    ramp = np.cos(angle) * x[None, :] + np.sin(angle) * y[:, None]  # about -0.5 .. 0.5 along the direction
    return (style.background + style.gradient * ramp).astype(np.float32)


def _gaussian(values: np.ndarray, sigma: float) -> np.ndarray:
    """float32 (H, W) blurred by a Gaussian of standard deviation ``sigma`` pixels (edges reflected)."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(values.astype(np.float32), sigma, mode="reflect")
