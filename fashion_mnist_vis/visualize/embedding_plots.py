"""Static pictures of embeddings: 2-D scatter plots coloured by class.

For readers who are not at a browser with the Embedding Projector. Each
function builds and returns a matplotlib ``Figure`` (Agg, no pyplot state);
callers save it (see :func:`fashion_mnist_vis.visualize.plots.save_figure`).

:data:`CLASS_COLOURS` is also used for the Projector sprite's tint, so a
class has the same colour in every picture the export makes.
"""

from typing import Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from fashion_mnist_vis.classes import CLASS_NAMES

CLASS_COLOURS = (
    "#1f77b4",  # T-shirt/top  blue
    "#ff7f0e",  # Trouser      orange
    "#2ca02c",  # Pullover     green
    "#d62728",  # Dress        red
    "#9467bd",  # Coat         purple
    "#8c564b",  # Sandal       brown
    "#e377c2",  # Shirt        pink
    "#7f7f7f",  # Sneaker      grey
    "#bcbd22",  # Bag          olive
    "#17becf",  # Ankle boot   cyan
)
"""One colour per class (matplotlib's tab10, in class order)."""


def class_colours_rgb() -> np.ndarray:
    """:data:`CLASS_COLOURS` as uint8 (10, 3) RGB values."""
    return np.array([[int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)] for hex_colour in CLASS_COLOURS],
                    dtype=np.uint8)


def plot_projection(
    coords: np.ndarray,
    labels: np.ndarray,
    title: str,
    axis_names: Sequence[str] = ("component 1", "component 2"),
    class_names: Sequence[str] = CLASS_NAMES,
    ax=None,
) -> Figure:
    """Scatter plot of 2-D points coloured by class, with a legend of class names.

    Args:
        coords: float (N, 2) point coordinates.
        labels: integer (N,) class indices into ``class_names``.
        title: the plot's title (say what was projected and how).
        axis_names: x and y axis labels.
        ax: draw on this matplotlib Axes; a new figure is made if None.

    Returns:
        The figure that holds the plot.
    """
    if ax is None:
        figure = Figure(figsize=(8.5, 7))
        ax = figure.subplots()
    else:
        figure = ax.figure
    coords = np.asarray(coords)
    labels = np.asarray(labels)
    size = float(np.clip(3000.0 / max(len(coords), 1), 2.0, 30.0))
    for label, name in enumerate(class_names):
        chosen = labels == label
        if not chosen.any():
            continue
        ax.scatter(coords[chosen, 0], coords[chosen, 1], s=size, c=CLASS_COLOURS[label % len(CLASS_COLOURS)],
                   label=f"{name} ({int(chosen.sum())})", alpha=0.7, linewidths=0, rasterized=True)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.25)
    legend = ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, markerscale=max(1.0, 30.0 / size) ** 0.5,
                       title="true class", frameon=False)
    for handle in legend.legend_handles:
        handle.set_alpha(1.0)
    figure.tight_layout()
    return figure


def projection_title(method: str, points: int, total: int, source: str, note: Optional[str] = None) -> str:
    """A two-line title such as 'PCA of 10000 embeddings ...' that says when points were sampled."""
    sample = f"{points} of {total} points (stratified sample)" if points < total else f"all {total} points"
    extra = f"; {note}" if note else ""
    return f"{method} of {source}\n{sample}{extra}"
