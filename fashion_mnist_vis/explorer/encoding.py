"""Arrays as small PNG data URLs for the explorer's page: images, preprocessing stages and feature-map mosaics."""

import base64
import io
import math
from typing import Dict

import numpy as np
from PIL import Image

#: Pixels between two channels' tiles in a feature-map mosaic (drawn black).
MOSAIC_GAP = 1


def png_data_url(pixels: np.ndarray) -> str:
    """``data:image/png;base64,...`` of uint8 pixels, (H, W) grey or (H, W, 3) RGB, 0..255."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail_data_url(image: Image.Image, largest_side: int = 192) -> str:
    """A PNG data URL of ``image`` (a PIL image) shrunk so that its longer side is at most ``largest_side``."""
    copy = image.copy()
    copy.thumbnail((largest_side, largest_side))
    return png_data_url(np.asarray(copy))


def unit_to_grey(values: np.ndarray) -> np.ndarray:
    """uint8 grey levels of float ``values`` in [0, 1] (clipped): 0 -> 0, 0.5 -> 128, 1 -> 255."""
    return np.round(np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def feature_mosaic(values: np.ndarray) -> Dict[str, object]:
    """One spatial layer's output as a grid of grey tiles, one per channel, each scaled on its own.

    Args:
        values: float32 (h, w, channels), a layer's output for one image.

    Returns:
        ``image``: a PNG data URL of the grid (channel c at row c // columns, column c % columns,
        tiles ``MOSAIC_GAP`` pixels apart); ``columns``, ``tile`` [h, w], ``channels``; ``low`` and
        ``high``: each channel's smallest and largest value (its tile maps low -> black, high -> white;
        a constant channel is black).
    """
    values = np.asarray(values, dtype=np.float32)
    height, width, channels = values.shape
    columns = max(1, math.ceil(math.sqrt(channels)))
    rows = math.ceil(channels / columns)
    low = values.min(axis=(0, 1))
    high = values.max(axis=(0, 1))
    span = np.where(high > low, high - low, 1.0)
    scaled = unit_to_grey((values - low) / span)
    step_y, step_x = height + MOSAIC_GAP, width + MOSAIC_GAP
    grid = np.zeros((rows * step_y - MOSAIC_GAP, columns * step_x - MOSAIC_GAP), dtype=np.uint8)
    for channel in range(channels):
        top, left = (channel // columns) * step_y, (channel % columns) * step_x
        grid[top:top + height, left:left + width] = scaled[:, :, channel]
    return {"image": png_data_url(grid), "columns": columns, "tile": [height, width], "channels": channels,
            "low": [round(float(v), 5) for v in low], "high": [round(float(v), 5) for v in high]}
