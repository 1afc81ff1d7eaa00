"""The original demo's recipe, re-implemented with the Keras 2 API, as the benchmark's baseline.

Run as ``python -m benchmarks.original_recipe {train,classify,export} ...``;
``python -m benchmarks.run`` does it for you. Each sub-command does what the
original demo did, the way it did it (our reconstruction; where the demo's
choice is unknown the Keras 2 default is used, and :data:`RECIPE` says so):

* ``train``: the gap_cnn network (the same layers as fashion_mnist_vis/models/registry.py, but the
  Keras 2 batch-norm momentum of 0.99), ``model.fit`` on NumPy float arrays,
  batch 128, Adam (learning rate 0.001), TensorBoard with
  ``update_freq="batch"`` and ``histogram_freq=1``, on the same synthetic
  data and split as ours; saves an HDF5 model and a JSON of epoch times and
  accuracies.
* ``classify``: greyscale and bicubic resize to 28x28, then for every layer
  a sub-model and one matplotlib figure with one subplot per channel
  (``plt.subplots`` grid, ``imshow`` in each, ``savefig``), plus the input.
* ``export``: the GAP layer's 64-d embeddings of the test images and the
  images' 784 pixels written with ``np.savetxt``'s default ``%.18e``
  format, metadata.tsv and a sprite PNG.

Like the original scripts, this module imports Keras at the top, so even
``--help`` pays for TensorFlow's start-up.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402
from PIL import Image  # noqa: E402

RECIPE = {
    "api": "tf_keras (the Keras 2 API)",
    "batch_size": 128,
    "input": "NumPy float32 arrays in [0, 1] passed to model.fit (no tf.data)",
    "optimizer": "Adam, learning rate 0.001 (Keras 2 default; assumed)",
    "loss": "sparse_categorical_crossentropy",
    "batch_norm_momentum": 0.99,
    "batch_norm_momentum_note": "the original used Keras 2's default (0.99); ours uses 0.9, see fashion_mnist_vis/models/registry.py",
    "tensorboard": {"update_freq": "batch", "histogram_freq": 1, "write_graph": True},
    "classify_plots": "one figure per layer, one subplot per channel (1.5 x 1.5 inch each, 100 dpi), "
                      "a bar chart for 1-D layers, plus the input image",
    "export": "np.savetxt default format '%.18e', tab-separated: embeddings.tsv (N x 64) and images.tsv "
              "(N x 784 pixels in [0, 1]); metadata.tsv with class names; sprite.png. The issue's 215 MB for "
              "10,000 images matches 10,000 x (784 + 64) values of about 25 bytes each; this is our "
              "reconstruction, not the original's code.",
}
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


def build_gap_cnn():
    """gap_cnn of models/registry.py written as the original did, with Keras 2 defaults (186,698 parameters)."""
    layers = keras.layers
    return keras.Sequential([
        layers.Conv2D(64, 3, activation="relu", input_shape=(28, 28, 1)),
        layers.Conv2D(64, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2),
        layers.BatchNormalization(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.Conv2D(64, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(2),
        layers.BatchNormalization(),
        layers.Conv2D(64, 3, activation="relu"),
        layers.Conv2D(64, 3, activation="relu", padding="same"),
        layers.BatchNormalization(),
        layers.GlobalAveragePooling2D(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


class _EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def _splits(args):
    """Synthetic data split like ours; the real data as the original used it: all 60,000 training images."""
    from fashion_mnist_vis.data.datasets import DataSettings, load_splits

    if args.dataset == "fashion_mnist":
        return load_splits(DataSettings(dataset="fashion_mnist", val_split=0.0), args.seed)
    return load_splits(DataSettings(dataset="synthetic", train_size=args.train_images,
                                    test_size=args.test_images), args.seed)


def _as_input(images: np.ndarray) -> np.ndarray:
    return (images.astype("float32") / 255.0).reshape(-1, 28, 28, 1)


def train(args) -> None:
    started = time.perf_counter()
    splits = _splits(args)
    keras.utils.set_random_seed(args.seed)
    model = build_gap_cnn()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    timer = _EpochTimer()
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(args.logdir), update_freq="batch", histogram_freq=1)
    # On the real data the original validated on the test set, every epoch.
    validation = (splits.x_test, splits.y_test) if args.dataset == "fashion_mnist" else (splits.x_val, splits.y_val)
    history = model.fit(_as_input(splits.x_train), splits.y_train, batch_size=128, epochs=args.epochs,
                        validation_data=(_as_input(validation[0]), validation[1]), callbacks=[tensorboard, timer],
                        verbose=2)
    model.save(args.output)
    test_loss, test_accuracy = model.evaluate(_as_input(splits.x_test), splits.y_test, verbose=0)
    result = {
        "train_images": int(len(splits.y_train)),
        "parameters": int(model.count_params()),
        "seconds_per_epoch_each": [round(s, 3) for s in timer.seconds],
        "val_accuracy": [float(v) for v in history.history["val_accuracy"]],
        "test_accuracy": float(test_accuracy),
        "seconds_total": round(time.perf_counter() - started, 3),
        "dataset": args.dataset,
        "recipe": RECIPE,
    }
    Path(args.json).write_text(json.dumps(result, indent=2))


def classify(args) -> None:
    model = keras.models.load_model(args.model)
    image = Image.open(args.image).convert("L").resize((28, 28), Image.BICUBIC)
    x = np.array(image).astype("float32").reshape(1, 28, 28, 1) / 255.0
    print(f"{args.image}: {CLASS_NAMES[int(model.predict(x).argmax())]}")
    out = Path(args.plot_dir)
    out.mkdir(parents=True, exist_ok=True)
    plt.figure()
    plt.imshow(x[0, :, :, 0], cmap="gray")
    plt.colorbar()
    plt.savefig(out / "input_image.png")
    plt.close()
    for layer in model.layers:
        activation = keras.Model(model.inputs, layer.output).predict(x)
        if activation.ndim == 4:
            channels = activation.shape[-1]
            side = math.ceil(math.sqrt(channels))
            figure, axes = plt.subplots(side, side, figsize=(side * 1.5, side * 1.5))
            for index, axis in enumerate(np.ravel(axes)):
                axis.axis("off")
                if index < channels:
                    axis.imshow(activation[0, :, :, index], cmap="viridis")
                    axis.set_title(str(index), fontsize=6)
            figure.suptitle(layer.name)
        else:
            figure = plt.figure()
            plt.bar(range(activation.shape[-1]), activation[0])
            plt.title(layer.name)
        figure.savefig(out / f"{layer.name}.png")
        plt.close(figure)


def export(args) -> None:
    splits = _splits(args)
    model = keras.models.load_model(args.model)
    gap = [layer for layer in model.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D)][-1]
    x = _as_input(splits.x_test)
    embeddings = keras.Model(model.inputs, gap.output).predict(x)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    np.savetxt(out / "embeddings.tsv", embeddings, delimiter="\t")
    np.savetxt(out / "images.tsv", x.reshape(len(x), -1), delimiter="\t")
    with open(out / "metadata.tsv", "w") as handle:
        for label in splits.y_test:
            handle.write(f"{CLASS_NAMES[label]}\n")
    side = math.ceil(math.sqrt(len(x)))
    sprite = np.zeros((side * 28, side * 28), dtype=np.uint8)
    for index, image in enumerate(splits.x_test):
        row, column = divmod(index, side)
        sprite[row * 28:(row + 1) * 28, column * 28:(column + 1) * 28] = image
    Image.fromarray(sprite).save(out / "sprite.png")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.original_recipe",
                                     description="The original demo's recipe (Keras 2 API), as a baseline.")
    commands = parser.add_subparsers(dest="command", required=True)
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--dataset", choices=("synthetic", "fashion_mnist"), default="synthetic",
                      help="fashion_mnist: the real data, trained on all 60,000 images and validated on the test set "
                           "(as the original did); synthetic: our split of generated data")
    data.add_argument("--train-images", type=int, default=60000)
    data.add_argument("--test-images", type=int, default=10000)
    data.add_argument("--seed", type=int, default=42)
    train_parser = commands.add_parser("train", parents=[data], help="train gap_cnn the original way")
    train_parser.add_argument("--epochs", type=int, default=2)
    train_parser.add_argument("--output", type=Path, required=True, help="the model, .h5")
    train_parser.add_argument("--logdir", type=Path, required=True, help="TensorBoard folder")
    train_parser.add_argument("--json", type=Path, required=True, help="epoch times and accuracies")
    train_parser.set_defaults(action=train)
    classify_parser = commands.add_parser("classify", help="classify one image and plot every layer")
    classify_parser.add_argument("image", type=Path)
    classify_parser.add_argument("--model", type=Path, required=True)
    classify_parser.add_argument("--plot-dir", type=Path, required=True)
    classify_parser.set_defaults(action=classify)
    export_parser = commands.add_parser("export", parents=[data], help="export the test set's embeddings as TSV")
    export_parser.add_argument("--model", type=Path, required=True)
    export_parser.add_argument("--output", type=Path, required=True)
    export_parser.set_defaults(action=export)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.action(args)
    return 0


if __name__ == "__main__":
    from benchmarks.entry import run_script

    sys.exit(run_script(main, "python -m benchmarks.original_recipe"))
