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

from fashion_mnist_vis.atomic import atomic_path
from fashion_mnist_vis.classes import CLASS_NAMES


def save_figure(
    figure: Figure, path: Union[str, Path], dpi: int = 100, tight: bool = True, compress_level: int = 6
) -> Path:
    """Write ``figure`` as a PNG to ``path`` atomically (a reader never sees half a file) and return the path.

    ``tight`` trims the white margin to the drawn content, at the cost of one
    extra layout pass; figures laid out in inches by their plot function
    (see :mod:`fashion_mnist_vis.visualize.figure_layout`) pass False. ``compress_level``
    is zlib's, 0-9 (PNG is lossless at every level): 1 encodes about twice
    as fast as the default 6, for files about a fifth larger.
    """
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=dpi, bbox_inches="tight" if tight else None,
                       pil_kwargs={"compress_level": compress_level})
    return Path(path)


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


def plot_reliability_diagram(bins, title: Optional[str] = None) -> Figure:
    """Reliability diagram (Guo et al. 2017): accuracy against confidence, and the bin counts.

    Args:
        bins: a :class:`~fashion_mnist_vis.explain.calibration.ReliabilityBins`
            (equal-width confidence bins with counts, accuracy, mean confidence).

    The top panel shows each non-empty bin's accuracy as a bar, its mean
    confidence as a black tick with the gap between them hatched in red, and
    the diagonal a perfectly calibrated model would follow; the bottom panel
    shows how many predictions fell into each bin.
    """
    figure = Figure(figsize=(6.4, 7.2))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    edges = np.asarray(bins.edges)
    width = edges[1:] - edges[:-1]
    filled = bins.counts > 0
    left = edges[:-1][filled]
    top.bar(left, bins.accuracy[filled], width[filled], align="edge", color="tab:blue",
            edgecolor="black", linewidth=0.6, label="accuracy in the bin")
    gap_low = np.minimum(bins.accuracy[filled], bins.confidence[filled])
    gap = np.abs(bins.confidence[filled] - bins.accuracy[filled])
    top.bar(left, gap, width[filled], bottom=gap_low, align="edge", fill=False, edgecolor="tab:red",
            hatch="///", linewidth=0.8, label="gap between accuracy and mean confidence")
    top.scatter(left + width[filled] / 2, bins.confidence[filled], marker="_", s=140, color="black",
                linewidths=1.6, zorder=3, label="mean confidence in the bin")
    top.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.set_title(title or f"Reliability diagram: ECE {bins.expected_calibration_error():.3f} "
                           f"({len(bins.counts)} bins, {bins.total} images)")
    top.grid(alpha=0.3)
    top.legend(loc="upper left", fontsize=8)
    bars = bottom.bar(edges[:-1], bins.counts, width, align="edge", color="tab:grey", edgecolor="black",
                      linewidth=0.6)
    bottom.bar_label(bars, labels=[str(c) if c else "" for c in bins.counts], fontsize=7, padding=1)
    bottom.set_ylim(0, max(int(bins.counts.max()), 1) * 1.25)
    bottom.set_xlabel("confidence (top softmax probability)")
    bottom.set_ylabel("images")
    bottom.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return figure


def plot_lr_finder(result) -> Figure:
    """Loss against log10(learning rate) from a range test, with the suggestion marked.

    Args:
        result: a :class:`~fashion_mnist_vis.training.lr_finder.RangeTestResult`: float
            arrays ``learning_rates``, ``losses`` (per batch) and ``smoothed``,
            and a ``suggestion`` with ``learning_rate``, ``min_loss_lr`` and
            ``steepest_lr``.
    """
    figure = Figure(figsize=(8, 4.8))
    ax = figure.subplots()
    log_rates = np.log10(result.learning_rates)
    ax.plot(log_rates, result.losses, color="tab:blue", alpha=0.25, linewidth=1, label="batch loss")
    ax.plot(log_rates, result.smoothed, color="tab:blue", linewidth=2, label="smoothed loss")
    suggestion = result.suggestion
    at = lambda rate: float(np.interp(np.log10(rate), log_rates, result.smoothed))  # noqa: E731
    marks = (
        (suggestion.min_loss_lr, "v", "tab:grey", f"lowest smoothed loss at {suggestion.min_loss_lr:.2g}"),
        (suggestion.steepest_lr, "s", "tab:orange", f"steepest descent at {suggestion.steepest_lr:.2g}"),
        (suggestion.learning_rate, "o", "tab:red", f"suggested (min/10): {suggestion.learning_rate:.2g}"),
    )
    for rate, marker, color, label in marks:
        ax.plot(np.log10(rate), at(rate), marker, color=color, markersize=9, label=label, zorder=3)
    ax.axvline(np.log10(suggestion.learning_rate), color="tab:red", linestyle="--", linewidth=1)
    finite = result.smoothed[np.isfinite(result.smoothed)]
    raw = result.losses[np.isfinite(result.losses)]
    low = min(float(finite.min()), float(raw.min()))
    start = float(finite[: max(1, len(finite) // 10)].max())
    span = max(start - low, 1e-6)
    ax.set_ylim(low - 0.05 * span, start + 0.3 * span)  # batch-loss spikes above this are cut off
    ax.set_xlabel("log10(learning rate)")
    ax.set_ylabel("training loss")
    ax.set_title(f"Learning-rate range test ({len(result.losses)} steps)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    return figure


def plot_model_comparison(rows: Sequence[Dict[str, object]]) -> Figure:
    """Test accuracy against parameter count (log x), marker area growing with training time.

    Args:
        rows: one dict per model with ``model`` (name), ``parameters`` (int),
            ``test_accuracy`` (in [0, 1]) and ``training_seconds`` (> 0).
    """
    figure = Figure(figsize=(9.5, 5.2))
    ax = figure.subplots()
    seconds = np.array([float(row["training_seconds"]) for row in rows])
    longest = max(float(seconds.max()), 1e-9) if len(seconds) else 1.0
    sizes = 40 + 900 * seconds / longest
    parameters = [row["parameters"] for row in rows]
    accuracy = [row["test_accuracy"] for row in rows]
    ax.scatter(parameters, accuracy, s=sizes, c=[f"C{i}" for i in range(len(rows))], alpha=0.6,
               edgecolors="black", linewidths=0.8, zorder=3)
    for row, size in zip(rows, sizes):
        ax.annotate(f"{row['model']}\n{float(row['training_seconds']):.0f} s",
                    (row["parameters"], row["test_accuracy"]), xytext=(0, np.sqrt(size) / 2 + 4),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8)
    ax.set_xscale("log")
    if parameters:
        ax.set_xlim(min(parameters) / 2.5, max(parameters) * 2.5)
        low, high = min(accuracy), max(accuracy)
        span = max(high - low, 0.02)
        ax.set_ylim(low - 0.15 * span, min(high + 0.35 * span, 1.1))  # room above the points for their labels
    for reference in _round_seconds(longest):
        ax.scatter([], [], s=40 + 900 * reference / longest, color="lightgrey", edgecolors="black",
                   label=f"{reference:g} s training")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, labelspacing=2.2, borderpad=1.2,
              handletextpad=1.8, title="marker area", frameon=False)
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Test accuracy against model size (marker area: total training time)")
    ax.grid(alpha=0.3, which="both")
    figure.tight_layout()
    return figure


def _round_seconds(longest: float) -> List[float]:
    """Two round reference durations for a size legend: about the longest and a quarter of it."""
    magnitude = 10 ** np.floor(np.log10(max(longest, 1e-9)))
    top = float(np.floor(longest / magnitude) * magnitude)
    quarter = float(np.round(top / 4, -int(np.floor(np.log10(max(top / 4, 1e-9))))))
    return [value for value in (quarter, top) if value > 0]


def draw_embedding(ax, points: np.ndarray, labels: np.ndarray, limits: Sequence[float], title: str,
                   class_names: Sequence[str] = CLASS_NAMES, marker_size: float = 6) -> None:
    """Scatter 2-D points (N, 2) coloured by label (N,) in 0..9 on ``ax``, within fixed limits.

    ``limits`` is (xmin, xmax, ymin, ymax); using the same limits for every
    frame keeps frames comparable.
    """
    for index, name in enumerate(class_names):
        chosen = labels == index
        ax.scatter(points[chosen, 0], points[chosen, 1], s=marker_size, color=f"C{index}", label=name,
                   alpha=0.75, linewidths=0)
    ax.set_xlim(limits[0], limits[1])
    ax.set_ylim(limits[2], limits[3])
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_embedding_frame(points: np.ndarray, labels: np.ndarray, limits: Sequence[float], title: str,
                         axis_labels: Sequence[str] = ("PC 1", "PC 2")) -> Figure:
    """One animation frame: the embedding scatter with a class legend beside it."""
    figure = Figure(figsize=(6.4, 4.6))
    ax = figure.subplots()
    draw_embedding(ax, points, labels, limits, title, marker_size=9)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, markerscale=2, frameon=False)
    figure.subplots_adjust(left=0.06, right=0.72, top=0.92, bottom=0.08)
    return figure


def plot_embedding_snapshots(frames: Sequence[np.ndarray], labels: np.ndarray, titles: Sequence[str],
                             limits: Sequence[float], suptitle: str, max_columns: int = 6) -> Figure:
    """Small multiples of 2-D embeddings (each (N, 2)), one panel per snapshot, one shared legend.

    Panels fill as few rows of at most ``max_columns`` as possible, spread evenly
    (7 snapshots: 4 + 3, not 6 + 1).
    """
    count = len(frames)
    rows = max(1, -(-count // max_columns))
    columns = max(1, -(-count // rows))
    figure = Figure(figsize=(2.7 * columns + 1.6, 2.7 * rows + 0.6))
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for ax, points, title in zip(axes, frames, titles):
        draw_embedding(ax, points, labels, limits, title, marker_size=4)
    for ax in axes[count:]:
        ax.axis("off")
    handles, names = axes[0].get_legend_handles_labels()
    figure.legend(handles, names, loc="center right", fontsize=8, markerscale=2.5, frameon=False)
    figure.suptitle(suptitle)
    figure.tight_layout(rect=(0, 0, 1 - 1.5 / (2.7 * columns + 1.6), 1))
    return figure


def save_gif(figures: Sequence[Figure], path: Union[str, Path], milliseconds: int = 700, dpi: int = 80) -> Path:
    """Write ``figures`` as the frames of a looping animated GIF (Pillow) at ``path``, atomically.

    The last frame is held three times as long, so the final state is easy to see.
    """
    from PIL import Image

    frames = []
    for figure in figures:  # no bbox_inches="tight": every frame keeps the figure's own size
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
        with Image.open(buffer) as image:
            frames.append(image.convert("RGB"))
    durations = [milliseconds] * (len(frames) - 1) + [milliseconds * 3]
    palette = [frame.quantize(colors=128, method=Image.Quantize.MEDIANCUT) for frame in frames]
    with atomic_path(path) as temp:
        palette[0].save(temp, save_all=True, append_images=palette[1:], duration=durations, loop=0, optimize=True)
    return Path(path)
