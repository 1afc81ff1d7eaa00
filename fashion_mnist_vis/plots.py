"""Report plots: training curves, confusion matrices, per-class scores, image grids.

Each function builds and returns a matplotlib ``Figure`` (no pyplot state,
the Agg backend, safe in threads); callers save it with :func:`save_figure`
or turn it into PNG bytes with :func:`figure_to_png`. Functions that draw one
panel take an ``ax`` so they can be combined.
"""

import io
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from matplotlib.figure import Figure

from .classes import CLASS_NAMES


def save_figure(figure: Figure, path: Union[str, Path], dpi: int = 100, tight: bool = True) -> Path:
    """Write ``figure`` as a PNG to ``path`` and return the path.

    ``tight`` trims the white margin to the drawn content, at the cost of one
    extra layout pass; figures laid out in inches by their plot function
    (see :mod:`fashion_mnist_vis.layer_plots`) pass False.
    """
    path = Path(path)
    figure.savefig(path, dpi=dpi, bbox_inches="tight" if tight else None)
    return path


def figure_to_png(figure: Figure, dpi: int = 80) -> bytes:
    """Render ``figure`` to PNG bytes (for TensorBoard image summaries)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def plot_training_curves(history: Dict[str, Sequence[float]]) -> Figure:
    """Accuracy and loss per epoch, training against validation.

    Args:
        history: Keras-style history with ``accuracy``, ``loss`` and, if
            validation ran, ``val_accuracy`` and ``val_loss`` (one value per epoch).
    """
    figure = Figure(figsize=(11, 4.2))
    for ax, metric, label in zip(figure.subplots(1, 2), ("accuracy", "loss"), ("Accuracy", "Loss")):
        values = history.get(metric, [])
        epochs = np.arange(1, len(values) + 1)
        ax.plot(epochs, values, "o-", label="training")
        if history.get(f"val_{metric}"):
            ax.plot(epochs, history[f"val_{metric}"], "s-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label.lower())
        ax.set_title(f"{label} per epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.tight_layout()
    return figure


def draw_confusion_matrix(
    ax, matrix: np.ndarray, normalise: bool, class_names: Sequence[str] = CLASS_NAMES
):
    """Draw a confusion matrix on ``ax``: rows are true classes, columns predictions.

    Args:
        matrix: integer counts (K, K).
        normalise: show each row as fractions of that true class (recall on the
            diagonal) instead of counts.

    Returns:
        The image artist (for a colour bar).
    """
    counts = np.asarray(matrix, dtype=np.float64)
    row_totals = counts.sum(axis=1, keepdims=True)
    values = np.divide(counts, row_totals, out=np.zeros_like(counts), where=row_totals > 0) if normalise else counts
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalise else max(values.max(), 1))
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix (fraction of each true class)" if normalise else "Confusion matrix (counts)")
    threshold = values.max() / 2 if values.max() > 0 else 0.5
    for (row, col), value in np.ndenumerate(values):
        text = f"{value:.2f}" if normalise else f"{int(value)}"
        if normalise and value < 0.005:
            text = "0"
        ax.text(col, row, text, ha="center", va="center", fontsize=7,
                color="white" if value > threshold else "black")
    return image


def plot_confusion_matrices(matrix: np.ndarray, class_names: Sequence[str] = CLASS_NAMES) -> Figure:
    """Counts and row-normalised confusion matrices side by side, each with a colour bar."""
    figure = Figure(figsize=(16, 7))
    for ax, normalise in zip(figure.subplots(1, 2), (False, True)):
        image = draw_confusion_matrix(ax, matrix, normalise, class_names)
        figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                        label="fraction of true class" if normalise else "images")
    figure.tight_layout()
    return figure


def plot_confusion_matrix(matrix: np.ndarray, title: str, class_names: Sequence[str] = CLASS_NAMES) -> Figure:
    """One row-normalised confusion matrix with a colour bar (for per-epoch TensorBoard images)."""
    figure = Figure(figsize=(7.5, 6.5))
    ax = figure.subplots()
    image = draw_confusion_matrix(ax, matrix, True, class_names)
    ax.set_title(title)
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    figure.tight_layout()
    return figure


def plot_per_class_scores(
    scores: Dict[str, Sequence[float]], class_names: Sequence[str] = CLASS_NAMES
) -> Figure:
    """Grouped bars of per-class scores (e.g. precision, recall, F1), each in [0, 1].

    Args:
        scores: metric name -> one value per class, e.g. ``{"F1": [...]}``.
    """
    figure = Figure(figsize=(11, 4.5))
    ax = figure.subplots()
    positions = np.arange(len(class_names))
    width = 0.8 / max(len(scores), 1)
    for index, (name, values) in enumerate(scores.items()):
        offset = (index - (len(scores) - 1) / 2) * width
        bars = ax.bar(positions + offset, values, width, label=name)
        if name.lower() == "f1":
            ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    ax.set_xticks(positions, class_names, rotation=30, ha="right")
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("score")
    ax.set_xlabel("class")
    ax.set_title("Per-class precision, recall and F1 on the test set")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    return figure


def plot_image_grid(
    images: np.ndarray,
    titles: List[str],
    columns: int = 8,
    suptitle: Optional[str] = None,
    title_colors: Optional[List[str]] = None,
) -> Figure:
    """Greyscale thumbnails in a grid, each with a (possibly multi-line) title.

    Args:
        images: uint8 (N, H, W) in 0..255 or float (N, H, W) in [0, 1].
        titles: one caption per image.
    """
    count = len(images)
    columns = max(1, min(columns, count))
    rows = max(1, -(-count // columns))
    lines = max((title.count("\n") + 1 for title in titles), default=1)
    figure = Figure(figsize=(1.6 * columns, (1.45 + 0.2 * lines) * rows + (0.5 if suptitle else 0)))
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    vmax = 255 if images.dtype == np.uint8 else 1.0
    for index, ax in enumerate(axes):
        ax.axis("off")
        if index >= count:
            continue
        ax.imshow(images[index], cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")
        color = title_colors[index] if title_colors else "black"
        ax.set_title(titles[index], fontsize=7.5, color=color)
    if suptitle:
        figure.suptitle(suptitle)
    figure.tight_layout()
    return figure
