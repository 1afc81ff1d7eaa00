"""Keras callbacks for training: atomic checkpoints, resumable state, timing, TensorBoard images.

Import this module only where Keras is wanted: it subclasses
``keras.callbacks.Callback`` at import time.
"""

import json
import math
import time
from pathlib import Path
from typing import List, Optional

import keras
import numpy as np

from .atomic import write_json_atomic
from .model_io import save_model_atomic

RESUME_MODEL = "last.keras"
RESUME_STATE = "state.json"


class BestModelCheckpoint(keras.callbacks.Callback):
    """Save the model to ``path`` whenever ``monitor`` (default val_loss) improves.

    Every save is atomic (see :func:`model_io.save_model_atomic`), so a crash
    mid-save leaves the previous best model intact.
    """

    def __init__(self, path: Path, monitor: str = "val_loss", best: float = math.inf, verbose: bool = True):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.best = best
        self.verbose = verbose

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None or not value < self.best:
            return
        if self.verbose:
            previous = "inf" if math.isinf(self.best) else f"{self.best:.4f}"
            print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {previous} to {value:.4f}, "
                  f"saving model to {self.path}")
        self.best = float(value)
        save_model_atomic(self.model, self.path)


class TargetAccuracyStop(keras.callbacks.Callback):
    """Stop training once ``monitor`` (default val_accuracy) reaches ``target`` (in [0, 1])."""

    def __init__(self, target: float, monitor: str = "val_accuracy"):
        super().__init__()
        self.target = target
        self.monitor = monitor
        self.reached_at_epoch: Optional[int] = None

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is not None and value >= self.target:
            print(f"\nEpoch {epoch + 1}: {self.monitor} {value:.4f} reached the target "
                  f"{self.target:.4f}; stopping")
            self.reached_at_epoch = epoch + 1
            self.model.stop_training = True


class EpochTimer(keras.callbacks.Callback):
    """Record each epoch's wall time (seconds), training steps included, validation included."""

    def __init__(self):
        super().__init__()
        self.seconds: List[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


class ResumeState(keras.callbacks.Callback):
    """After every epoch, save everything needed to resume into ``folder``.

    ``folder/last.keras`` holds the weights and optimizer state;
    ``folder/state.json`` holds the number of epochs done, the best monitored
    value so far, and the history. Both are written atomically, the model
    first, so the state never points past the saved model.
    """

    def __init__(self, folder: Path, history: Optional[dict] = None, checkpoint: Optional[BestModelCheckpoint] = None):
        super().__init__()
        self.folder = Path(folder)
        self.history = {key: list(values) for key, values in (history or {}).items()}
        self.checkpoint = checkpoint

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.folder.mkdir(parents=True, exist_ok=True)
        save_model_atomic(self.model, self.folder / RESUME_MODEL)
        state = {
            "epochs_done": epoch + 1,
            "best_val_loss": self.checkpoint.best if self.checkpoint else None,
            "history": self.history,
        }
        write_json_atomic(self.folder / RESUME_STATE, state)


def read_resume_state(folder: Path) -> dict:
    """Read the state written by :class:`ResumeState` (raises OSError/ValueError if absent or bad)."""
    return json.loads((Path(folder) / RESUME_STATE).read_text())


class TensorBoardImages(keras.callbacks.Callback):
    """Write image summaries: a grid of sample inputs once, a confusion matrix per epoch.

    Args:
        log_dir: TensorBoard folder; images go to ``log_dir/images``.
        images: uint8 (N, 28, 28) validation images, labels: (N,) in 0..9.
        batch_size: for predicting the validation images each epoch.
    """

    def __init__(self, log_dir: Path, images: np.ndarray, labels: np.ndarray, batch_size: int = 512):
        super().__init__()
        self.log_dir = Path(log_dir) / "images"
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self._writer = None

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        import tensorflow as tf

        from .classes import CLASS_NAMES
        from .plots import figure_to_png, plot_image_grid

        self._writer = tf.summary.create_file_writer(str(self.log_dir))
        first_of_each = [int(np.flatnonzero(self.labels == c)[0]) for c in np.unique(self.labels)[:10]]
        sample = self.images[first_of_each]
        figure = plot_image_grid(sample, [CLASS_NAMES[self.labels[i]] for i in first_of_each], columns=5,
                                 suptitle="Sample inputs (one per class)")
        with self._writer.as_default():
            tf.summary.image("sample_inputs", _png_to_batch(figure_to_png(figure)), step=0)
            tf.summary.image(
                "sample_inputs_raw", sample[..., np.newaxis].astype(np.float32) / 255.0, step=0, max_outputs=10
            )
        self._writer.flush()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        import tensorflow as tf
        from sklearn.metrics import confusion_matrix

        from .pipeline import to_model_input
        from .plots import figure_to_png, plot_confusion_matrix

        probabilities = self.model.predict(to_model_input(self.images), batch_size=self.batch_size, verbose=0)
        matrix = confusion_matrix(self.labels, probabilities.argmax(axis=1), labels=range(10))
        figure = plot_confusion_matrix(matrix, f"Validation confusion matrix, epoch {epoch + 1}")
        with self._writer.as_default():
            tf.summary.image("confusion_matrix", _png_to_batch(figure_to_png(figure)), step=epoch)
        self._writer.flush()

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        if self._writer is not None:
            self._writer.close()


def _png_to_batch(png: bytes):
    import tensorflow as tf

    return tf.expand_dims(tf.image.decode_png(png, channels=4), 0)
