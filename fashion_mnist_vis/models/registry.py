"""The model registry: every script builds its network here, by name.

Every model takes float32 images of shape (28, 28, 1) with values in [0, 1]
(the original demo's convention, so its saved models and ours are
interchangeable) and returns 10 softmax class probabilities. The softmax
layer always computes in float32 (``dtype="float32"``), so a model built
under a mixed-precision policy (see precision.py) still outputs float32
probabilities and trains on a float32 loss.

Layers carry explicit names in Keras's own style (``conv2d``, ``conv2d_1``,
``max_pooling2d``, ...), so plot file names are stable across runs and match
the original demo's. Code that needs a particular layer finds it by type or
role (see :func:`find_last_conv_layer`, :func:`find_gap_layer`), never by
index.

Keras is imported inside the builders, so listing the registry (for
``--help``) does not import TensorFlow.
"""

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Dict, Tuple

from fashion_mnist_vis.classes import IMAGE_SIZE, NUM_CLASSES
from fashion_mnist_vis.errors import UserError

INPUT_SHAPE: Tuple[int, int, int] = (IMAGE_SIZE, IMAGE_SIZE, 1)
DEFAULT_MODEL = "gap_cnn"

BATCH_NORM_MOMENTUM = 0.9
"""Momentum of the batch-norm running averages that evaluation uses (Keras's default is 0.99).

With 0.99 the averages lag far behind the weights on short runs: gap_cnn
trained for 3 epochs on 12,000 synthetic images evaluated at chance (10%
validation accuracy every epoch) although it fit the training set (99%).
With 0.9 the same run validated at 97%, 99% and 99%. Parameter counts and
saved-file compatibility are unaffected.
"""


class _LayerNamer:
    """Hands out Keras-style layer names: ``conv2d``, ``conv2d_1``, ``conv2d_2``, ..."""

    def __init__(self) -> None:
        self._counts: Dict[str, int] = defaultdict(int)

    def __call__(self, base: str) -> str:
        count = self._counts[base]
        self._counts[base] += 1
        return base if count == 0 else f"{base}_{count}"


def _sequential(name: str, *body):
    """A Sequential model named ``name``: the shared (28, 28, 1) input, then ``body``'s layers."""
    import keras

    return keras.Sequential([keras.Input(shape=INPUT_SHAPE, name="input"), *body], name=name)


def _build_gap_cnn():
    """The original demo's network: 6 convs, batch norm, GAP, dropout, softmax.

    186,698 parameters. The GAP layer's 64-d output is the embedding used by
    the Projector export, and GAP -> Dense makes exact CAM possible.
    """
    from keras import layers

    name = _LayerNamer()

    def conv_pair():
        return [
            layers.Conv2D(64, 3, activation="relu", name=name("conv2d")),
            layers.Conv2D(64, 3, activation="relu", padding="same", name=name("conv2d")),
        ]

    return _sequential(
        "gap_cnn",
        *conv_pair(),
        layers.MaxPooling2D(2, name=name("max_pooling2d")),
        layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=name("batch_normalization")),
        *conv_pair(),
        layers.MaxPooling2D(2, name=name("max_pooling2d")),
        layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=name("batch_normalization")),
        *conv_pair(),
        layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=name("batch_normalization")),
        layers.GlobalAveragePooling2D(name="global_average_pooling2d"),
        layers.Dropout(0.5, name="dropout"),
        layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="dense"),
    )


def _build_dense():
    """The classic baseline: Flatten, Dense(128, relu), Dense(10). 101,770 parameters."""
    from keras import layers

    return _sequential(
        "dense",
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="dense"),
        layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="dense_1"),
    )


def _build_lenet():
    """LeNet-5 as in the classic write-ups (LeCun et al. 1998, 20/50 filters). 1,256,080 parameters."""
    from keras import layers

    return _sequential(
        "lenet",
        layers.Conv2D(20, 5, padding="same", activation="relu", name="conv2d"),
        layers.MaxPooling2D(2, name="max_pooling2d"),
        layers.Conv2D(50, 5, padding="same", activation="relu", name="conv2d_1"),
        layers.MaxPooling2D(2, name="max_pooling2d_1"),
        layers.Flatten(name="flatten"),
        layers.Dense(500, activation="relu", name="dense"),
        layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="dense_1"),
    )


def _build_cnn64():
    """Two 64-filter conv/pool blocks and a 128-unit dense layer. 243,786 parameters."""
    from keras import layers

    return _sequential(
        "cnn64",
        layers.Conv2D(64, 3, activation="relu", name="conv2d"),
        layers.MaxPooling2D(2, name="max_pooling2d"),
        layers.Conv2D(64, 3, activation="relu", name="conv2d_1"),
        layers.MaxPooling2D(2, name="max_pooling2d_1"),
        layers.Flatten(name="flatten"),
        layers.Dense(128, activation="relu", name="dense"),
        layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="dense_1"),
    )


def _build_tinyvgg():
    """TinyVGG from CNN Explainer (Wang et al. 2020), adapted to 28x28x1.

    Three 10-filter 3x3 conv layers and two max-pools, then one softmax dense
    layer. 4,430 parameters.
    """
    from keras import layers

    return _sequential(
        "tinyvgg",
        layers.Conv2D(10, 3, activation="relu", name="conv2d"),
        layers.Conv2D(10, 3, activation="relu", name="conv2d_1"),
        layers.MaxPooling2D(2, name="max_pooling2d"),
        layers.Conv2D(10, 3, activation="relu", name="conv2d_2"),
        layers.MaxPooling2D(2, name="max_pooling2d_1"),
        layers.Flatten(name="flatten"),
        layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="dense"),
    )


def _build_resnet():
    """A small residual network (He et al. 2016) ending in GAP. 698,282 parameters.

    A 32-filter stem, then three stages of two basic blocks (32, 64 and 128
    filters; stages 2 and 3 halve the resolution with a strided conv and a
    1x1 projection shortcut), GAP, dropout and a softmax dense layer.
    """
    import keras
    from keras import layers

    name = _LayerNamer()

    def conv_bn(x, filters, strides=1, relu=True):
        x = layers.Conv2D(
            filters, 3, strides=strides, padding="same", use_bias=False, name=name("conv2d")
        )(x)
        x = layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=name("batch_normalization"))(x)
        return layers.ReLU(name=name("re_lu"))(x) if relu else x

    def basic_block(x, filters, strides):
        shortcut = x
        y = conv_bn(x, filters, strides)
        y = conv_bn(y, filters, relu=False)
        if strides != 1 or shortcut.shape[-1] != filters:
            shortcut = layers.Conv2D(
                filters, 1, strides=strides, use_bias=False, name=name("conv2d")
            )(shortcut)
            shortcut = layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=name("batch_normalization"))(shortcut)
        y = layers.Add(name=name("add"))([y, shortcut])
        return layers.ReLU(name=name("re_lu"))(y)

    inputs = keras.Input(shape=INPUT_SHAPE, name="input")
    x = conv_bn(inputs, 32)
    for filters, first_strides in ((32, 1), (64, 2), (128, 2)):
        x = basic_block(x, filters, first_strides)
        x = basic_block(x, filters, 1)
    x = layers.GlobalAveragePooling2D(name="global_average_pooling2d")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="dense")(x)
    return keras.Model(inputs, outputs, name="resnet")


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: how to build a model and one line saying what it is."""

    build: Callable[[], object]
    summary: str


MODELS: Dict[str, ModelSpec] = {
    "gap_cnn": ModelSpec(_build_gap_cnn, "the original demo's CNN: batch norm, GAP, dropout (default)"),
    "dense": ModelSpec(_build_dense, "a one-hidden-layer dense baseline"),
    "lenet": ModelSpec(_build_lenet, "LeNet-5 with 20/50 filters"),
    "cnn64": ModelSpec(_build_cnn64, "two 64-filter conv blocks and a dense layer"),
    "tinyvgg": ModelSpec(_build_tinyvgg, "TinyVGG from CNN Explainer"),
    "resnet": ModelSpec(_build_resnet, "a small residual network with GAP"),
}


def build_model(name: str):
    """Build the uncompiled Keras model registered as ``name``.

    Raises:
        UserError: if ``name`` is not in :data:`MODELS`.
    """
    try:
        spec = MODELS[name]
    except KeyError:
        raise UserError(
            f"unknown model {name!r}; choose one of: {', '.join(MODELS)}"
        ) from None
    return spec.build()


def models_help() -> str:
    """One line per registered model, for ``--help`` texts."""
    return "; ".join(f"{name}: {spec.summary}" for name, spec in MODELS.items())


PASS_THROUGH_LAYERS = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout",
                       "GaussianDropout", "GaussianNoise")
"""Keras layer classes that return their input unchanged at prediction time (dropout, noise): the
layer plots skip them, CAM looks through them, the NumPy engine runs them as the identity."""


def layers_of_type(model, class_name: str) -> list:
    """The layers of ``model`` whose class, or a class it derives from, is called ``class_name``, in order.

    Matching by name treats Keras layers (subclasses included) and the
    :class:`~fashion_mnist_vis.models.numpy_network.NumpyNetwork` layers named like
    them alike, without importing Keras.
    """
    return [layer for layer in model.layers
            if any(cls.__name__ == class_name for cls in type(layer).__mro__)]


def find_gap_layer(model):
    """Return the model's last GlobalAveragePooling2D layer, or None if it has none."""
    gap_layers = layers_of_type(model, "GlobalAveragePooling2D")
    return gap_layers[-1] if gap_layers else None


def find_last_conv_layer(model):
    """Return the model's last Conv2D layer, or None if it has none."""
    conv_layers = layers_of_type(model, "Conv2D")
    return conv_layers[-1] if conv_layers else None


def find_classifier_layer(model):
    """Return the model's final Dense layer (the one producing class scores)."""
    dense_layers = layers_of_type(model, "Dense")
    if not dense_layers:
        raise UserError(f"model {model.name!r} has no Dense classifier layer")
    return dense_layers[-1]
