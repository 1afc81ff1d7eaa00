"""Where the item is in a photo, and whether the photo has a plain background to find it on.

:func:`fashion_mnist_vis.data.preprocess.preprocess` crops a photo to its
item (step 4). It takes the median grey level of the photo's outermost ring
of pixels as the background (:func:`border_level`) and calls a pixel part of
the item when it differs from that level by more than a contrast threshold.
The threshold rises with how much the border itself varies (its median
absolute difference from the background level, :func:`locate_object`'s
``background_variation``): ``4 * variation + 16`` grey levels, at least
:data:`MIN_OBJECT_CONTRAST` (32) and at most :data:`MAX_OBJECT_CONTRAST` (96).

At a variation of :data:`PLAIN_BACKGROUND_LIMIT` (20 grey levels) the
threshold reaches its cap: beyond it the background varies as much as an
item stands out from it (a room, a table top, a landscape, a texture), and
the crop no longer finds *an item on a background*. Product photos and
photos of a garment on a sheet of paper or a wall vary by 0-12. The
unfamiliarity's ``busy_background`` check
(:mod:`fashion_mnist_vis.explain.input_checks`) reports photos above the
limit.
"""

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from PIL import Image, ImageFilter

MIN_OBJECT_CONTRAST = 32
"""A pixel belongs to the object if it differs from the background by more than this (at least)."""

MAX_OBJECT_CONTRAST = 96
"""The object's contrast threshold never rises above this, however much the border varies."""

_VARIATION_MULTIPLE, _VARIATION_OFFSET = 4.0, 16.0  # threshold = 4 * variation + 16, within the two bounds

PLAIN_BACKGROUND_LIMIT = (MAX_OBJECT_CONTRAST - _VARIATION_OFFSET) / _VARIATION_MULTIPLE
"""20.0 grey levels: a border varying by more than this has no plain background (the threshold is at its cap)."""

ANALYSIS_SIZE = 512
"""The object is located on a copy at most this large (box-averaged: fast, and it averages out noise)."""

Box = Tuple[int, int, int, int]


@dataclass(frozen=True)
class LocatedObject:
    """What :func:`locate_object` found.

    Attributes:
        box: (left, top, right, bottom; right and bottom exclusive) of what differs from the
            background, in the photo's pixels; None when nothing stands out.
        background_variation: the median absolute difference (0..255 grey levels) between the
            border ring (of the analysis copy) and the background level: 0 for an even background,
            above :data:`PLAIN_BACKGROUND_LIMIT` for a busy one.
    """

    box: Optional[Box]
    background_variation: float


def border_ring(pixels: np.ndarray) -> np.ndarray:
    """The outermost ring of pixels of a (H, W) array, 1-D (all pixels if the image is tiny)."""
    if pixels.shape[0] <= 2 or pixels.shape[1] <= 2:
        return pixels.ravel()
    return np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])


def border_level(pixels: np.ndarray) -> int:
    """Median grey level (0..255) of the outermost ring of pixels (all pixels if the image is tiny)."""
    return int(round(float(np.median(border_ring(pixels)))))


def contrast_threshold(background_variation: float) -> float:
    """Grey levels (32..96) by which a pixel must differ from the background to be part of the item;
    e.g. 32 for an even background, 56 for a variation of 10, 96 from :data:`PLAIN_BACKGROUND_LIMIT` on."""
    rising = _VARIATION_MULTIPLE * background_variation + _VARIATION_OFFSET
    return min(float(MAX_OBJECT_CONTRAST), max(float(MIN_OBJECT_CONTRAST), rising))


def locate_object(work: np.ndarray, background: int) -> LocatedObject:
    """The item's bounding box in ``work`` and how much its border varies.

    Args:
        work: uint8 (H, W) greyscale photo, already inverted and levelled as preprocess does.
        background: its background grey level (:func:`border_level`).

    Large photos are box-averaged down to at most :data:`ANALYSIS_SIZE` pixels first; the box is
    mapped back to full resolution conservatively. The mask of pixels differing by more than
    :func:`contrast_threshold` is median-filtered (3 x 3) so isolated JPEG noise does not count.
    """
    full_h, full_w = work.shape
    factor = max(1, math.ceil(max(full_h, full_w) / ANALYSIS_SIZE))
    small = Image.fromarray(work)
    if factor > 1:
        small = small.reduce(factor)
    difference = np.abs(np.asarray(small).astype(np.int16) - background)
    variation = float(np.median(border_ring(difference)))
    mask = difference > contrast_threshold(variation)
    if not mask.any():
        return LocatedObject(None, variation)
    if min(mask.shape) >= 3:
        filtered = np.asarray(
            Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MedianFilter(3))
        ) > 127
        if filtered.any():  # keep the raw mask for objects thinner than the filter
            mask = filtered
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    left, right = cols[0] * factor, min(full_w, (cols[-1] + 1) * factor)
    top, bottom = rows[0] * factor, min(full_h, (rows[-1] + 1) * factor)
    return LocatedObject((int(left), int(top), int(right), int(bottom)), variation)
