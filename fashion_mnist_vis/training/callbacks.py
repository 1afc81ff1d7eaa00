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

from fashion_mnist_vis.atomic import write_json_atomic
from fashion_mnist_vis.models.model_io import save_model_atomic
from fashion_mnist_vis.data.pipeline import EVAL_BATCH_SIZE

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
    """Record each epoch's wall time (seconds), training steps included, validation included.

    Given ``epochs`` (the run's epoch budget), it also prints after each epoch
    how long the rest of the run should take: the epochs left times the mean
    epoch time so far (leaving out the first, which includes tracing, once
    there are others), and the clock time it should end.
    """

    def __init__(self, epochs: Optional[int] = None, clock=time.time):
        super().__init__()
        self.seconds: List[float] = []
        self.epochs = epochs
        self.clock = clock
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)
        if self.epochs and epoch + 1 < self.epochs:
            print(eta_line(epoch + 1, self.epochs, self.seconds, self.clock()), flush=True)


def eta_line(done: int, epochs: int, seconds: List[float], now: float) -> str:
    """E.g. "Epoch 3/15 took 47 s; about 9 min 24 s left, until 14:05 (sooner if early stopping ends it)"."""
    typical = seconds[1:] or seconds
    left = (epochs - done) * sum(typical) / len(typical)
    until = time.strftime("%H:%M", time.localtime(now + left))
    return (f"Epoch {done}/{epochs} took {format_duration(seconds[-1])}; about {format_duration(left)} left, "
            f"until {until} (sooner if early stopping ends it)")


def format_duration(seconds: float) -> str:
    """Seconds as "47 s", "9 min 24 s" or "1 h 05 min"."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class EpochSeeds(keras.callbacks.Callback):
    """Before every epoch, set the model's random-layer seeds (dropout...) from ``(seed, epoch)``.

    Keras keeps a dropout layer's random state in a variable that model files
    do not store; re-seeding it each epoch makes epoch ``e`` draw the same
    masks whether the run started at epoch 0 or was resumed at ``e``.
    """

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        states = [v for v in self.model.variables if v.path.endswith("seed_generator_state")]
        for number, state in enumerate(states):
            state.assign(np.array([(self.seed * 1_000_003 + epoch) * 1_009 + number, 0], dtype=state.dtype))


class ResumeState(keras.callbacks.Callback):
    """After every epoch, save everything needed to resume into ``folder``.

    ``folder/last.keras`` holds the weights and optimizer state (learning
    rate included); ``folder/state.json`` holds the number of epochs done,
    the best monitored value so far, the history and the counters of
    ``stateful`` callbacks (early stopping's and the learning-rate
    schedule's waits and bests). Both are written atomically, the model
    first, so the state never points past the saved model. An epoch whose
    loss is not finite is not saved (resuming from NaN weights is useless).

    Args:
        stateful: name -> callback whose :data:`CALLBACK_FIELDS` are saved
            and, from ``restore`` (a previous state.json's ``callbacks``),
            put back when training begins (after the callbacks' own reset).
        best_weights: for a resumed EarlyStopping with ``restore_best_weights``,
            a function returning the best weights so far (read from the best model file).
    """

    CALLBACK_FIELDS = ("best", "wait", "best_epoch", "cooldown_counter")

    def __init__(self, folder: Path, history: Optional[dict] = None, checkpoint: Optional[BestModelCheckpoint] = None,
                 stateful: Optional[dict] = None, restore: Optional[dict] = None, best_weights=None):
        super().__init__()
        self.folder = Path(folder)
        self.history = {key: list(values) for key, values in (history or {}).items()}
        self.checkpoint = checkpoint
        self.stateful = stateful or {}
        self.restore = restore or {}
        self.best_weights = best_weights

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        for name, fields in self.restore.items():
            callback = self.stateful.get(name)
            for field, value in fields.items():
                if callback is not None and hasattr(callback, field):
                    setattr(callback, field, math.inf if value is None else value)
            if getattr(callback, "restore_best_weights", False) and self.best_weights is not None \
                    and math.isfinite(callback.best):
                callback.best_weights = self.best_weights()

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        logs = logs or {}
        if not math.isfinite(float(logs.get("loss", 0.0))):
            return
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))
        self.folder.mkdir(parents=True, exist_ok=True)
        save_model_atomic(self.model, self.folder / RESUME_MODEL)
        state = {
            "epochs_done": epoch + 1,
            "best_val_loss": self.checkpoint.best if self.checkpoint else None,
            "history": self.history,
            "callbacks": {
                name: {field: _json_number(getattr(callback, field)) for field in self.CALLBACK_FIELDS
                       if hasattr(callback, field)}
                for name, callback in self.stateful.items()
            },
        }
        write_json_atomic(self.folder / RESUME_STATE, state)


def _json_number(value):
    """A callback counter or best value as JSON (infinity as null)."""
    value = float(value) if isinstance(value, (float, np.floating)) else value
    return None if isinstance(value, float) and not math.isfinite(value) else value


def read_resume_state(folder: Path) -> dict:
    """Read the state written by :class:`ResumeState` (raises OSError/ValueError if absent or bad)."""
    return json.loads((Path(folder) / RESUME_STATE).read_text())


class TensorBoardImages(keras.callbacks.Callback):
    """Write image summaries: a grid of sample inputs once, a confusion matrix per epoch.

    The confusion matrix is of a fixed stratified sample of at most
    ``max_images`` validation images: predicting all of them again after
    Keras's own validation pass cost about 7% of each epoch of gap_cnn on
    54,000 images (6,000 validation images); 2,000 cost about a third of that.

    Args:
        log_dir: TensorBoard folder; images go to ``log_dir/images``.
        images: uint8 (N, 28, 28) validation images, labels: (N,) in 0..9.
        batch_size: for predicting the validation images each epoch.
        max_images: the most validation images predicted each epoch.
    """

    def __init__(self, log_dir: Path, images: np.ndarray, labels: np.ndarray, batch_size: int = EVAL_BATCH_SIZE,
                 max_images: int = 2000):
        super().__init__()
        from fashion_mnist_vis.data.datasets import stratified_subset

        self.log_dir = Path(log_dir) / "images"
        self.images, self.labels = stratified_subset(images, labels, max_images, seed=0)
        self.batch_size = batch_size
        self._writer = None

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        import tensorflow as tf

        from fashion_mnist_vis.classes import CLASS_NAMES
        from fashion_mnist_vis.visualize.plots import figure_to_png, plot_image_grid

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

        from fashion_mnist_vis.data.pipeline import to_model_input
        from fashion_mnist_vis.visualize.plots import figure_to_png, plot_confusion_matrix

        probabilities = self.model.predict(to_model_input(self.images), batch_size=self.batch_size, verbose=0)
        matrix = confusion_matrix(self.labels, probabilities.argmax(axis=1), labels=range(10))
        figure = plot_confusion_matrix(matrix, f"Validation confusion matrix, epoch {epoch + 1} "
                                               f"({len(self.labels):,} images)")
        with self._writer.as_default():
            tf.summary.image("confusion_matrix", _png_to_batch(figure_to_png(figure)), step=epoch)
        self._writer.flush()

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        if self._writer is not None:
            self._writer.close()


def _png_to_batch(png: bytes):
    import tensorflow as tf

    return tf.expand_dims(tf.image.decode_png(png, channels=4), 0)


class EmbeddingSnapshots(keras.callbacks.Callback):
    """Record the embeddings of fixed images every ``every`` epochs; draw them when training ends.

    The embeddings (GAP output, or the input of the last Dense layer; see
    :func:`embeddings.build_embedder`) of ``images`` are recorded before
    training (epoch 0), after every ``every``-th epoch and after the last
    epoch, and saved to ``folder/embedding_snapshots.npz`` each time (so
    ``--resume`` continues the series). When training ends,
    ``embedding_snapshots.gif`` (one frame per snapshot) and
    ``embedding_snapshots.png`` (small multiples) are drawn on the final
    epoch's 2-D PCA, with a shared axis range; see
    :mod:`fashion_mnist_vis.training.embedding_snapshots` for why.

    Args:
        folder: the run folder.
        images: uint8 (N, 28, 28) images, e.g. a stratified validation subset; labels: (N,) in 0..9.
        every: snapshot interval in epochs (>= 1).
    """

    def __init__(self, folder: Path, images: np.ndarray, labels: np.ndarray, every: int, batch_size: int = EVAL_BATCH_SIZE):
        super().__init__()
        from fashion_mnist_vis.training.embedding_snapshots import SNAPSHOT_FILE

        self.folder = Path(folder)
        self.path = self.folder / SNAPSHOT_FILE
        self.images = images
        self.labels = np.asarray(labels)
        self.every = every
        self.batch_size = batch_size
        self.epochs: List[int] = []
        self.embeddings: List[np.ndarray] = []
        self.files: List[str] = []
        self._embedder = None

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        from fashion_mnist_vis.training.embedding_snapshots import load_snapshots
        from fashion_mnist_vis.explain.embeddings import build_embedder

        self._embedder = build_embedder(self.model)
        if self.path.exists():  # resuming: keep the earlier snapshots of the same images
            epochs, embeddings, labels = load_snapshots(self.path)
            if np.array_equal(labels, self.labels):
                self.epochs, self.embeddings = epochs, embeddings
        if not self.epochs:
            self._record(0)

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        done = epoch + 1
        last = done >= self.params.get("epochs", done) or self.model.stop_training
        if done % self.every == 0 or last:
            self._record(done)

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        from fashion_mnist_vis.training.embedding_snapshots import write_snapshot_figures

        if len(self.epochs) > 1:
            self.files = write_snapshot_figures(self.folder, self.epochs, self.embeddings, self.labels, self.model.name)

    def _record(self, epoch: int) -> None:
        from fashion_mnist_vis.training.embedding_snapshots import save_snapshots
        from fashion_mnist_vis.data.pipeline import to_model_input

        if self.epochs and self.epochs[-1] == epoch:
            return
        embedding = self._embedder.predict(to_model_input(self.images), batch_size=self.batch_size, verbose=0)
        self.epochs.append(epoch)
        self.embeddings.append(np.asarray(embedding, dtype=np.float32).reshape(len(self.images), -1))
        save_snapshots(self.path, self.epochs, self.embeddings, self.labels)
