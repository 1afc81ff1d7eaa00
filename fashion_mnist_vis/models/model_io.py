"""Saving Keras model files, and building the Keras model of a file that has been read.

Saves are atomic: the model is written to a temporary file in the target's
folder and renamed over the target only once complete, so a crash or a full
disk never leaves a half-written model and never loses the previous one.

Model files are read by :func:`fashion_mnist_vis.models.model_handle.open_model`
(format, config, Lambda refusal, Keras 2 upgrade); :func:`build_keras_model`
builds its Keras model, always in Keras's safe mode, and :func:`load_model`
is the two in one call. This includes legacy Keras 2 HDF5 files written by
TensorFlow 2.1-2.15 (the original demo's, which Keras 3's own loader
rejects). A model trained under a mixed-precision policy comes back
computing in float32.
"""

import re
import zipfile
from pathlib import Path
from typing import Union

from fashion_mnist_vis.atomic import atomic_path
from fashion_mnist_vis.errors import UserError, one_line, shorten
from fashion_mnist_vis.models.keras_runtime import logger_quieted

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
        with atomic_path(path) as temp, logger_quieted("absl"):  # the user asked for .h5: no "legacy" notice
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


# --------------------------------------------------------------------------
# Loading (the file is read by :func:`fashion_mnist_vis.models.model_handle.open_model`)


def load_model(path: Union[str, Path]):
    """Load the Keras model at ``path`` for prediction and return it (uncompiled).

    The same as ``open_model(path, engine="keras").model`` (see
    :func:`fashion_mnist_vis.models.model_handle.open_model`): ``.keras`` files,
    Keras 3 HDF5 files and legacy Keras 2 HDF5 files, recognised from their
    contents, always in Keras's safe mode (Lambda layers are refused), as a
    model computing in float32 that takes one batch of images.

    Raises:
        UserError: naming the file, if it is missing, unreadable, not a Keras
            model, damaged, contains a Lambda layer or layer types Keras 3
            does not know, or does not take images.
    """
    from fashion_mnist_vis.models.model_handle import open_model  # noqa: PLC0415 (model_handle imports this module)

    return open_model(path, engine="keras").model


def build_keras_model(path: Path, file_format: str, config: dict, container):
    """The Keras model of a file :func:`~fashion_mnist_vis.models.model_handle.open_model` has read.

    Args:
        path: the model file.
        file_format: ``"zip"`` (a ``.keras`` archive, loaded by Keras's own
            loader) or ``"hdf5"``.
        config: the file's model config, already checked and upgraded.
        container: the open file (a ``zipfile.ZipFile`` or an ``h5py.File``).

    Raises:
        UserError: naming the file, for anything Keras cannot build or load.
    """
    name = str(path)
    try:
        if file_format == "zip":
            model = _load_keras_zip(path)
        else:
            if "model_weights" not in container:
                raise UserError(f"model file {name!r} has no model_weights group; it is damaged")
            model = _build_hdf5(config, container["model_weights"], name)
    except UserError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            EOFError, zipfile.BadZipFile) as error:
        raise _load_error(name, one_line(error)) from None
    return computing_in_float32(model)


def build_keras_architecture(file_format: str, config: dict):
    """The Keras model of a file's (checked, upgraded) ``config`` with fresh weights: enough to draw it."""
    import keras  # noqa: PLC0415
    from keras.src.legacy.saving import saving_options, saving_utils  # noqa: PLC0415
    from keras.src.saving import serialization_lib  # noqa: PLC0415

    if file_format == "zip":
        return keras.saving.deserialize_keras_object(config, safe_mode=True)
    with saving_options.keras_option_scope(use_legacy_config=True), serialization_lib.SafeModeScope(True):
        return saving_utils.model_from_config(config)


def _load_error(name: str, detail: str) -> UserError:
    """Keras's error ``detail`` as the one-line UserError the user sees."""
    if "safe_mode" in detail or "unsafe" in detail.lower():
        return code_refused(name)
    unknown = re.match(r"Unknown [\w ]+: '([^']+)'", detail)
    if unknown:
        return UserError(
            f"model {name!r} uses {unknown.group(1)!r}, which is not part of Keras 3; "
            "models with custom layers or functions cannot be loaded"
        )
    return UserError(
        f"could not load the model in {name!r}: the file is damaged, truncated or "
        f"not a model this toolkit can read ({shorten(detail)})"
    )


def code_refused(name: str, layers=()) -> UserError:
    """The error for a model file holding Python code (Lambda layers, named when known)."""
    which = f" ({', '.join(map(str, layers))})" if layers else ""
    return UserError(
        f"model {name!r} contains a Lambda layer{which}, i.e. Python code stored in the "
        "file; refusing to load it, since loading would run that code. Rebuild the model "
        "without Lambda layers"
    )


def _load_keras_zip(path: Path):
    """Load a ``.keras`` zip archive with keras.saving.load_model in safe mode."""
    import keras  # noqa: PLC0415

    if path.suffix.lower() != ".keras":
        raise UserError(
            f"{str(path)!r} is a .keras (zip) model but its name ends in {path.suffix!r}; "
            "rename it to end in .keras"
        )
    return keras.saving.load_model(path, compile=False, safe_mode=True)


def _build_hdf5(config: dict, weights, name: str):
    """Build a whole-model HDF5 file's model (Keras 3, or legacy Keras 2 upgraded) in safe mode.

    Builds the model from ``config`` with Keras's legacy-config deserializer
    in safe mode, then loads the weights from the ``model_weights`` group
    ``weights`` by layer name, checking that every layer with weights gets them.
    """
    from keras.src.legacy.saving import legacy_h5_format  # noqa: PLC0415

    model = build_keras_architecture("hdf5", config)
    _check_weight_layers(weights, model, name, legacy_h5_format)
    legacy_h5_format.load_weights_from_hdf5_group_by_name(weights, model)
    return model


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

