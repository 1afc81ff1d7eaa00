"""Saving and loading Keras model files.

Saves are atomic: the model is written to a temporary file in the target's
folder and renamed over the target only once complete, so a crash or a full
disk never leaves a half-written model and never loses the previous one.

:func:`load_model` reads ``.keras`` files, HDF5 files written by Keras 3,
and legacy Keras 2 HDF5 files written by TensorFlow 2.1-2.15 (including the
original demo's, which Keras 3's own loader rejects), always in Keras's safe
mode: a model file never runs code (Lambda layers are refused). A model
trained under a mixed-precision policy comes back computing in float32.
"""

import contextlib
import json
import logging
import re
import zipfile
from pathlib import Path
from typing import Any, List, Union

from .atomic import atomic_path
from .errors import UserError

MODEL_SUFFIXES = (".keras", ".h5")


def check_model_path(path: Union[str, Path]) -> Path:
    """Return ``path`` as a Path, or raise UserError if its suffix is not .keras or .h5."""
    path = Path(path)
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise UserError(
            f"model file {str(path)!r} must end in .keras or .h5 (got {path.suffix or 'no suffix'!r})"
        )
    return path


def save_model_atomic(model, path: Union[str, Path]) -> Path:
    """Save ``model`` to ``path`` (.keras or .h5) via a temporary file and a rename.

    If saving fails for any reason, the temporary file is removed, any file
    already at ``path`` is left untouched and the error propagates (as a
    UserError for an OS error such as a full disk or a read-only folder).
    """
    path = check_model_path(path)
    try:
        with atomic_path(path) as temp, _quiet_hdf5_notice():
            _write_model(model, temp)
    except OSError as error:
        raise UserError(f"could not save the model to {str(path)!r}: {error.strerror or error}; the previous "
                        "file, if any, is unchanged") from None
    return path


def _write_model(model, path: Path) -> None:
    """``model.save(path)``, except that an .h5 file is built in memory, then written with plain file I/O.

    The HDF5 library does not survive a failed write (a full disk): h5py
    raises from destructors and the next HDF5 call can crash the process.
    Built in memory, the only write that can fail is an ordinary one.
    """
    if path.suffix.lower() != ".h5":
        model.save(path)
        return
    import io

    import h5py  # noqa: PLC0415 (lazy: keeps --help fast)
    from keras.src.legacy.saving import legacy_h5_format  # noqa: PLC0415

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        legacy_h5_format.save_model_to_hdf5(model, handle)
    path.write_bytes(buffer.getvalue())


@contextlib.contextmanager
def _quiet_hdf5_notice():
    """Keras logs a 'legacy format' warning for .h5; the user asked for .h5, so hide it."""
    logger = logging.getLogger("absl")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


# --------------------------------------------------------------------------
# Loading

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZIP_SIGNATURE = b"PK"
_MODEL_CLASSES = ("Sequential", "Functional", "Model")
_CODE_LAYERS = ("Lambda",)


def load_model(path: Union[str, Path]):
    """Load the Keras model at ``path`` for prediction and return it (uncompiled).

    Accepts ``.keras`` files, HDF5 (``.h5``) files written by Keras 3, and
    legacy Keras 2 HDF5 files written by TensorFlow 2.1-2.15 (see
    :func:`upgrade_legacy_config`). The file type is recognised from its
    contents, so an HDF5 model named ``.keras`` loads too. Loading always
    uses Keras's safe mode, and any Lambda layer (Python code stored in the
    file) is refused before anything is built.

    The model must take one batch of images: input shape ``(None, height,
    width, channels)`` with fixed height and width and 1 or 3 channels.
    It comes back computing in float32 (see :func:`computing_in_float32`).

    Raises:
        UserError: naming the file, if it is missing, a folder, empty,
            unreadable, not a Keras model (a text file, a zip or HDF5 file
            without a model in it), truncated or damaged, contains a Lambda
            layer or layer types Keras 3 does not know, or does not take
            images.
    """
    path = Path(path)
    name = str(path)
    check_model_file(path)
    with open(path, "rb") as handle:
        head = handle.read(8)
    import h5py  # noqa: PLC0415 (lazy: keeps --help fast)

    try:
        if head.startswith(_ZIP_SIGNATURE):
            model = _load_keras_zip(path)
        elif head == _HDF5_SIGNATURE or h5py.is_hdf5(path):
            model = _load_hdf5(path)
        else:
            raise UserError(
                f"{name!r} is not a Keras model file (neither a .keras zip archive nor HDF5)"
            )
    except UserError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            EOFError, zipfile.BadZipFile) as error:
        detail = _one_line(error)
        if "safe_mode" in detail or "unsafe" in detail.lower():
            raise _code_refused(name) from None
        unknown = re.match(r"Unknown [\w ]+: '([^']+)'", detail)
        if unknown:
            raise UserError(
                f"model {name!r} uses {unknown.group(1)!r}, which is not part of Keras 3; "
                "models with custom layers or functions cannot be loaded"
            ) from None
        raise UserError(
            f"could not load the model in {name!r}: the file is damaged, truncated or "
            f"not a model this toolkit can read ({_shorten(detail)})"
        ) from None
    check_image_model(model, name)
    return computing_in_float32(model)


def computing_in_float32(model):
    """``model`` itself if every layer computes in float32, else a float32 copy with the same weights.

    A model trained under ``mixed_bfloat16``/``mixed_float16`` (see
    precision.py) keeps float32 weights but computes in 16 bits. Prediction,
    feature-map plots and CAM want float32 arrays, and CPUs without bf16
    units emulate bfloat16 slowly, so loaded models always compute in
    float32. Layer names, weights and the model's name are kept.
    """
    import keras  # noqa: PLC0415

    def policies(layers):
        for layer in layers:
            yield layer.dtype_policy.name
            yield from policies(getattr(layer, "layers", []))

    if all(policy == "float32" for policy in policies(model.layers)):
        return model

    def float32_layer(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    copy = keras.models.clone_model(model, clone_function=float32_layer, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


def check_image_model(model, name: str = "the model") -> None:
    """Raise UserError unless ``model`` takes one batch of images.

    Its single input must have shape ``(None, height, width, channels)`` with
    fixed height and width and ``channels`` 1 or 3.
    """
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise UserError(f"model {name!r} has no defined input, so it cannot classify images")
    if len(inputs) != 1:
        raise UserError(f"model {name!r} has {len(inputs)} inputs; expected one image input")
    shape = tuple(inputs[0].shape)
    if (
        len(shape) != 4
        or shape[3] not in (1, 3)
        or not all(isinstance(size, int) and size > 0 for size in shape[1:3])
    ):
        raise UserError(
            f"model {name!r} does not take images: its input shape is {shape}, expected "
            "(None, height, width, channels) with fixed height and width and 1 or 3 channels"
        )


def describe_model(model, path: Union[str, Path]) -> str:
    """One line describing the model: file, name, input shape and parameter count."""
    shape = " \u00d7 ".join(str(size) for size in model.input_shape[1:])
    return f"{Path(path).name} ({model.name}, input {shape}, {model.count_params():,} parameters)"


def upgrade_legacy_config(config: Any) -> Any:
    """Return a copy of a Keras 2 ``model_config`` that Keras 3 can build.

    Keras 2 (TensorFlow 2.1 and later 2.x) stored a Sequential model's input
    shape as ``batch_input_shape`` on its first layer, with no InputLayer.
    Keras 3 reads that as a per-sample ``input_shape``, adds a second batch
    axis and fails ("Kernel shape must have the same length as input ...").
    This function, applied recursively to nested models:

    * inserts an explicit ``InputLayer`` (``batch_input_shape`` and ``dtype``
      of the first layer, named ``<first layer>_input`` as Keras 2 did) into
      any Sequential that has none;
    * removes ``batch_input_shape``/``input_shape``/``batch_size`` from every
      layer but InputLayers (Keras 2 repeated it on the first layer even with
      an InputLayer present);
    * turns Keras 2 dtype policies (``{"class_name": "Policy", "config":
      {"name": "mixed_float16"}}``) into the plain name Keras 3 accepts.

    Configs that need none of this (Keras 3's own HDF5 files, TensorFlow
    2.4+ Sequential models that already have an InputLayer) come back equal.
    """
    return _upgrade(json.loads(json.dumps(config)))


def _upgrade(node: Any) -> Any:
    if isinstance(node, list):
        return [_upgrade(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _upgrade(value) for key, value in node.items()}
    class_name = node.get("class_name")
    layer_config = node.get("config")
    if class_name in ("Policy", "DTypePolicy") and isinstance(layer_config, dict) \
            and isinstance(layer_config.get("name"), str) and "module" not in node:
        return layer_config["name"]
    if not isinstance(layer_config, dict):
        return node
    if class_name == "Sequential" and isinstance(layer_config.get("layers"), list):
        layers = layer_config["layers"]
        if layers and isinstance(layers[0], dict) and layers[0].get("class_name") != "InputLayer":
            first = layers[0].get("config", {})
            batch_input_shape = first.get("batch_input_shape")
            if batch_input_shape is not None:
                dtype = first.get("dtype")
                layers.insert(0, {
                    "class_name": "InputLayer",
                    "config": {
                        "batch_input_shape": batch_input_shape,
                        "dtype": dtype if isinstance(dtype, str) else "float32",
                        "sparse": False,
                        "name": f"{first.get('name', 'input')}_input",
                    },
                })
    if class_name in ("Functional", "Model") and isinstance(layer_config.get("layers"), list):
        _renumber_nested_sequential_nodes(layer_config)
    if isinstance(layer_config.get("layers"), list):
        for layer in layer_config["layers"]:
            if isinstance(layer, dict) and layer.get("class_name") != "InputLayer" \
                    and isinstance(layer.get("config"), dict):
                for key in ("batch_input_shape", "input_shape", "batch_size"):
                    layer["config"].pop(key, None)
    return node


def _renumber_nested_sequential_nodes(model_config: dict) -> None:
    """Shift Keras 2 node indices of built Sequential models nested in a functional model.

    In Keras 2 a Sequential built with an input shape had a node of its own
    (index 0), so the functional model's first call of it was node 1. Keras 3
    creates no such node, so legacy (list-format) references to node ``n >= 1``
    of such a Sequential become ``n - 1``. Keras 3's own files use the dict
    node format and are left alone.
    """
    built = {
        layer.get("name") or layer["config"].get("name")
        for layer in model_config["layers"]
        if isinstance(layer, dict) and layer.get("class_name") == "Sequential"
        and isinstance(layer.get("config"), dict)
        and (layer["config"].get("layers") or [{}])[0].get("class_name") == "InputLayer"
    }
    if not built:
        return

    def shift(entry):
        if (isinstance(entry, list) and len(entry) >= 3 and entry[0] in built
                and isinstance(entry[1], int) and entry[1] >= 1):
            entry[1] -= 1

    for layer in model_config["layers"]:
        for node in layer.get("inbound_nodes") or []:
            if isinstance(node, list):  # Keras 2 format: [[name, node, tensor, kwargs], ...]
                for entry in node:
                    shift(entry)
    for key in ("input_layers", "output_layers"):
        entries = model_config.get(key)
        if isinstance(entries, list) and entries and isinstance(entries[0], str):
            entries = [entries]
        for entry in entries or []:
            shift(entry)


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


def _refuse_code(config: Any, name: str) -> None:
    lambdas = _find_classes(config, _CODE_LAYERS)
    if lambdas:
        raise _code_refused(name, lambdas)


def _code_refused(name: str, layers=()) -> UserError:
    which = f" ({', '.join(map(str, layers))})" if layers else ""
    return UserError(
        f"model {name!r} contains a Lambda layer{which}, i.e. Python code stored in the "
        "file; refusing to load it, since loading would run that code. Rebuild the model "
        "without Lambda layers"
    )


def _load_keras_zip(path: Path):
    """Load a ``.keras`` zip archive with keras.saving.load_model in safe mode."""
    import keras  # noqa: PLC0415

    name = str(path)
    if not zipfile.is_zipfile(path):
        raise UserError(f"model file {name!r} is truncated or damaged (not a complete zip archive)")
    with zipfile.ZipFile(path) as archive:
        members = set(archive.namelist())
        if "config.json" not in members:
            raise UserError(
                f"{name!r} is a zip archive but not a Keras model (it has no config.json)"
            )
        try:
            config = json.loads(archive.read("config.json"))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile) as error:
            raise UserError(
                f"model file {name!r} is damaged: its config.json cannot be read ({_one_line(error)})"
            ) from None
    _refuse_code(config, name)
    if path.suffix.lower() != ".keras":
        raise UserError(
            f"{name!r} is a .keras (zip) model but its name ends in {path.suffix!r}; "
            "rename it to end in .keras"
        )
    return keras.saving.load_model(path, compile=False, safe_mode=True)


def _load_hdf5(path: Path):
    """Load a whole-model HDF5 file (Keras 3, or legacy Keras 2) in safe mode.

    Reads ``model_config`` with h5py, rewrites Keras 2 configs with
    :func:`upgrade_legacy_config`, builds the model with Keras's legacy-config
    deserializer in safe mode, then loads the weights from ``model_weights``
    by layer name, checking that every layer with weights gets them.
    """
    import h5py  # noqa: PLC0415
    from keras.src.legacy.saving import legacy_h5_format, saving_options, saving_utils  # noqa: PLC0415
    from keras.src.saving import serialization_lib  # noqa: PLC0415

    name = str(path)
    try:
        h5_file = h5py.File(path, "r")
    except OSError as error:
        raise UserError(
            f"model file {name!r} is truncated or damaged: HDF5 cannot open it ({_shorten(_one_line(error))})"
        ) from None
    with h5_file:
        raw_config = h5_file.attrs.get("model_config")
        if raw_config is None:
            raise UserError(
                f"{name!r} is an HDF5 file but holds no Keras model (no model_config; "
                "a weights-only file?)"
            )
        if hasattr(raw_config, "decode"):
            raw_config = raw_config.decode("utf-8")
        try:
            config = json.loads(raw_config)
        except ValueError as error:
            raise UserError(
                f"model file {name!r} is damaged: its model_config is not valid JSON ({_one_line(error)})"
            ) from None
        if not isinstance(config, dict) or "class_name" not in config:
            raise UserError(f"model file {name!r} is damaged: its model_config is not a model")
        _refuse_code(config, name)
        if config["class_name"] not in _MODEL_CLASSES:
            raise UserError(
                f"{name!r} holds a {config['class_name']!r}, not a Keras model "
                f"({', '.join(_MODEL_CLASSES)})"
            )
        if "model_weights" not in h5_file:
            raise UserError(f"model file {name!r} has no model_weights group; it is damaged")
        config = upgrade_legacy_config(config)
        with saving_options.keras_option_scope(use_legacy_config=True), \
                serialization_lib.SafeModeScope(True):
            model = saving_utils.model_from_config(config)
        weights = h5_file["model_weights"]
        _check_weight_layers(weights, model, name, legacy_h5_format)
        legacy_h5_format.load_weights_from_hdf5_group_by_name(weights, model)
    return model


def _check_weight_layers(group, model, name: str, legacy_h5_format) -> None:
    """Raise UserError unless the file has weights for exactly the model's layers with weights."""
    saved = set()
    for layer_name in legacy_h5_format.load_attributes_from_hdf5_group(group, "layer_names"):
        layer_name = layer_name.decode("utf-8") if hasattr(layer_name, "decode") else str(layer_name)
        if layer_name in group and legacy_h5_format.load_attributes_from_hdf5_group(
            group[layer_name], "weight_names"
        ):
            saved.add(layer_name)
    expected = {layer.name for layer in model.layers if layer.weights}
    missing, extra = sorted(expected - saved), sorted(saved - expected)
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"no saved weights for layer(s) {', '.join(missing)}")
        if extra:
            problems.append(f"weights for unknown layer(s) {', '.join(extra)}")
        raise UserError(f"model file {name!r} is damaged: {'; '.join(problems)}")


def check_model_file(path: Path) -> None:
    """Raise UserError unless ``path`` is a readable, non-empty regular file."""
    name = str(path)
    if not path.exists():
        raise UserError(f"model file {name!r} does not exist")
    if path.is_dir():
        raise UserError(
            f"model file {name!r} is a folder; give a .keras or .h5 file "
            "(TensorFlow SavedModel folders are not supported)"
        )
    if not path.is_file():  # opening a FIFO would block forever
        raise UserError(f"model file {name!r} is not a regular file (a pipe, socket or device)")
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except PermissionError:
        raise UserError(f"cannot read model file {name!r}: permission denied") from None
    except OSError as error:
        raise UserError(f"cannot read model file {name!r}: {error.strerror or error}") from None
    if size == 0:
        raise UserError(f"model file {name!r} is empty (0 bytes)")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
