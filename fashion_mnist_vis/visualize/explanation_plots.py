"""Plots of several explanation methods on one image: the method grid and the deletion/insertion curves.

:func:`plot_method_grid` draws one row per method: the map over the model
input with its colour bar, and the same map laid over the original photo
through the preprocessing's crop (:func:`~fashion_mnist_vis.visualize.map_arrays.place_on_canvas`).
:func:`plot_faithfulness_curves` and :func:`plot_sanity_curves` draw one image's
checks with :mod:`fashion_mnist_vis.visualize.trust_plots`, as evaluate draws them
over many images. The grid is laid out in inches (save with ``save_figure(..., tight=False)``).
"""

from typing import Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.visualize.cam_plots import EVIDENCE_LABEL
from fashion_mnist_vis.visualize.figure_layout import (
    add_colorbar, axes_in_inches, fit_in_box, heat_mappable, hide_ticks,
)
from fashion_mnist_vis.visualize import trust_plots
from fashion_mnist_vis.visualize.map_arrays import HEATMAP_CMAP, display_photo, overlay, place_on_canvas

ROW_HEIGHT = 2.6
"""Height in inches of one method's row (its two pictures)."""

ROW_GAP = 0.95
"""Inches above each row for its two-line title (and the row above's labels)."""

BOTTOM_MARGIN = 0.3
"""Inches below the last row, for its labels."""


def explained_label(class_index: int, contrast_index: Optional[int]) -> str:
    """What a map explains, in words: \u201cCoat\u201d, or \u201cCoat\u201d, not \u201cPullover\u201d."""
    label = f"\u201c{CLASS_NAMES[class_index]}\u201d"
    if contrast_index is not None:
        label += f", not \u201c{CLASS_NAMES[contrast_index]}\u201d"
    return label


def method_subheading(explanation) -> str:
    """The line under a method's title: the class (and contrast) it explains and the layer it is computed on."""
    where = f"layer {explanation.layer_name}" if explanation.layer_name else "the input pixels"
    return f"explains {explained_label(explanation.class_index, explanation.contrast_index)}, on {where}"


def plot_method_grid(explanations: Sequence, model_input: np.ndarray, photo: Image.Image,
                     canvas_box: Optional[Tuple[float, float, float, float]]) -> Figure:
    """One row per method: the map over the model input (with a colour bar) and over the photo.

    Args:
        explanations: :class:`~fashion_mnist_vis.explain.methods.Explanation` objects,
            each with ``heatmap`` float32 (H, W) in [0, 1] over the model input.
        model_input: float32 (H, W, C) in [0, 1], drawn in grey under the maps.
        photo: the original photo (drawn from a copy at most 800 pixels on a side).
        canvas_box: where the model input lies in the photo's coordinates
            (``Preprocessed.canvas_box``); None when it covers the whole photo.
    """
    if not explanations:
        raise ValueError("plot_method_grid needs at least one explanation")
    base = np.asarray(model_input, dtype=np.float32)[:, :, 0]
    pixels, scale = display_photo(photo)
    box = None if canvas_box is None else tuple(value * scale for value in canvas_box)
    photo_w, photo_h = fit_in_box(pixels.shape[1], pixels.shape[0], 3.6, ROW_HEIGHT)
    size = ROW_HEIGHT
    width = 0.2 + size + 0.15 + 0.2 + 1.0 + photo_w + 0.2
    height = BOTTOM_MARGIN + len(explanations) * (ROW_HEIGHT + ROW_GAP)
    figure = Figure(figsize=(max(width, 7.6), height))
    for row, explanation in enumerate(explanations):
        bottom = height - (row + 1) * (ROW_HEIGHT + ROW_GAP)  # the last row's is BOTTOM_MARGIN
        map_ax = axes_in_inches(figure, 0.2, bottom, size, size)
        map_ax.imshow(explanation.heatmap, cmap=HEATMAP_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
        hide_ticks(map_ax)
        map_ax.set_xlabel(f"the map ({base.shape[0]} \u00d7 {base.shape[1]}, the model input's size)", fontsize=8)
        add_colorbar(figure, heat_mappable(), 0.2 + size + 0.15, bottom, size, EVIDENCE_LABEL)
        photo_left = 0.2 + size + 0.15 + 0.2 + 1.0
        photo_ax = axes_in_inches(figure, photo_left, bottom + (ROW_HEIGHT - photo_h) / 2, photo_w, photo_h)
        placed = place_on_canvas(explanation.heatmap, (pixels.shape[1], pixels.shape[0]), box)
        photo_ax.imshow(overlay(pixels, placed), interpolation="antialiased")
        hide_ticks(photo_ax)
        photo_ax.set_xlabel("on the photo", fontsize=8)
        left = 0.2 / figure.get_size_inches()[0]
        figure.text(left, (bottom + ROW_HEIGHT + 0.36) / height, explanation.title, fontsize=11,
                    fontweight="bold", va="bottom")
        figure.text(left, (bottom + ROW_HEIGHT + 0.12) / height, method_subheading(explanation), fontsize=9,
                    va="bottom")
    return figure


def plot_faithfulness_curves(comparison) -> Figure:
    """Deletion and insertion curves of every method on one image, with the random order's
    (:func:`fashion_mnist_vis.visualize.trust_plots.plot_faithfulness_curves`, which evaluate's
    averages use too).

    Args:
        comparison: an :class:`~fashion_mnist_vis.explain.method_comparison.ImageComparison`
            computed with faithfulness (each result's ``faithfulness`` and the comparison's
            ``random_faithfulness`` are :class:`~fashion_mnist_vis.explain.faithfulness.Curves`).
    """
    results = [result for result in comparison.results if result.faithfulness is not None]
    random = comparison.random_faithfulness
    if not results or random is None:
        raise ValueError("plot_faithfulness_curves needs a comparison computed with faithfulness")
    class_name = CLASS_NAMES[comparison.class_index]
    return trust_plots.plot_faithfulness_curves(
        [(result.explanation.method, result.faithfulness) for result in results], random,
        f"Deletion and insertion on this image, explaining \u201c{class_name}\u201d",
        f"probability of \u201c{class_name}\u201d")


def plot_sanity_curves(comparison) -> Figure:
    """The cascading randomisation (Adebayo et al. 2018) of every method on one image
    (:func:`fashion_mnist_vis.visualize.trust_plots.plot_sanity`).

    Args:
        comparison: an :class:`~fashion_mnist_vis.explain.method_comparison.ImageComparison`
            computed with the sanity check (each result's ``sanity`` a
            :class:`~fashion_mnist_vis.explain.sanity.SanityResult`).
    """
    results = [result.sanity for result in comparison.results if result.sanity is not None]
    if not results:
        raise ValueError("plot_sanity_curves needs a comparison computed with the sanity check")
    return trust_plots.plot_sanity(results, "Sanity check: does the map change when the model's weights are "
                                            "randomised?")
