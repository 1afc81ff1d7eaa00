"""The Projector's sprite: every exported image as a thumbnail in one square PNG grid.

The Projector cuts the sprite into ``singleImageDim`` cells, row-major, one
per point in the tensor's order, and refuses images wider or taller than
:data:`MAX_SPRITE_SIDE` pixels: :func:`sprite_layout` shrinks the cells when
the grid would not fit (60,000 training images fit at full 28-pixel size:
245 per row, 6,860 pixels).
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

import numpy as np

from fashion_mnist_vis.classes import IMAGE_SIZE, NUM_CLASSES
from fashion_mnist_vis.errors import UserError

MAX_SPRITE_SIDE = 8192
"""The Projector refuses sprite images wider or taller than this (pixels)."""
MIN_THUMBNAIL = 7
"""Smallest thumbnail (pixels) the sprite may shrink to before the export refuses."""


@dataclass(frozen=True)
class SpriteLayout:
    """Where each thumbnail goes: ``per_row`` x ``per_row`` cells of ``cell`` x ``cell`` pixels.

    Thumbnail ``i`` sits in row ``i // per_row``, column ``i % per_row``
    (row-major, as the Projector reads it); the image is ``side`` x ``side``.
    """

    count: int
    per_row: int
    cell: int

    @property
    def side(self) -> int:
        return self.per_row * self.cell

    def origin(self, index: int) -> Tuple[int, int]:
        """(left, top) pixel of thumbnail ``index``."""
        return (index % self.per_row) * self.cell, (index // self.per_row) * self.cell


def sprite_layout(
    count: int, thumbnail: int = IMAGE_SIZE, max_side: int = MAX_SPRITE_SIDE, min_cell: int = MIN_THUMBNAIL
) -> SpriteLayout:
    """The square grid for ``count`` thumbnails that fits in ``max_side`` x ``max_side`` pixels.

    Thumbnails keep their ``thumbnail`` size when the grid fits, and shrink
    (to ``max_side // per_row`` pixels) when it would not.

    Raises:
        UserError: if even ``min_cell``-pixel thumbnails would not fit.
    """
    if count < 1:
        raise UserError("the sprite needs at least one image")
    per_row = math.isqrt(count - 1) + 1  # ceil(sqrt(count))
    cell = min(thumbnail, max_side // per_row)
    if cell < min_cell:
        limit = (max_side // min_cell) ** 2
        raise UserError(
            f"{count} thumbnails do not fit in the Projector's {max_side}x{max_side}-pixel sprite limit "
            f"even at {min_cell}x{min_cell} pixels each; export at most {limit} points", settings=("num",)
        )
    return SpriteLayout(count, per_row, cell)


TINT_LEVELS = 25
"""Brightness levels per class in the tinted sprite (10 x 25 colours + transparent fit a PNG palette)."""


class SpriteSheet:
    """Builds the sprite image batch by batch.

    ``tint=True``: each thumbnail is drawn in its true class's colour
    (:data:`~fashion_mnist_vis.visualize.embedding_plots.CLASS_COLOURS`), brighter where
    the input is brighter (``colour * (0.3 + 0.7 * v)`` for a pixel value
    ``v`` in [0, 1], in :data:`TINT_LEVELS` steps), on a transparent
    background (pixels that are 0 in the input; the Projector discards
    transparent pixels). So the Projector shows every point as its thumbnail
    coloured by label, with no colour setting needed. Saved as a palette PNG
    (a quarter of the size of RGBA). ``tint=False``: the inputs as they are,
    greyscale, light on black.

    Memory: one byte per sprite pixel (``side**2``; at most 64 MiB).
    """

    def __init__(self, layout: SpriteLayout, tint: bool = True):
        self.layout = layout
        self.tint = tint
        self.pixels = np.zeros((layout.side, layout.side), dtype=np.uint8)

    def add(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        """Place uint8 (B, 28, 28) ``images`` (true classes ``labels``) at cells start..start+B-1."""
        cell = self.layout.cell
        thumbnails = np.stack([_resize(image, cell) for image in images]) if len(images) else images
        for offset, pixels in enumerate(self._cell_pixels(thumbnails, np.asarray(labels))):
            left, top = self.layout.origin(start + offset)
            self.pixels[top : top + cell, left : left + cell] = pixels

    def _cell_pixels(self, thumbnails: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """uint8 (B, cell, cell): grey levels (plain), or palette indices: 0 transparent,
        1 + label * TINT_LEVELS + level. The whole batch at once."""
        if not self.tint:
            return thumbnails
        level = np.rint(thumbnails.astype(np.float32) * ((TINT_LEVELS - 1) / 255.0)).astype(np.uint8)
        level = np.maximum(level, 1 if TINT_LEVELS > 1 else 0)  # a faint pixel stays visible
        offsets = (1 + (labels.astype(np.int64) % NUM_CLASSES) * TINT_LEVELS)[:, None, None]
        return np.where(thumbnails > 0, offsets + level, 0).astype(np.uint8)

    def save(self, path: Path) -> None:
        """Write the sprite as a PNG (palette with a transparent entry when tinted, else greyscale)."""
        from PIL import Image

        if not self.tint:
            Image.fromarray(self.pixels, mode="L").save(path, format="PNG")
            return
        image = Image.fromarray(self.pixels, mode="P")
        image.putpalette(tint_palette().ravel().tolist())
        image.save(path, format="PNG", transparency=0)


def tint_palette() -> np.ndarray:
    """uint8 (1 + 10 * TINT_LEVELS, 3): entry 0 (transparent) black, then each class's colour
    at brightness 0.3 + 0.7 * level / (TINT_LEVELS - 1) for level 0..TINT_LEVELS-1."""
    from fashion_mnist_vis.visualize.embedding_plots import class_colours_rgb

    brightness = 0.3 + 0.7 * np.arange(TINT_LEVELS) / max(TINT_LEVELS - 1, 1)
    shades = class_colours_rgb().astype(np.float64)[:, None, :] * brightness[None, :, None]
    return np.concatenate([np.zeros((1, 3)), shades.reshape(-1, 3)]).round().astype(np.uint8)


def _resize(image: np.ndarray, cell: int) -> np.ndarray:
    """uint8 (H, W) -> uint8 (cell, cell); unchanged when already that size."""
    if image.shape == (cell, cell):
        return image
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((cell, cell), Image.Resampling.LANCZOS))
