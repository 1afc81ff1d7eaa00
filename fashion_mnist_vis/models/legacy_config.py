"""Keras 2 model configs rewritten so that Keras 3 (and the NumPy engine) can build them.

TensorFlow 2.1-2.15 saved models with Keras 2, whose ``model_config`` Keras 3
misreads; :func:`upgrade_legacy_config` fixes what differs. It is applied once,
when a model file is read (:func:`fashion_mnist_vis.models.model_handle.open_model`),
so both engines build from the same upgraded config.
"""

import json
from typing import Any


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
