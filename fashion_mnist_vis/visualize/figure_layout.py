"""Figure layout in inches: axes placed at fixed positions, colour bars, tick and size labels.

Figures are laid out in inches (fixed margins for titles, labels and colour
bars), so saving needs no tight-bounding-box pass: save with
``save_figure(figure, path, tight=False)``. This halves the time to save.
"""

from typing import Tuple

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from fashion_mnist_vis.visualize.map_arrays import HEATMAP_CMAP

COLORBAR_WIDTH = 0.2
"""Width of a colour bar in inches; 0.75 inch to its right holds its tick labels and label."""


def axes_in_inches(figure: Figure, left: float, bottom: float, width: float, height: float):
    """Add axes at a position given in inches from the figure's bottom-left corner."""
    fig_w, fig_h = figure.get_size_inches()
    return figure.add_axes((left / fig_w, bottom / fig_h, width / fig_w, height / fig_h))


def fit_in_box(width: float, height: float, box_w: float, box_h: float) -> Tuple[float, float]:
    """The size of a width x height picture scaled to fit a box_w x box_h box (inches)."""
    scale = min(box_w / width, box_h / height)
    return width * scale, height * scale


def add_colorbar(figure: Figure, mappable, left: float, bottom: float, height: float, label: str):
    """A vertical 0..1 colour bar :data:`COLORBAR_WIDTH` inches wide at (left, bottom) inches, with ``label``."""
    cax = axes_in_inches(figure, left, bottom, COLORBAR_WIDTH, height)
    colorbar = figure.colorbar(mappable, cax=cax, ticks=[0.0, 0.5, 1.0])  # all our bars span 0..1
    colorbar.set_label(label, fontsize=9)
    colorbar.ax.tick_params(labelsize=8)
    return colorbar


def colorbar_for(figure: Figure, mappable, ax, cax_spec, label: str):
    """A colour bar for ``mappable`` drawn on ``ax``: at ``cax_spec`` = (left, bottom, height) inches
    (:func:`add_colorbar`), or matplotlib's own beside ``ax`` when cax_spec is None (a caller's axes)."""
    if cax_spec:
        return add_colorbar(figure, mappable, *cax_spec, label)
    return figure.colorbar(mappable, ax=ax, label=label)


def heat_mappable() -> ScalarMappable:
    """What a class-activation-map colour bar shows: :data:`HEATMAP_CMAP` from 0 to 1."""
    return ScalarMappable(norm=Normalize(0.0, 1.0), cmap=HEATMAP_CMAP)


def hide_ticks(ax) -> None:
    """Remove both axes' ticks and tick labels (pictures, not charts)."""
    ax.set_xticks([])
    ax.set_yticks([])


def size_label(values: np.ndarray) -> str:
    """An array's shape as text, e.g. ``"7 \u00d7 7"``."""
    return " \u00d7 ".join(str(size) for size in values.shape)
