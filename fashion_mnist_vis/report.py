"""The evaluation report written into a run folder after training.

Files (all in the run folder):
    metrics.json           test loss/accuracy, per-class precision/recall/F1,
                           model size, timing, versions, dataset checksums, seed
    training_curves.png    accuracy and loss per epoch, training vs validation
    confusion_matrix.png   counts and row-normalised, class names on both axes
    per_class_f1.png       per-class precision, recall and F1 bars
    misclassified.png      the most confidently misclassified test images
    model.png              the model diagram (needs pydot and graphviz)
"""

import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from .atomic import atomic_path, write_json_atomic
from .classes import CLASS_NAMES
from .plots import (
    plot_confusion_matrices,
    plot_image_grid,
    plot_per_class_scores,
    plot_training_curves,
    save_figure,
)

MISCLASSIFIED_SHOWN = 24


@dataclass(frozen=True)
class Evaluation:
    """Scores of a model on labelled images.

    ``probabilities`` is float (N, 10); ``predictions`` int (N,); ``matrix`` the
    (10, 10) confusion counts (rows true, columns predicted); per-class arrays
    have one value in [0, 1] per class.
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


def evaluate(model, images: np.ndarray, labels: np.ndarray, batch_size: int = 512) -> Evaluation:
    """Predict uint8 images (N, 28, 28) and score them against labels (N,) in 0..9.

    The loss is the mean sparse categorical cross-entropy (natural log), as
    Keras reports it.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from .pipeline import to_model_input

    probabilities = np.asarray(model.predict(to_model_input(images), batch_size=batch_size, verbose=0))
    probabilities = probabilities.astype(np.float64)
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
        images[chosen], titles, columns=8,
        suptitle=f"Most confidently misclassified test images ({len(chosen)} of "
                 f"{int((evaluation.predictions != labels).sum())} errors)",
    )


def save_model_diagram(model, path: Path) -> Optional[str]:
    """Draw the model with pydot and graphviz; return None, or why it could not."""
    import keras

    try:
        with atomic_path(path) as temp:
            keras.utils.plot_model(model, to_file=str(temp), show_shapes=True, show_layer_names=True, dpi=72)
    except ImportError as error:
        return str(error).strip().splitlines()[0]
    except OSError as error:  # graphviz present but its `dot` failed
        return f"graphviz failed: {error}"
    return None


def write_report(
    model,
    run_dir: Path,
    images: np.ndarray,
    labels: np.ndarray,
    history: Dict[str, Sequence[float]],
    extra: Dict[str, object],
    batch_size: int = 512,
) -> Dict[str, object]:
    """Evaluate ``model`` on the test images and write every report file into ``run_dir``.

    Args:
        images: uint8 test images (N, 28, 28); labels: (N,) in 0..9.
        history: per-epoch Keras history (for the training curves).
        extra: further entries for metrics.json (timing, dataset, seed, ...).

    Returns:
        The metrics dictionary written to metrics.json, plus ``files`` (the
        report files written) and ``notes`` (lines for the user, e.g. why the
        model diagram is missing).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    evaluation = evaluate(model, images, labels, batch_size)
    metrics: Dict[str, object] = {
        "test_loss": round(evaluation.loss, 5),
        "test_accuracy": round(evaluation.accuracy, 5),
        "test_images": int(len(labels)),
        "macro_f1": round(float(evaluation.f1.mean()), 4),
        "per_class": per_class_table(evaluation),
        "parameters": int(model.count_params()),
        **extra,
        "versions": library_versions(),
        "command": " ".join(sys.argv),
    }
    figures = {
        "training_curves.png": plot_training_curves(history),
        "confusion_matrix.png": plot_confusion_matrices(evaluation.matrix),
        "per_class_f1.png": plot_per_class_scores(
            {"precision": evaluation.precision, "recall": evaluation.recall, "F1": evaluation.f1}
        ),
        "misclassified.png": plot_misclassified(images, labels, evaluation),
    }
    files: List[str] = []
    for name, figure in figures.items():
        with atomic_path(run_dir / name) as temp:
            save_figure(figure, temp)
        files.append(name)
    notes = []
    why_no_diagram = save_model_diagram(model, run_dir / "model.png")
    if why_no_diagram:
        notes.append(f"model diagram skipped: {why_no_diagram}")
    else:
        files.append("model.png")
    write_json_atomic(run_dir / "metrics.json", metrics)
    files.insert(0, "metrics.json")
    return {**metrics, "files": files, "notes": notes}
