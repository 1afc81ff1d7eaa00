"""Plots of what a model sees: inputs, feature-map grids, activation bars, CAM overlays.

Every ``plot_*`` function builds a matplotlib ``Figure`` (no pyplot, the Agg
backend) and returns it; one-panel plots take an optional ``ax`` to draw
into instead. Saving is the caller's job (:func:`fashion_mnist_vis.visualize.plots.save_figure`).

The array helpers (:func:`tile_channels`, :func:`resize_map`,
:func:`place_on_canvas`, :func:`overlay`) are plain numpy/Pillow and hold
the resizing and colouring that the CAM maths in
:mod:`fashion_mnist_vis.explain.cam` leaves out.
"""

import math
from typing import Optional, Sequence, Tuple

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from fashion_mnist_vis.classes import CLASS_NAMES

ACTIVATION_CMAP = "viridis"
HEATMAP_CMAP = "jet"
"""Colour map of class activation maps (blue: no evidence, red: the strongest), as in the CAM papers."""

HEATMAP_ALPHA = 0.45
"""Opacity of a class activation map laid over an image."""

MAX_PHOTO_SIDE = 800
"""Photos are shown at most this many pixels wide or high (larger ones are scaled down first)."""


# --------------------------------------------------------------------------- arrays


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
    image = Image.fromarray(np.asarray(heatmap, dtype=np.float32), mode="F")
    resized = np.asarray(image.resize((max(1, width), max(1, height)), Image.Resampling.BILINEAR))
    return np.clip(resized, float(np.min(heatmap)), float(np.max(heatmap))).astype(np.float32)


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
# bars), so saving needs no tight-bounding-box pass: save with
# ``save_figure(figure, path, tight=False)``. This halves the time to save.
COLORBAR_WIDTH = 0.2
"""Width of a colour bar in inches; 0.75 inch to its right holds its tick labels and label."""


def _axes(figure: Figure, left: float, bottom: float, width: float, height: float):
    """Add axes at a position given in inches from the figure's bottom-left corner."""
    fig_w, fig_h = figure.get_size_inches()
    return figure.add_axes((left / fig_w, bottom / fig_h, width / fig_w, height / fig_h))


def _fit(width: float, height: float, box_w: float, box_h: float) -> Tuple[float, float]:
    """The size of a width x height picture scaled to fit a box_w x box_h box (inches)."""
    scale = min(box_w / width, box_h / height)
    return width * scale, height * scale


def _colorbar(figure: Figure, mappable, left: float, bottom: float, height: float, label: str):
    cax = _axes(figure, left, bottom, COLORBAR_WIDTH, height)
    colorbar = figure.colorbar(mappable, cax=cax, ticks=[0.0, 0.5, 1.0])  # all our bars span 0..1
    colorbar.set_label(label, fontsize=9)
    colorbar.ax.tick_params(labelsize=8)
    return colorbar


def _heat_mappable() -> ScalarMappable:
    return ScalarMappable(norm=Normalize(0.0, 1.0), cmap=HEATMAP_CMAP)


def _hide_ticks(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _size_label(values: np.ndarray) -> str:
    return " \u00d7 ".join(str(size) for size in values.shape)


# --------------------------------------------------------------------------- inputs


def plot_photo(photo: Image.Image, title: str, ax=None) -> Figure:
    """The original photo (any size; drawn from a copy at most :data:`MAX_PHOTO_SIDE` pixels)."""
    pixels, _ = display_photo(photo)
    if ax is None:
        image_w, image_h = _fit(pixels.shape[1], pixels.shape[0], 6.0, 5.0)
        figure = Figure(figsize=(max(image_w, 3.6) + 0.3, image_h + 0.85))
        ax = _axes(figure, (figure.get_size_inches()[0] - image_w) / 2, 0.4, image_w, image_h)
    ax.imshow(pixels, interpolation="antialiased")
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(f"{photo.width} \u00d7 {photo.height} pixels", fontsize=9)
    _hide_ticks(ax)
    return ax.figure


def plot_greyscale_steps(prepared, axes: Optional[Sequence] = None) -> Figure:
    """Greyscale photo (with the crop in red) beside the image just before resizing.

    Args:
        prepared: a :class:`fashion_mnist_vis.data.preprocess.Preprocessed`.
        axes: two axes to draw into; a new figure when None.
    """
    if axes is None:
        figure = Figure(figsize=(9.8, 5.3))
        axes = [_axes(figure, 0.2, 0.45, 4.5, 4.3), _axes(figure, 5.1, 0.45, 4.5, 4.3)]
    figure = axes[0].figure
    grey_ax, prepared_ax = axes
    grey, scale = display_grey(prepared.greyscale)  # a 40-megapixel photo is drawn from a small copy
    grey_ax.imshow(grey, cmap="gray", vmin=0, vmax=255, interpolation="antialiased")
    height, width = prepared.greyscale.shape
    grey_ax.set_title(f"Greyscale ({width} \u00d7 {height})", fontsize=11)
    if prepared.crop_box is not None:
        left, top, right, bottom = (value * scale for value in prepared.crop_box)
        grey_ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left, bottom - top,
                                    fill=False, edgecolor="red", linewidth=2, linestyle="--"))
        grey_ax.set_xlabel("red box: the object found, with a small margin", fontsize=9)
    else:
        grey_ax.set_xlabel("nothing cropped", fontsize=9)
    _hide_ticks(grey_ax)
    if prepared.method == "original":
        steps = "the original demo's transform: no inversion, no crop"
    elif prepared.passed_through:
        steps = "already the model's size on a dark background: used as it is"
    else:
        steps = ", ".join([
            "inverted" if prepared.inverted else "not inverted",
            "cropped" if prepared.crop_box is not None else "not cropped",
            "padded to the model's shape",
        ])
    prepared_ax.imshow(display_grey(prepared.prepared)[0], cmap="gray", vmin=0, vmax=255,
                       interpolation="antialiased")
    prepared_ax.set_title(
        f"Before resizing ({prepared.prepared.shape[1]} \u00d7 {prepared.prepared.shape[0]})", fontsize=11)
    prepared_ax.set_xlabel(steps, fontsize=9)
    _hide_ticks(prepared_ax)
    return figure


def plot_model_input(model_input: np.ndarray, ax=None) -> Figure:
    """What the model saw: the (H, W, C) float input in [0, 1], one square per pixel.

    Only the first channel is drawn (a 3-channel input repeats the grey channel).
    """
    pixels = np.asarray(model_input, dtype=np.float32)[:, :, 0]
    height, width = pixels.shape
    cax_spec = None
    if ax is None:
        image_w, image_h = _fit(width, height, 5.0, 5.0)
        figure = Figure(figsize=(0.6 + image_w + 1.25, image_h + 1.05))
        ax = _axes(figure, 0.6, 0.6, image_w, image_h)
        cax_spec = (0.6 + image_w + 0.15, 0.6, image_h)
    figure = ax.figure
    image = ax.imshow(pixels, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_title(f"What the model saw: {height} \u00d7 {width} pixels", fontsize=11)
    step = 4 if max(height, width) > 16 else 1
    ax.set_xticks(range(0, width, step))
    ax.set_yticks(range(0, height, step))
    ax.tick_params(labelsize=8)
    ax.set_xlabel("pixel column", fontsize=9)
    ax.set_ylabel("pixel row", fontsize=9)
    label = "input value (0 = black, 1 = white)"
    if cax_spec:
        _colorbar(figure, image, *cax_spec, label)
    else:
        figure.colorbar(image, ax=ax, label=label)
    return figure


# --------------------------------------------------------------------------- layers


def plot_channel_grid(maps: np.ndarray, layer_name: str, layer_type: str, ax=None) -> Figure:
    """Every channel of a layer's output as one tiled image (one ``imshow``) with a colour bar.

    Args:
        maps: float (h, w, channels), one image's layer output.
        layer_name: e.g. ``conv2d_1``; layer_type: e.g. ``Conv2D``.

    To draw many layers, :class:`ChannelGridFigure` reuses one figure.
    """
    maps = np.asarray(maps, dtype=np.float32)
    columns = grid_shape(maps.shape[2])[1]
    grid = tile_channels(maps, columns, tile_gap(*maps.shape[:2]))
    cax_spec = None
    if ax is None:
        figsize, ax_box, cax_spec = _channel_grid_layout(grid.shape)
        figure = Figure(figsize=figsize)
        ax = _axes(figure, *ax_box)
    figure = ax.figure
    cmap = colormaps[ACTIVATION_CMAP].with_extremes(bad="white")
    image = ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    _hide_ticks(ax)  # (tick labels would cost a third of the drawing time)
    _label_channel_grid(ax, maps, layer_name, layer_type, columns)
    for spine in ax.spines.values():
        spine.set_visible(False)
    label = "activation (channel min = 0, max = 1)"
    if cax_spec:
        _colorbar(figure, image, *cax_spec, label)
    else:
        figure.colorbar(image, ax=ax, label=label)
    return figure


def _channel_grid_layout(grid_shape_px: Tuple[int, int]):
    """(figsize, image axes box, colour bar box) in inches for a tiled grid of (rows, columns) pixels."""
    image_w, image_h = _fit(grid_shape_px[1], grid_shape_px[0], 5.6, 6.4)
    figsize = (max(0.5 + image_w + 1.2, 5.6), image_h + 1.3)
    return figsize, (0.5, 0.6, image_w, image_h), (0.5 + image_w + 0.12, 0.6, image_h)


def _label_channel_grid(ax, maps: np.ndarray, layer_name: str, layer_type: str, columns: int) -> None:
    """Set the title and x label of a channel grid (everything on it that names the layer)."""
    height, width, count = maps.shape
    ax.set_title(
        f"{layer_name} ({layer_type}): {height} \u00d7 {width} \u00d7 {count}\n"
        f"values {float(maps.min()):.3g} to {float(maps.max()):.3g}; tiles scaled separately",
        fontsize=10,
    )
    ax.set_xlabel(f"{count} channels in reading order: channel 0 top left, then along each row "
                  f"({columns} per row)", fontsize=9)


class ChannelGridFigure:
    """Draws channel grids one after another into one reused figure.

    Building a figure (axes, ticks, colour bar) costs more than drawing it,
    and most of a network's grids have the same layout (all of ``gap_cnn``'s
    are 8 x 8 squares). :meth:`plot` therefore keeps the last figure and, when
    the next grid has the same layout, only replaces its image, the image's
    extent and the two texts that name the layer; the colour bar (always 0 to
    1) stays. Everything else is built once. The result is the same picture
    :func:`plot_channel_grid` draws in a new figure. Save (or copy) each
    returned figure before the next call: the next call changes it.
    """

    def __init__(self):
        self._layout = None
        self._figure: Optional[Figure] = None

    def plot(self, maps: np.ndarray, layer_name: str, layer_type: str) -> Figure:
        """Like ``plot_channel_grid(maps, layer_name, layer_type)``, possibly in the previous figure."""
        maps = np.asarray(maps, dtype=np.float32)
        columns = grid_shape(maps.shape[2])[1]
        grid = tile_channels(maps, columns, tile_gap(*maps.shape[:2]))
        layout = _channel_grid_layout(grid.shape)
        if layout != self._layout:
            self._figure, self._layout = plot_channel_grid(maps, layer_name, layer_type), layout
            return self._figure
        ax = self._figure.axes[0]
        (image,) = ax.images
        image.set_data(grid)
        rows, width = grid.shape
        image.set_extent((-0.5, width - 0.5, rows - 0.5, -0.5))  # imshow's extent; also sets the limits
        _label_channel_grid(ax, maps, layer_name, layer_type, columns)
        return self._figure


def plot_vector(values: np.ndarray, title: str, xlabel: str, ylabel: str, ax=None) -> Figure:
    """A 1-D activation vector (GAP outputs, a hidden Dense layer) as a bar chart."""
    values = np.asarray(values, dtype=np.float32).ravel()
    if ax is None:
        figure = Figure(figsize=(10.0, 3.8))
        ax = _axes(figure, 0.85, 0.6, 9.0, 2.75)
    figure = ax.figure
    positions = np.arange(len(values))
    ax.bar(positions, values, width=0.8 if len(values) <= 128 else 1.0, color="tab:blue")
    ax.set_xlim(-0.8, len(values) - 0.2)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=10)
    ax.tick_params(labelsize=8)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.grid(axis="y", alpha=0.3)
    if len(values):
        strongest = int(np.argmax(values))
        low, high = float(min(values.min(), 0.0)), float(max(values.max(), 0.0))
        ax.set_ylim(low - 0.02 * (high - low or 1.0), high + 0.15 * (high - low or 1.0))
        ax.annotate(f"largest: #{strongest} = {values[strongest]:.3g}", (strongest, values[strongest]),
                    xytext=(0, 4), textcoords="offset points", ha="center", fontsize=8)
    return figure


def plot_probabilities(
    probabilities: np.ndarray,
    title: str,
    highlight: Optional[int] = None,
    class_names: Sequence[str] = CLASS_NAMES,
    ax=None,
) -> Figure:
    """Class probabilities as labelled horizontal bars, the ``highlight`` class in orange."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if ax is None:
        figure = Figure(figsize=(8.0, 4.6))
        ax = _axes(figure, 1.45, 0.6, 6.3, 3.55)
    figure = ax.figure
    positions = np.arange(len(probabilities))
    colours = ["tab:orange" if index == highlight else "tab:blue" for index in positions]
    bars = ax.barh(positions, probabilities, color=colours)
    ax.bar_label(bars, [f"{100 * value:.1f}%" for value in probabilities], padding=3, fontsize=9)
    ax.set_yticks(positions, list(class_names))
    ax.invert_yaxis()
    ax.set_xlim(0.0, 1.15)
    ax.set_xticks(np.linspace(0.0, 1.0, 6))
    ax.set_xlabel("probability", fontsize=10)
    ax.set_ylabel("class", fontsize=10)
    ax.set_title(title, fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return figure


# --------------------------------------------------------------------------- class activation maps


def _annotate_map(ax, heatmap: np.ndarray) -> None:
    """Write each value into its cell when the map is small enough to read them (at most 10 x 10)."""
    if heatmap.shape[0] > 10 or heatmap.shape[1] > 10:
        return
    size = 8 if max(heatmap.shape) <= 7 else 6
    for (row, column), value in np.ndenumerate(heatmap):
        ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=size,
                color="white" if value < 0.25 or value > 0.8 else "black")


def _panels(count: int, size: float = 4.2):
    """A figure with ``count`` square panels in a row and room for titles and a colour bar."""
    figure = Figure(figsize=(0.2 + count * (size + 0.35) + 1.0, size + 1.2))
    axes = [_axes(figure, 0.2 + index * (size + 0.35), 0.2, size, size) for index in range(count)]
    return figure, axes, (0.2 + count * (size + 0.35) - 0.15, 0.2, size)


def plot_cam(result, model_input: np.ndarray, class_name: str, axes: Optional[Sequence] = None) -> Figure:
    """A class activation map at its own resolution, and resized over the model input.

    Args:
        result: a :class:`fashion_mnist_vis.explain.cam.CamResult`.
        model_input: float32 (H, W, C) in [0, 1].
        class_name: the explained class, for the title.
        axes: two axes to draw into; a new figure when None.
    """
    heatmap = result.heatmap
    base = np.asarray(model_input, dtype=np.float32)[:, :, 0]
    cax_spec = None
    if axes is None:
        figure, axes, cax_spec = _panels(2)
    figure = axes[0].figure
    map_ax, overlay_ax = axes
    map_ax.imshow(heatmap, cmap=HEATMAP_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
    _annotate_map(map_ax, heatmap)
    map_ax.set_title(f"{result.method} on {result.layer_name}\n{_size_label(heatmap)}, as computed", fontsize=10)
    _hide_ticks(map_ax)
    resized = resize_map(heatmap, (base.shape[1], base.shape[0]))
    overlay_ax.imshow(overlay(base, resized), interpolation="nearest")
    overlay_ax.set_title(f"resized over the model input\n{base.shape[0]} \u00d7 {base.shape[1]}", fontsize=10)
    _hide_ticks(overlay_ax)
    figure.suptitle(f"Where the model finds evidence for \u201c{class_name}\u201d", fontsize=12,
                    y=1.0 - 0.08 / figure.get_size_inches()[1])
    if cax_spec:
        _colorbar(figure, _heat_mappable(), *cax_spec, EVIDENCE_LABEL)
    return figure


EVIDENCE_LABEL = "evidence (0 = none, 1 = strongest)"


def plot_cam_on_photo(
    heatmap: np.ndarray,
    photo: Image.Image,
    canvas_box: Optional[Tuple[int, int, int, int]],
    title: str,
    ax=None,
) -> Figure:
    """A class activation map laid over the original photo, through the preprocessing's canvas.

    Args:
        heatmap: float (h, w) in [0, 1] over the model input.
        photo: the original photo (it is drawn from a copy at most
            :data:`MAX_PHOTO_SIDE` pixels on a side).
        canvas_box: where the model input lies in the photo's full-size
            coordinates (``Preprocessed.canvas_box``); None for the whole photo.
    """
    pixels, scale = display_photo(photo)
    height, width = pixels.shape[:2]
    box = None if canvas_box is None else tuple(value * scale for value in canvas_box)
    placed = place_on_canvas(heatmap, (width, height), box)
    cax_spec = None
    if ax is None:
        image_w, image_h = _fit(width, height, 6.0, 5.2)
        left = 0.15 + max(0.0, 4.0 - image_w) / 2  # room for the title above a narrow photo
        figure = Figure(figsize=(left + image_w + 1.2, image_h + 0.9))
        ax = _axes(figure, left, 0.4, image_w, image_h)
        cax_spec = (left + image_w + 0.15, 0.4, image_h)
    figure = ax.figure
    ax.imshow(overlay(pixels, placed), interpolation="antialiased")
    ax.set_title(title, fontsize=11)
    _hide_ticks(ax)
    ax.set_xlabel("no colour: outside the model's input", fontsize=9)
    if cax_spec:
        _colorbar(figure, _heat_mappable(), *cax_spec, EVIDENCE_LABEL)
    return figure


def map_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Pearson correlation of two maps (the second resized to the first's size if needed); NaN if flat."""
    first = np.asarray(first, dtype=np.float64)
    second = np.asarray(second, dtype=np.float64)
    if second.shape != first.shape:
        second = resize_map(second, (first.shape[1], first.shape[0])).astype(np.float64)
    if first.std() == 0 or second.std() == 0:
        return float("nan")
    return float(np.corrcoef(first.ravel(), second.ravel())[0, 1])


def plot_cam_comparison(results: Sequence, model_input: np.ndarray, class_name: str) -> Figure:
    """Several maps for the same class (e.g. CAM and Grad-CAM) side by side over the model input."""
    base = np.asarray(model_input, dtype=np.float32)[:, :, 0]
    figure, axes, cax_spec = _panels(len(results))
    for ax, result in zip(axes, results):
        resized = resize_map(result.heatmap, (base.shape[1], base.shape[0]))
        ax.imshow(overlay(base, resized), interpolation="nearest")
        ax.set_title(f"{result.method} on {result.layer_name}\n({_size_label(result.heatmap)} map)", fontsize=10)
        _hide_ticks(ax)
    title = f"\u201c{class_name}\u201d explained two ways"
    if len(results) == 2:
        correlation = map_correlation(results[0].heatmap, results[1].heatmap)
        if np.isfinite(correlation):
            title += f" (correlation {correlation:.2f})"
    figure.suptitle(title, fontsize=12, y=1.0 - 0.08 / figure.get_size_inches()[1])
    _colorbar(figure, _heat_mappable(), *cax_spec, EVIDENCE_LABEL)
    return figure
