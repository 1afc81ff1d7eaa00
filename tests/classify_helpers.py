"""Small models shared by the classify test files (built once per test run).

Not a conftest: the test modules import these helpers. tinyvgg is trained
for a few dozen steps on synthetic data; gap_cnn gets random weights
(batch-norm statistics included). Models are saved under a temporary folder.
"""

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np

from fashion_mnist_vis.models.registry import build_model
from fashion_mnist_vis.data.pipeline import to_model_input
from fashion_mnist_vis.data.synthetic import generate_synthetic

_FOLDER = Path(tempfile.mkdtemp(prefix="classify-models-"))
atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)


@functools.lru_cache(maxsize=None)
def synthetic_data(count: int = 2000, seed: int = 3):
    """uint8 images (count, 28, 28) and labels (count,) from the synthetic generator."""
    return generate_synthetic(count, seed)


STEPS = {"tinyvgg": 40}
"""Training steps (batches of 32) per model; models not listed get random weights instead.

Training gap_cnn even briefly costs about ten seconds (mostly tracing); random
weights, batch-norm statistics included, exercise the same maths in a blink.
"""


@functools.lru_cache(maxsize=None)
def trained_model_path(name: str) -> Path:
    """Registry model ``name``, trained (see :data:`STEPS`) or randomised, saved as .keras; return the file."""
    import keras

    from fashion_mnist_vis.models.model_io import save_model_atomic

    keras.utils.set_random_seed(7)
    model = build_model(name)
    if name in STEPS:
        images, labels = synthetic_data()
        count = STEPS[name] * 32
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
        model.fit(to_model_input(images[:count]), labels[:count].astype(np.int32),
                  batch_size=32, epochs=1, verbose=0, shuffle=False)
    else:
        rng = np.random.default_rng(7)
        model.set_weights([
            np.abs(rng.normal(0.5, 0.2, w.shape)) + 0.5 if "variance" in w.path
            else rng.normal(0.0, 0.1, w.shape)
            for w in model.weights
        ])
    return save_model_atomic(model, _FOLDER / f"{name}.keras")


def trained_model(name: str):
    """A freshly loaded copy of :func:`trained_model_path`'s model."""
    from fashion_mnist_vis.models.model_io import load_model

    return load_model(trained_model_path(name))


def save_tiny_model(path: Path, seed: int, gap: bool = False) -> Path:
    """A tiny model with random weights from ``seed``, saved at ``path`` (replacing what is there).

    ``gap``: Conv2D (6 filters), GlobalAveragePooling2D ``gap``, Dense 10 (130 weights): its embedding
    is the GAP output. Otherwise Conv2D (2 filters, stride 2), Flatten, Dense ``features`` (8 ReLU units),
    Dense 10 (2,810 weights): its embedding is the last Dense layer's input, which, unlike a GAP output,
    tells where an item's stripes are.
    """
    import keras

    from fashion_mnist_vis.models.model_io import save_model_atomic

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((28, 28, 1))
    if gap:
        features = keras.layers.Conv2D(6, 3, activation="relu", name="conv")(inputs)
        embedding = keras.layers.GlobalAveragePooling2D(name="gap")(features)
    else:
        features = keras.layers.Conv2D(2, 3, strides=2, activation="relu", name="conv")(inputs)
        flat = keras.layers.Flatten(name="flatten")(features)
        embedding = keras.layers.Dense(8, activation="relu", name="features")(flat)
    outputs = keras.layers.Dense(10, activation="softmax", name="classifier")(embedding)
    return save_model_atomic(keras.Model(inputs, outputs, name="tiny_gap" if gap else "tiny_dense"), path)
