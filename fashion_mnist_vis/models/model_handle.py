"""Open a model file once and run it with NumPy or Keras: the one way every command opens a model.

:func:`open_model` reads a ``.keras`` zip archive or an HDF5 file (Keras 3,
or legacy Keras 2 written by TensorFlow 2.1-2.15) exactly once: it tells the
two formats apart by their contents, reads the model's JSON config, refuses
Lambda layers (Python code stored in the file) before anything is built,
upgrades Keras 2 configs (:func:`~fashion_mnist_vis.models.legacy_config.upgrade_legacy_config`),
and then builds the model with one engine, chosen by one rule (:data:`ENGINES`):

* ``auto``: NumPy (:mod:`fashion_mnist_vis.models.numpy_network`, no TensorFlow)
  when it implements every layer of the model and the command runs the
  model on a few images (classify: importing TensorFlow would take longer
  than the work); Keras otherwise, and always for a command that runs it on
  many images or a video stream (``many_images``: evaluate, the Projector
  export, webcam_classify), where TensorFlow's start-up is repaid by
  convolutions 2-5x faster than NumPy's;
* ``numpy``: NumPy, or a one-line :class:`UserError` saying why it cannot
  (:func:`numpy_refusal`), the same in every command;
* ``keras``: always Keras (:func:`fashion_mnist_vis.models.model_io.build_keras_model`,
  in safe mode).

The :class:`ModelHandle` it returns holds the model, which engine runs it and
the model's graph (:class:`~fashion_mnist_vis.models.graph.ModelGraph`), built once.
"""

import contextlib
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Union

import numpy as np

from fashion_mnist_vis.errors import UserError, one_line, shorten
from fashion_mnist_vis.models.legacy_config import upgrade_legacy_config

ENGINES = ("auto", "numpy", "keras")
"""What may run a model (``--engine``): see the module's docstring."""

ZIP, HDF5 = "zip", "hdf5"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZIP_SIGNATURE = b"PK"
_MODEL_CLASSES = ("Sequential", "Functional", "Model")
_CODE_LAYERS = ("Lambda",)


@dataclass
class ModelHandle:
    """A model file opened by :func:`open_model`.

    Attributes:
        path: the model file.
        model: the model: a Keras model or a
            :class:`~fashion_mnist_vis.models.numpy_network.NumpyNetwork` (both have
            ``name``, ``layers``, ``get_layer``, ``inputs``, ``outputs``,
            ``input_shape`` and ``count_params()``).
        engine: ``"NumPy"`` or ``"Keras"``, what runs it.
        config: the file's model config (Keras 2 configs upgraded).
        file_format: :data:`ZIP` or :data:`HDF5`.
    """

    path: Path
    model: Any
    engine: str
    config: dict
    file_format: str = HDF5
    _graph: Any = field(default=None, repr=False)
    _keras_model: Any = field(default=None, repr=False)
    _keras_graph: Any = field(default=None, repr=False)

    @property
    def graph(self):
        """The model's :class:`~fashion_mnist_vis.models.graph.ModelGraph`, built on first use, then kept."""
        if self._graph is None:
            if self.engine == "NumPy":
                self._graph = self.model.graph
            else:
                from fashion_mnist_vis.models.keras_graph import LayerGraph  # noqa: PLC0415

                self._graph = LayerGraph(self.model)
        return self._graph

    @property
    def keras_model(self):
        """The model as Keras runs it, computing in float32, for what needs TensorFlow's autodiff
        (gradient explanations): ``model`` itself when Keras runs it (a float32 copy if it computes in
        16 bits), else the Keras model of the same file, built on first use (TensorFlow is imported), then kept."""
        if self._keras_model is None:
            from fashion_mnist_vis.models.model_io import computing_in_float32  # noqa: PLC0415

            if self.engine == "Keras":
                self._keras_model = computing_in_float32(self.model)
            else:
                self._keras_model = open_model(self.path, engine="keras").model
        return self._keras_model

    @property
    def keras_graph(self):
        """:attr:`keras_model`'s :class:`~fashion_mnist_vis.models.keras_graph.LayerGraph` (:attr:`graph`
        itself when that is the same model), built on first use, then kept."""
        if self._keras_graph is None:
            if self.engine == "Keras" and self.keras_model is self.model:
                self._keras_graph = self.graph
            else:
                from fashion_mnist_vis.models.keras_graph import LayerGraph  # noqa: PLC0415

                self._keras_graph = LayerGraph(self.keras_model)
        return self._keras_graph

    def describe(self) -> str:
        """One line: file, model name, input shape and parameter count."""
        from fashion_mnist_vis.models.model_io import describe_model  # noqa: PLC0415

        return describe_model(self.model, self.path)

    def diagram_model(self):
        """A Keras model to draw (``keras.utils.plot_model``): the model itself when Keras runs it,
        else one built from the config alone (no weights are read; TensorFlow is imported)."""
        if self.engine == "Keras":
            return self.model
        from fashion_mnist_vis.models.model_io import build_keras_architecture  # noqa: PLC0415

        return build_keras_architecture(self.file_format, self.config)


def keras_handle(model, path: Union[str, Path] = "(in memory)") -> ModelHandle:
    """A handle of a Keras model already in memory (just trained, or built by a test)."""
    return ModelHandle(Path(path), model, "Keras", {}, "")


def numpy_refusal(path: Union[str, Path], reason: object) -> UserError:
    """The one-line error of the numpy engine for a model NumPy cannot run."""
    return UserError(f"model {str(path)!r} cannot run with the numpy engine ({reason}); use the keras engine",
                     settings=("engine=keras",))


def open_model(path: Union[str, Path], engine: str = "auto", debug: bool = False,
               many_images: bool = False) -> ModelHandle:
    """Read the model file at ``path`` once and build its model with ``engine`` (see :data:`ENGINES`).

    ``many_images`` says the command runs the model on many images or a video
    stream, so that ``auto`` means Keras (see the module's docstring).

    TensorFlow is imported (quietly unless ``debug``, see
    :func:`fashion_mnist_vis.models.keras_runtime.import_tensorflow`) only when Keras runs the
    model. The model must take one batch of images, ``(None, height, width,
    channels)`` with 1 or 3 channels, and computes in float32.

    Raises:
        UserError: naming the file, if it is missing, a folder, empty,
            unreadable, not a Keras model, truncated or damaged, contains a
            Lambda layer or layer types Keras 3 does not know, does not take
            images, or (``numpy``) holds a layer NumPy does not implement.
        ValueError: for an engine not in :data:`ENGINES`.
    """
    from fashion_mnist_vis.models import model_io  # noqa: PLC0415

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    path = Path(path)
    model_io.check_model_file(path)
    file_format = _file_format(path)
    with _opened(path, file_format) as container:
        config = upgrade_legacy_config(_read_config(container, file_format, str(path)))
        model, runs = None, "NumPy"
        if engine == "numpy" or (engine == "auto" and not many_images):
            model = _numpy_network(path, file_format, config, container, engine)
        if model is None:
            from fashion_mnist_vis.models.keras_runtime import import_tensorflow  # noqa: PLC0415

            import_tensorflow(debug)
            model, runs = model_io.build_keras_model(path, file_format, config, container), "Keras"
    model_io.check_image_model(model, str(path))
    return ModelHandle(path, model, runs, config, file_format)


def _numpy_network(path: Path, file_format: str, config: dict, container, engine: str):
    """The NumPy network of the file, or None when NumPy cannot run it and ``engine`` is auto."""
    from fashion_mnist_vis.models.numpy_network import NotSupported, build_network  # noqa: PLC0415

    try:
        try:
            with _weights_reader(container, file_format) as weights_of:
                return build_network(config, weights_of)
        except (OSError, KeyError, ValueError, TypeError, IndexError, AttributeError) as error:
            raise NotSupported(f"{type(error).__name__}: {error}") from None
    except NotSupported as reason:
        if engine == "numpy":
            raise numpy_refusal(path, reason) from None
        return None


# ------------------------------------------------------------------ reading the file


def _file_format(path: Path) -> str:
    """:data:`ZIP` or :data:`HDF5`, from the file's first bytes."""
    import h5py  # noqa: PLC0415 (lazy: keeps --help fast)

    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(_ZIP_SIGNATURE):
        if not zipfile.is_zipfile(path):
            raise UserError(f"model file {str(path)!r} is truncated or damaged (not a complete zip archive)")
        return ZIP
    if head == _HDF5_SIGNATURE or h5py.is_hdf5(path):
        return HDF5
    raise UserError(f"{str(path)!r} is not a Keras model file (neither a .keras zip archive nor HDF5)")


@contextlib.contextmanager
def _opened(path: Path, file_format: str) -> Iterator[Any]:
    """The open file: a ``zipfile.ZipFile`` or an ``h5py.File``."""
    import h5py  # noqa: PLC0415

    name = str(path)
    try:
        container = zipfile.ZipFile(path) if file_format == ZIP else h5py.File(path, "r")
    except (OSError, zipfile.BadZipFile) as error:
        reader = "HDF5" if file_format == HDF5 else "zipfile"
        raise UserError(f"model file {name!r} is truncated or damaged: {reader} cannot open it "
                        f"({shorten(one_line(error))})") from None
    with container:
        yield container


def _read_config(container, file_format: str, name: str) -> dict:
    """The model config stored in the file, checked: a model, and no Lambda layer."""
    if file_format == ZIP:
        if "config.json" not in container.namelist():
            raise UserError(f"{name!r} is a zip archive but not a Keras model (it has no config.json)")
        try:
            config = json.loads(container.read("config.json"))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile) as error:
            raise UserError(
                f"model file {name!r} is damaged: its config.json cannot be read ({one_line(error)})"
            ) from None
    else:
        raw_config = container.attrs.get("model_config")
        if raw_config is None:
            raise UserError(
                f"{name!r} is an HDF5 file but holds no Keras model (no model_config; a weights-only file?)"
            )
        try:
            config = json.loads(_text(raw_config))
        except ValueError as error:
            raise UserError(
                f"model file {name!r} is damaged: its model_config is not valid JSON ({one_line(error)})"
            ) from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise UserError(f"model file {name!r} is damaged: its model config is not a model")
    lambdas = _find_classes(config, _CODE_LAYERS)
    if lambdas:
        from fashion_mnist_vis.models.model_io import code_refused  # noqa: PLC0415

        raise code_refused(name, lambdas)
    if config["class_name"] not in _MODEL_CLASSES:
        raise UserError(f"{name!r} holds a {config['class_name']!r}, not a Keras model ({', '.join(_MODEL_CLASSES)})")
    return config


def _find_classes(node: Any, wanted) -> List[str]:
    """Names of config entries anywhere in ``node`` whose class_name is in ``wanted``."""
    found = []
    if isinstance(node, dict):
        if node.get("class_name") in wanted:
            config = node.get("config")
            found.append(config.get("name", node["class_name"]) if isinstance(config, dict)
                         else node["class_name"])
        for value in node.values():
            found.extend(_find_classes(value, wanted))
    elif isinstance(node, list):
        for item in node:
            found.extend(_find_classes(item, wanted))
    return found


@contextlib.contextmanager
def _weights_reader(container, file_format: str) -> Iterator[Callable[[str, str], List[np.ndarray]]]:
    """``weights_of(layer name, class name)`` -> that layer's weights as stored in the file.

    Raises:
        KeyError: if the file has no weights where a model file keeps them.
    """
    import h5py  # noqa: PLC0415

    if file_format == ZIP:
        if "model.weights.h5" not in container.namelist():
            raise KeyError("a .keras archive without model.weights.h5")
        with container.open("model.weights.h5") as weights_file, h5py.File(weights_file, "r") as weights:
            yield Keras3Weights(weights)
        return
    if "model_weights" not in container:
        raise KeyError("an HDF5 model file without model_weights")
    weights = container["model_weights"]

    def weights_of(name: str, class_name: str) -> List[np.ndarray]:
        if name not in weights:
            return []
        group = weights[name]
        return [group[_text(weight_name)][()] for weight_name in group.attrs.get("weight_names", [])]

    yield weights_of


class Keras3Weights:
    """The weights of a ``.keras`` file's layers, asked for in the model's layer order.

    Keras 3 files them as ``layers/<class name in snake case>[_<n>]/vars/<i>``
    (``conv2d``, ``conv2d_1``, ...: the n-th layer of that class, whatever its
    own name), so they are found by counting, in the order of the model's
    ``layers`` (a functional model's InputLayer included).
    """

    def __init__(self, weights):
        self._weights = weights
        self._seen: Dict[str, int] = {}

    def __call__(self, name: str, class_name: str) -> List[np.ndarray]:
        stem = snake_case(class_name)
        count = self._seen.get(stem, 0)
        self._seen[stem] = count + 1
        group = self._weights.get(f"layers/{stem}{f'_{count}' if count else ''}/vars")
        if group is None:
            return []
        return [group[str(index)][()] for index in range(len(group))]


def snake_case(class_name: str) -> str:
    """Keras's file name for a class: ``Conv2D`` -> ``conv2d``, ``ReLU`` -> ``re_lu``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", class_name))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


