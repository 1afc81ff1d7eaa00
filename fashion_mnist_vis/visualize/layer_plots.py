"""Plots of what a model's layers compute: feature-map grids, activation bars, class probabilities.

Every ``plot_*`` function builds a matplotlib ``Figure`` (no pyplot, the Agg
backend) and returns it; one-panel plots take an optional ``ax`` to draw
into instead. Saving is the caller's job (:func:`fashion_mnist_vis.visualize.plots.save_figure`).
"""

from typing import Optional, Sequence, Tuple

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.visualize.figure_layout import axes_in_inches, colorbar_for, fit_in_box, hide_ticks
from fashion_mnist_vis.visualize.map_arrays import grid_shape, tile_channels, tile_gap

ACTIVATION_CMAP = "viridis"
"""Colour map of feature-map grids (dark: the channel's weakest response, yellow: its strongest)."""



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
        ax = axes_in_inches(figure, *ax_box)
    figure = ax.figure
    cmap = colormaps[ACTIVATION_CMAP].with_extremes(bad="white")
    image = ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    hide_ticks(ax)  # (tick labels would cost a third of the drawing time)
    _label_channel_grid(ax, maps, layer_name, layer_type, columns)
    for spine in ax.spines.values():
        spine.set_visible(False)
    label = "activation (channel min = 0, max = 1)"
    colorbar_for(figure, image, ax, cax_spec, label)
    return figure


def _channel_grid_layout(grid_shape_px: Tuple[int, int]):
    """(figsize, image axes box, colour bar box) in inches for a tiled grid of (rows, columns) pixels."""
    image_w, image_h = fit_in_box(grid_shape_px[1], grid_shape_px[0], 5.6, 6.4)
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
        ax = axes_in_inches(figure, 0.85, 0.6, 9.0, 2.75)
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
        ax = axes_in_inches(figure, 1.45, 0.6, 6.3, 3.55)
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
