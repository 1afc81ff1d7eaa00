"""Plots of class activation maps (CAM: Zhou et al. 2016; Grad-CAM: Selvaraju et al. 2017).

The maps come from :mod:`fashion_mnist_vis.explain.cam` at the resolution of the
layer they explain; these functions resize them over the model input or the
original photo and colour them with :data:`~fashion_mnist_vis.visualize.map_arrays.HEATMAP_CMAP`.
Each builds a matplotlib ``Figure`` and returns it; saving is the caller's job.
"""

from typing import Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from fashion_mnist_vis.visualize.figure_layout import (
    add_colorbar, axes_in_inches, fit_in_box, heat_mappable, hide_ticks, size_label,
)
from fashion_mnist_vis.visualize.map_arrays import HEATMAP_CMAP, display_photo, overlay, place_on_canvas, resize_map

EVIDENCE_LABEL = "evidence (0 = none, 1 = strongest)"
"""Label of every class-activation-map colour bar."""


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
    axes = [axes_in_inches(figure, 0.2 + index * (size + 0.35), 0.2, size, size) for index in range(count)]
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
    map_ax.set_title(f"{result.method} on {result.layer_name}\n{size_label(heatmap)}, as computed", fontsize=10)
    hide_ticks(map_ax)
    resized = resize_map(heatmap, (base.shape[1], base.shape[0]))
    overlay_ax.imshow(overlay(base, resized), interpolation="nearest")
    overlay_ax.set_title(f"resized over the model input\n{base.shape[0]} \u00d7 {base.shape[1]}", fontsize=10)
    hide_ticks(overlay_ax)
    figure.suptitle(f"Where the model finds evidence for \u201c{class_name}\u201d", fontsize=12,
                    y=1.0 - 0.08 / figure.get_size_inches()[1])
    if cax_spec:
        add_colorbar(figure, heat_mappable(), *cax_spec, EVIDENCE_LABEL)
    return figure




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
            :data:`~fashion_mnist_vis.visualize.map_arrays.MAX_PHOTO_SIDE` pixels on a side).
        canvas_box: where the model input lies in the photo's full-size
            coordinates (``Preprocessed.canvas_box``); None for the whole photo.
    """
    pixels, scale = display_photo(photo)
    height, width = pixels.shape[:2]
    box = None if canvas_box is None else tuple(value * scale for value in canvas_box)
    placed = place_on_canvas(heatmap, (width, height), box)
    cax_spec = None
    if ax is None:
        image_w, image_h = fit_in_box(width, height, 6.0, 5.2)
        left = 0.15 + max(0.0, 4.0 - image_w) / 2  # room for the title above a narrow photo
        figure = Figure(figsize=(left + image_w + 1.2, image_h + 0.9))
        ax = axes_in_inches(figure, left, 0.4, image_w, image_h)
        cax_spec = (left + image_w + 0.15, 0.4, image_h)
    figure = ax.figure
    ax.imshow(overlay(pixels, placed), interpolation="antialiased")
    ax.set_title(title, fontsize=11)
    hide_ticks(ax)
    ax.set_xlabel("no colour: outside the model's input", fontsize=9)
    if cax_spec:
        add_colorbar(figure, heat_mappable(), *cax_spec, EVIDENCE_LABEL)
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
        ax.set_title(f"{result.method} on {result.layer_name}\n({size_label(result.heatmap)} map)", fontsize=10)
        hide_ticks(ax)
    title = f"\u201c{class_name}\u201d explained two ways"
    if len(results) == 2:
        correlation = map_correlation(results[0].heatmap, results[1].heatmap)
        if np.isfinite(correlation):
            title += f" (correlation {correlation:.2f})"
    figure.suptitle(title, fontsize=12, y=1.0 - 0.08 / figure.get_size_inches()[1])
    add_colorbar(figure, heat_mappable(), *cax_spec, EVIDENCE_LABEL)
    return figure
