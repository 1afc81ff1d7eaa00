"""The evaluation report written into a run folder after training.

The same report serves training (train.py, compare.py) and evaluation of a
saved model (evaluate.py); only the training curves need a history.

Files (all in the run folder):
    metrics.json           test loss/accuracy, per-class precision/recall/F1,
                           expected calibration error, model size, and what
                           the caller adds (timing, versions, dataset
                           checksums, seed, ...)
    training_curves.png    accuracy and loss per epoch, training vs validation
                           (only when a training history is given)
    reliability_diagram.png  accuracy against confidence, with bin counts
    confusion_matrix.png   counts and row-normalised, class names on both axes
    per_class_f1.png       per-class precision, recall and F1 bars
    misclassified.png      the most confidently misclassified test images
    model.png              the model diagram (needs pydot and graphviz)

:func:`write_range_test` adds the learning-rate range test's files
(lr_finder.png, lr_finder.csv) to a run folder; :func:`write_comparison`
writes the table and plot that compare several runs (compare.py).
"""

import contextlib
import io
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from fashion_mnist_vis.atomic import atomic_path, write_json_atomic, write_text_atomic
from fashion_mnist_vis.explain.calibration import DEFAULT_BINS, ReliabilityBins, calibration_of
from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.data.pipeline import EVAL_BATCH_SIZE, as_model_input
from fashion_mnist_vis.visualize.plots import (
    plot_confusion_matrices,
    plot_image_grid,
    plot_lr_finder,
    plot_model_comparison,
    plot_per_class_scores,
    plot_reliability_diagram,
    plot_training_curves,
    save_figure,
)

MISCLASSIFIED_SHOWN = 24


@dataclass(frozen=True)
class Evaluation:
    """Scores of a model on labelled images.

    ``probabilities`` is float (N, 10); ``predictions`` int (N,); ``matrix`` the
    (10, 10) confusion counts (rows true, columns predicted); per-class arrays
    have one value in [0, 1] per class. ``accuracy_alone``: when the scores
    average each image with its mirror image, the accuracy of the images alone
    (else None).
    """

    loss: float
    accuracy: float
    probabilities: np.ndarray
    predictions: np.ndarray
    matrix: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    accuracy_alone: Optional[float] = None


def evaluate(model, images: np.ndarray, labels: np.ndarray, batch_size: int = EVAL_BATCH_SIZE,
             mirror_average: bool = False) -> Evaluation:
    """Predict ``images`` and score them against labels (N,) in 0..9.

    ``images`` are uint8 (N, 28, 28) in 0..255 (a dataset split) or float32
    model inputs (N, height, width, channels) in [0, 1] (preprocessed photos).
    ``mirror_average``: each image's probabilities are the mean of its own and
    its left-right mirror image's (as classify does for photos; the accuracy of
    the images alone is kept in ``accuracy_alone``).
    The loss is the mean sparse categorical cross-entropy (natural log), as
    Keras reports it.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    inputs = as_model_input(images)
    probabilities = np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0)).astype(np.float64)
    accuracy_alone = None
    if mirror_average:
        accuracy_alone = float((probabilities.argmax(axis=1) == labels).mean())
        mirrored = np.ascontiguousarray(inputs[:, :, ::-1])
        probabilities = (probabilities + np.asarray(model.predict(mirrored, batch_size=batch_size, verbose=0))) / 2
    predictions = probabilities.argmax(axis=1)
    true_class_probability = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=range(len(CLASS_NAMES)), zero_division=0
    )
    return Evaluation(
        loss=float(-np.log(true_class_probability).mean()),
        accuracy=float((predictions == labels).mean()),
        probabilities=probabilities,
        predictions=predictions,
        matrix=confusion_matrix(labels, predictions, labels=range(len(CLASS_NAMES))),
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
        accuracy_alone=accuracy_alone,
    )


def per_class_table(evaluation: Evaluation) -> Dict[str, Dict[str, float]]:
    """Class name -> {precision, recall, f1, support} for metrics.json."""
    return {
        name: {
            "precision": round(float(evaluation.precision[i]), 4),
            "recall": round(float(evaluation.recall[i]), 4),
            "f1": round(float(evaluation.f1[i]), 4),
            "support": int(evaluation.support[i]),
        }
        for i, name in enumerate(CLASS_NAMES)
    }


def library_versions() -> Dict[str, str]:
    """Versions of Python and the libraries that shape results."""
    import keras
    import matplotlib
    import sklearn
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "matplotlib": matplotlib.__version__,
        "platform": platform.platform(),
    }


def _displayable(images: np.ndarray) -> np.ndarray:
    """Images for :func:`plot_image_grid`: (N, H, W) greyscale or (N, H, W, 3) RGB."""
    return images[..., 0] if images.ndim == 4 and images.shape[-1] == 1 else images


def most_confident_mistakes(evaluation: Evaluation, labels: np.ndarray, count: int) -> np.ndarray:
    """Indices of up to ``count`` misclassified images, most confident prediction first."""
    wrong = np.flatnonzero(evaluation.predictions != labels)
    confidence = evaluation.probabilities[wrong, evaluation.predictions[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")[:count]]


def plot_misclassified(images: np.ndarray, labels: np.ndarray, evaluation: Evaluation):
    """Grid of the most confidently misclassified images, with true and predicted labels."""
    from matplotlib.figure import Figure

    chosen = most_confident_mistakes(evaluation, labels, MISCLASSIFIED_SHOWN)
    if len(chosen) == 0:
        figure = Figure(figsize=(6, 1.5))
        figure.text(0.5, 0.5, "No misclassified test images.", ha="center", va="center", fontsize=12)
        return figure
    titles = [
        f"true: {CLASS_NAMES[labels[i]]}\npred: {CLASS_NAMES[evaluation.predictions[i]]} "
        f"({evaluation.probabilities[i, evaluation.predictions[i]]:.2f})"
        for i in chosen
    ]
    return plot_image_grid(
        _displayable(images[chosen]), titles, columns=8,
        suptitle=f"Most confidently misclassified test images ({len(chosen)} of "
                 f"{int((evaluation.predictions != labels).sum())} errors)",
    )


def save_model_diagram(model, path: Path) -> Optional[str]:
    """Draw the model with pydot and graphviz; return None, or why it could not."""
    import keras

    try:  # pydot prints graphviz's own error output to stdout before failing; keep it out of ours
        with atomic_path(path) as temp, contextlib.redirect_stdout(io.StringIO()):
            keras.utils.plot_model(model, to_file=str(temp), show_shapes=True, show_layer_names=True, dpi=72)
    except ImportError as error:
        return str(error).strip().splitlines()[0]
    except (OSError, AssertionError) as error:  # graphviz present but `dot` failed (pydot asserts on a crash)
        return f"graphviz failed: {str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}"
    return None


def write_report(
    model,
    run_dir: Path,
    images: np.ndarray,
    labels: np.ndarray,
    history: Optional[Dict[str, Sequence[float]]] = None,
    extra: Optional[Dict[str, object]] = None,
    batch_size: int = EVAL_BATCH_SIZE,
    bins: int = DEFAULT_BINS,
    diagram: Optional[Callable[[], object]] = None,
    mirror_average: bool = False,
) -> Dict[str, object]:
    """Evaluate ``model`` on the test images and write every report file into ``run_dir``.

    Args:
        images: uint8 test images (N, 28, 28), or float32 model inputs
            (N, height, width, channels) in [0, 1]; labels: (N,) in 0..9.
        history: per-epoch Keras history; training_curves.png is drawn only
            when it is given (a training run), not for a saved model.
        extra: further entries for metrics.json (timing, dataset, seed, ...).
        bins: confidence bins of the reliability diagram and the ECE.
        diagram: returns the Keras model drawn in model.png (default:
            ``model``; see :meth:`~fashion_mnist_vis.models.model_handle.ModelHandle.diagram_model`).
        mirror_average: average each image's probabilities with its mirror image's (see :func:`evaluate`).

    Returns:
        The metrics dictionary written to metrics.json, plus ``files`` (the
        report files written) and ``notes`` (lines for the user, e.g. why the
        model diagram is missing).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    evaluation = evaluate(model, images, labels, batch_size, mirror_average)
    calibration = calibration_of(evaluation.probabilities, labels, bins)
    metrics = report_metrics(evaluation, calibration, int(model.count_params()), extra)
    files = []
    for name, figure in report_figures(evaluation, calibration, images, labels, history).items():
        save_figure(figure, run_dir / name)
        files.append(name)
    notes = []
    why_no_diagram = save_model_diagram(diagram() if diagram else model, run_dir / "model.png")
    if why_no_diagram:
        notes.append(f"model diagram skipped: {why_no_diagram}")
    else:
        files.append("model.png")
    write_json_atomic(run_dir / "metrics.json", metrics)
    return {**metrics, "files": ["metrics.json", *files], "notes": notes}


def mirror_note(metrics: Dict[str, object]) -> str:
    """What follows the accuracy in a command's summary line: how the images were scored, e.g.
    ' (each image averaged with its mirror image; alone 0.9347)', or '' for the images alone."""
    if not metrics.get("mirror_average"):
        return ""
    return f" (each image averaged with its mirror image; alone {metrics['test_accuracy_alone']:.4f})"


def report_metrics(evaluation: Evaluation, calibration: ReliabilityBins, parameters: int,
                   extra: Optional[Dict[str, object]] = None) -> Dict[str, object]:
    """The entries of metrics.json: test scores, per-class table, calibration, size, ``extra``, versions.

    ``calibration`` bins the same predictions by confidence; ``extra`` entries (timing,
    dataset, seed, ...) come after the scores.
    """
    return {
        "test_loss": round(evaluation.loss, 5),
        "test_accuracy": round(evaluation.accuracy, 5),
        "test_images": int(len(evaluation.predictions)),
        "mirror_average": evaluation.accuracy_alone is not None,
        **({"test_accuracy_alone": round(evaluation.accuracy_alone, 5)} if evaluation.accuracy_alone is not None
           else {}),
        "macro_f1": round(float(evaluation.f1.mean()), 4),
        "expected_calibration_error": round(calibration.expected_calibration_error(), 5),
        "per_class": per_class_table(evaluation),
        "calibration": calibration.as_dict(),
        "parameters": parameters,
        **(extra or {}),
        "versions": library_versions(),
        "command": " ".join(sys.argv),
    }


def report_figures(evaluation: Evaluation, calibration: ReliabilityBins, images: np.ndarray, labels: np.ndarray,
                   history: Optional[Dict[str, Sequence[float]]] = None) -> Dict[str, object]:
    """The report's figures by file name, in the order they are written (training curves only with a history)."""
    figures = {"training_curves.png": plot_training_curves(history)} if history else {}
    figures.update({
        "confusion_matrix.png": plot_confusion_matrices(evaluation.matrix),
        "per_class_f1.png": plot_per_class_scores(
            {"precision": evaluation.precision, "recall": evaluation.recall, "F1": evaluation.f1}
        ),
        "misclassified.png": plot_misclassified(images, labels, evaluation),
        "reliability_diagram.png": plot_reliability_diagram(calibration),
    })
    return figures


def write_range_test(result, run_dir: Path) -> List[str]:
    """Write a learning-rate range test into ``run_dir``: the plot and one CSV row per step.

    ``result`` is a :class:`~fashion_mnist_vis.training.lr_finder.RangeTestResult`.
    Returns the names of the files written.
    """
    run_dir = Path(run_dir)
    save_figure(plot_lr_finder(result), run_dir / "lr_finder.png")
    rows = ["step,learning_rate,loss,smoothed_loss"] + [
        f"{step + 1},{rate:.6g},{loss:.6g},{smoothed:.6g}"
        for step, (rate, loss, smoothed) in enumerate(zip(result.learning_rates, result.losses, result.smoothed))
    ]
    write_text_atomic(run_dir / "lr_finder.csv", "\n".join(rows) + "\n")
    return ["lr_finder.png", "lr_finder.csv"]


COMPARISON_COLUMNS = (
    ("model", "model", "{}"),
    ("parameters", "parameters", "{:,}"),
    ("test accuracy", "test_accuracy", "{:.4f}"),
    ("test loss", "test_loss", "{:.4f}"),
    ("seconds per epoch", "seconds_per_epoch", "{:.1f}"),
    ("images per second", "images_per_second", "{:,.0f}"),
    ("epochs run", "epochs_run", "{}"),
)
"""(heading, row key, Markdown format) of each column of the comparison table."""


def comparison_row(metrics: Dict[str, object]) -> Dict[str, object]:
    """The comparison table's entries, plus ``training_seconds`` (all epochs), from one run's metrics.json."""
    return {
        "model": metrics["model"],
        "parameters": int(metrics["parameters"]),
        "test_accuracy": float(metrics["test_accuracy"]),
        "test_loss": float(metrics["test_loss"]),
        "seconds_per_epoch": float(metrics["seconds_per_epoch"]),
        "images_per_second": float(metrics["train_images_per_second"] or 0),
        "epochs_run": int(metrics["epochs_run"]),
        "training_seconds": float(sum(metrics["seconds_per_epoch_each"])),
    }


def comparison_table(rows: Sequence[Dict[str, object]]) -> str:
    """The rows as a Markdown table (one line per model)."""
    lines = ["| " + " | ".join(heading for heading, _, _ in COMPARISON_COLUMNS) + " |",
             "|" + "|".join("---" if key == "model" else "---:" for _, key, _ in COMPARISON_COLUMNS) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(fmt.format(row[key]) for _, key, fmt in COMPARISON_COLUMNS) + " |")
    return "\n".join(lines)


def write_comparison(rows: Sequence[Dict[str, object]], folder: Path, description: str) -> List[str]:
    """Write comparison.csv, comparison.md (``description``, then the table) and comparison.png.

    Returns the names of the files written in ``folder``.
    """
    import csv

    folder = Path(folder)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([key for _, key, _ in COMPARISON_COLUMNS] + ["training_seconds"])
    for row in rows:
        writer.writerow([row[key] for _, key, _ in COMPARISON_COLUMNS] + [round(row["training_seconds"], 2)])
    write_text_atomic(folder / "comparison.csv", buffer.getvalue())
    markdown = (f"# Model comparison\n\n{description}\n\n{comparison_table(rows)}\n\n"
                "![Test accuracy against parameters](comparison.png)\n")
    write_text_atomic(folder / "comparison.md", markdown)
    save_figure(plot_model_comparison(rows), folder / "comparison.png")
    return ["comparison.md", "comparison.csv", "comparison.png"]
