"""Array helpers for drawing maps: tiling channels, resizing, placing maps on photos, overlays.

Plain numpy/Pillow, no matplotlib figures: they hold the resizing and colouring
that the CAM maths in :mod:`fashion_mnist_vis.explain.cam` leaves out, and are
shared by the classify pages (:mod:`~fashion_mnist_vis.visualize.layer_plots`,
:mod:`~fashion_mnist_vis.visualize.cam_plots`) and the webcam overlay
(:mod:`fashion_mnist_vis.video.frame_overlay`).
"""

import math
from typing import Optional, Tuple

import numpy as np
from matplotlib import colormaps
from PIL import Image

from fashion_mnist_vis.explain.methods.base import upsample

HEATMAP_CMAP = "jet"
"""Colour map of class activation maps (blue: no evidence, red: the strongest), as in the CAM papers."""

HEATMAP_ALPHA = 0.45
"""Opacity of a class activation map laid over an image."""

MAX_PHOTO_SIDE = 800
"""Photos are shown at most this many pixels wide or high (larger ones are scaled down first)."""


def grid_shape(count: int) -> Tuple[int, int]:
    """(rows, columns) of a near-square grid for ``count`` tiles, never taller than wide."""
    columns = max(1, math.ceil(math.sqrt(count)))
    return max(1, math.ceil(count / columns)), columns


def tile_gap(height: int, width: int) -> int:
    """Pixels left between tiles of (height, width) maps: about a tenth of a tile, at least 1."""
    return max(1, round(min(height, width) / 10))


def tile_channels(maps: np.ndarray, columns: Optional[int] = None, gap: Optional[int] = None) -> np.ndarray:
    """Lay every channel of a feature-map stack side by side in one image.

    Each channel is scaled to [0, 1] on its own (minimum -> 0, maximum -> 1;
    a constant channel becomes 0), so weak and strong channels are equally
    readable. Channels fill the grid row by row.

    Args:
        maps: float (h, w, channels).
        columns: tiles per row; default from :func:`grid_shape`.
        gap: pixels between tiles; default :func:`tile_gap`.

    Returns:
        float32 (rows * (h + gap) - gap, columns * (w + gap) - gap) with
        values in [0, 1] and NaN in the gaps and unused tiles.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (h, w, channels), got shape {maps.shape}")
    height, width, count = maps.shape
    rows, default_columns = grid_shape(count)
    columns = columns or default_columns
    rows = math.ceil(count / columns)
    gap = tile_gap(height, width) if gap is None else gap
    low = maps.min(axis=(0, 1))
    span = maps.max(axis=(0, 1)) - low
    scaled = np.where(span > 0, (maps - low) / np.where(span > 0, span, 1.0), 0.0)
    tiles = np.full((rows * columns, height + gap, width + gap), np.nan, dtype=np.float32)
    tiles[:count, :height, :width] = np.moveaxis(scaled, 2, 0)
    grid = tiles.reshape(rows, columns, height + gap, width + gap).transpose(0, 2, 1, 3)
    grid = grid.reshape(rows * (height + gap), columns * (width + gap))
    return grid[: grid.shape[0] - gap, : grid.shape[1] - gap]


def resize_map(heatmap: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Resize a float map (h, w) to ``size`` = (width, height) with bilinear interpolation.

    Returns float32 (height, width); values stay within the input's range.
    """
    width, height = size
    return upsample(heatmap, (height, width))


def place_on_canvas(
    heatmap: np.ndarray,
    image_size: Tuple[int, int],
    canvas_box: Optional[Tuple[float, float, float, float]],
) -> np.ndarray:
    """Map a heatmap over the model input back onto the photo it came from.

    Args:
        heatmap: float (h, w) in [0, 1], covering the model input.
        image_size: (width, height) of the photo as shown.
        canvas_box: (left, top, right, bottom) of the model input's area in
            the photo's coordinates (see ``Preprocessed.canvas_box``, scaled
            to the photo as shown); it may reach past the photo's edges. None
            means the model input covers the whole photo.

    Returns:
        float32 (height, width): the resized map where the canvas covers the
        photo, NaN elsewhere.
    """
    width, height = image_size
    if canvas_box is None:
        return resize_map(heatmap, (width, height))
    left, top, right, bottom = canvas_box
    canvas_w = max(1, int(round(right - left)))
    canvas_h = max(1, int(round(bottom - top)))
    resized = resize_map(heatmap, (canvas_w, canvas_h))
    placed = np.full((height, width), np.nan, dtype=np.float32)
    x0, y0 = int(round(left)), int(round(top))
    src_x, src_y = max(0, -x0), max(0, -y0)
    dst_x, dst_y = max(0, x0), max(0, y0)
    copy_w = min(canvas_w - src_x, width - dst_x)
    copy_h = min(canvas_h - src_y, height - dst_y)
    if copy_w > 0 and copy_h > 0:
        placed[dst_y:dst_y + copy_h, dst_x:dst_x + copy_w] = resized[src_y:src_y + copy_h, src_x:src_x + copy_w]
    return placed


def overlay(
    image: np.ndarray, heatmap: np.ndarray, alpha: float = HEATMAP_ALPHA, cmap: str = HEATMAP_CMAP
) -> np.ndarray:
    """Blend a coloured heatmap over an image.

    Args:
        image: float (H, W) greyscale or (H, W, 3) RGB, values in [0, 1].
        heatmap: float (H, W) in [0, 1]; NaN where there is no map (the image
            shows through unchanged).
        alpha: opacity of the heatmap.

    Returns:
        float32 (H, W, 3) RGB in [0, 1].
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.shape != image.shape[:2]:
        raise ValueError(f"heatmap {heatmap.shape} and image {image.shape[:2]} differ in size")
    known = np.isfinite(heatmap)
    colours = colormaps[cmap](np.where(known, np.clip(heatmap, 0.0, 1.0), 0.0))[..., :3].astype(np.float32)
    weight = np.where(known, alpha, 0.0)[..., None].astype(np.float32)
    return np.clip(image * (1.0 - weight) + colours * weight, 0.0, 1.0)


def display_photo(photo: Image.Image, max_side: int = MAX_PHOTO_SIDE) -> Tuple[np.ndarray, float]:
    """A photo as float32 RGB (H, W, 3) in [0, 1], scaled down to at most ``max_side``.

    Returns the array and the scale factor applied (1.0 if not scaled).
    """
    scale = min(1.0, max_side / max(photo.width, photo.height))
    if scale < 1.0:
        photo = photo.resize(
            (max(1, round(photo.width * scale)), max(1, round(photo.height * scale))),
            Image.Resampling.LANCZOS, reducing_gap=3.0,
        )
    return np.asarray(photo.convert("RGB"), dtype=np.float32) / 255.0, scale


def display_grey(pixels: np.ndarray, max_side: int = MAX_PHOTO_SIDE) -> Tuple[np.ndarray, float]:
    """A uint8 greyscale array (H, W) scaled down to at most ``max_side``; returns it and the scale."""
    height, width = pixels.shape
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return pixels, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)), scale


# Figures are laid out in inches (fixed margins for titles, labels and colour
