"""Plots of a classified photo's way into the model: the photo, its preprocessing, the model input.

Every ``plot_*`` function builds a matplotlib ``Figure`` (no pyplot, the Agg
backend) and returns it; one-panel plots take an optional ``ax`` to draw
into instead. Saving is the caller's job (:func:`fashion_mnist_vis.visualize.plots.save_figure`).
"""

from typing import Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from fashion_mnist_vis.visualize.figure_layout import axes_in_inches, colorbar_for, fit_in_box, hide_ticks
from fashion_mnist_vis.visualize.map_arrays import display_grey, display_photo



def plot_photo(photo: Image.Image, title: str, ax=None) -> Figure:
    """The original photo (any size; drawn from a copy at most `map_arrays.MAX_PHOTO_SIDE` pixels on a side)."""
    pixels, _ = display_photo(photo)
    if ax is None:
        image_w, image_h = fit_in_box(pixels.shape[1], pixels.shape[0], 6.0, 5.0)
        figure = Figure(figsize=(max(image_w, 3.6) + 0.3, image_h + 0.85))
        ax = axes_in_inches(figure, (figure.get_size_inches()[0] - image_w) / 2, 0.4, image_w, image_h)
    ax.imshow(pixels, interpolation="antialiased")
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(f"{photo.width} \u00d7 {photo.height} pixels", fontsize=9)
    hide_ticks(ax)
    return ax.figure


def plot_greyscale_steps(prepared, axes: Optional[Sequence] = None) -> Figure:
    """Greyscale photo (with the crop in red) beside the image just before resizing.

    Args:
        prepared: a :class:`fashion_mnist_vis.data.preprocess.Preprocessed`.
        axes: two axes to draw into; a new figure when None.
    """
    if axes is None:
        figure = Figure(figsize=(9.8, 5.3))
        axes = [axes_in_inches(figure, 0.2, 0.45, 4.5, 4.3), axes_in_inches(figure, 5.1, 0.45, 4.5, 4.3)]
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
    hide_ticks(grey_ax)
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
    hide_ticks(prepared_ax)
    return figure


def plot_model_input(model_input: np.ndarray, ax=None) -> Figure:
    """What the model saw: the (H, W, C) float input in [0, 1], one square per pixel.

    Only the first channel is drawn (a 3-channel input repeats the grey channel).
    """
    pixels = np.asarray(model_input, dtype=np.float32)[:, :, 0]
    height, width = pixels.shape
    cax_spec = None
    if ax is None:
        image_w, image_h = fit_in_box(width, height, 5.0, 5.0)
        figure = Figure(figsize=(0.6 + image_w + 1.25, image_h + 1.05))
        ax = axes_in_inches(figure, 0.6, 0.6, image_w, image_h)
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
    colorbar_for(figure, image, ax, cax_spec, label)
    return figure
