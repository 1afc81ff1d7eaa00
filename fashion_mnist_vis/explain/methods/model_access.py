"""How the methods run the model: forward passes with the handle's engine, gradients with Keras.

* :class:`ForwardPass` (forward-only methods: CAM, Eigen-CAM, Score-CAM,
  occlusion): a layer's output and the class logits for a batch, with
  whichever engine the handle runs (NumPy or Keras, one compiled graph),
  in batches of ``batch_size``.
* :class:`LogitGradients` (Grad-CAM and its kin, saliency, SmoothGrad,
  Integrated Gradients): the gradient of a target ``logits @ t`` (see
  :func:`~fashion_mnist_vis.explain.methods.base.target_weights`) with respect
  to a layer's output or to the input, from TensorFlow's autodiff on
  :attr:`~fashion_mnist_vis.models.model_handle.ModelHandle.keras_model` (for a
  NumPy handle, the Keras model of the same file, opened once). One
  ``tf.function`` with a fixed signature: traced once, whatever the class or batch size.

Logits are the classifier's pre-activation, ``features @ kernel + bias``, the
classifier being the model's last Dense layer
(:func:`~fashion_mnist_vis.models.registry.find_classifier_layer`).
"""

import weakref
from typing import List, Optional, Tuple

import numpy as np

from fashion_mnist_vis.models.registry import find_classifier_layer


def forward_model(handle):
    """(model, graph) that forward-only methods run: the handle's own when NumPy runs it, else the
    float32 Keras model's."""
    if handle.engine == "NumPy":
        return handle.model, handle.graph
    return handle.keras_model, handle.keras_graph


_PROBES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
"""graph -> {layer name or None: its compiled probe}: explainers of one model share their forward
functions, so each is traced once per model (not once per method)."""


def _shared_probe(graph, layer_name: Optional[str], classifier):
    """The compiled probe of ``graph`` computing [``layer_name``'s output (if any), the classifier's input]."""
    probes = _PROBES.setdefault(graph, {})
    if layer_name not in probes:
        symbols = ([graph.outputs[layer_name]] if layer_name is not None else []) + [graph.inputs_of(classifier)[0]]
        probes[layer_name] = graph.probe(symbols, compiled=True)
    return probes[layer_name]


def _logits(features: np.ndarray, classifier) -> np.ndarray:
    kernel = np.asarray(classifier.kernel, dtype=np.float32)
    logits = np.asarray(features, dtype=np.float32) @ kernel
    if classifier.use_bias:
        logits = logits + np.asarray(classifier.bias, dtype=np.float32)
    return logits


class ForwardPass:
    """``forward(batch)`` -> (``layer_name``'s outputs float32 (N, h, w, k) or None, logits float32 (N, classes)).

    The compiled function is shared by every ForwardPass of the same model graph and layer.

    Args:
        handle: the model handle.
        layer_name: a layer whose output to return too, or None.
        batch_size: images per pass.
    """

    def __init__(self, handle, layer_name: Optional[str], batch_size: int):
        model, graph = forward_model(handle)
        self.classifier = find_classifier_layer(model)
        self._with_layer = layer_name is not None
        self._probe = _shared_probe(graph, layer_name, self.classifier)
        self._batch_size = batch_size

    def __call__(self, batch: np.ndarray) -> Tuple[Optional[np.ndarray], np.ndarray]:
        batch = np.asarray(batch, dtype=np.float32)
        layers: List[np.ndarray] = []
        logits: List[np.ndarray] = []
        for start in range(0, len(batch), self._batch_size):
            values = [np.asarray(value, dtype=np.float32)
                      for value in self._probe(batch[start:start + self._batch_size], training=False)]
            if self._with_layer:
                layers.append(values[0])
            logits.append(_logits(values[-1], self.classifier))
        return (np.concatenate(layers) if self._with_layer else None), np.concatenate(logits)


class LogitGradients:
    """Gradients of the target ``logits @ t`` by TensorFlow's autodiff on the handle's Keras model.

    ``gradients(batch, t)`` -> (values, d target / d values), float32, where
    the values are ``layer_name``'s outputs (N, h, w, k), or the input batch
    itself (N, H, W, C) when ``layer_name`` is None. Each image's gradient is
    its own target's (the batch's targets are summed; images do not interact
    at prediction time).

    Raises (when built):
        ValueError: if the class scores do not depend on the layer.
    """

    def __init__(self, handle, layer_name: Optional[str], batch_size: int):
        model, graph = handle.keras_model, handle.keras_graph  # first: a NumPy handle imports TensorFlow quietly
        import tensorflow as tf  # noqa: PLC0415 (lazy: keeps --help fast)

        classifier = find_classifier_layer(model)
        layer_tensors = [graph.outputs[layer_name]] if layer_name is not None else []
        probe = graph.probe([*layer_tensors, graph.inputs_of(classifier)[0]])
        self.traces = 0
        self._batch_size = batch_size

        def gradients(batch, target):
            self.traces += 1  # runs only while tracing
            with tf.GradientTape() as tape:
                tape.watch(batch)
                values = probe(batch, training=False)
                logits = tf.matmul(values[-1], classifier.kernel)
                if classifier.use_bias:
                    logits = logits + classifier.bias
                score = tf.reduce_sum(tf.linalg.matvec(logits, target))
            watched = values[0] if layer_tensors else batch
            result = tape.gradient(score, watched)
            if result is None:
                raise ValueError(f"the class scores do not depend on layer {layer_name!r}")
            return watched, result

        signature = [tf.TensorSpec((None, *graph.input.shape[1:]), tf.float32),
                     tf.TensorSpec((int(classifier.kernel.shape[-1]),), tf.float32)]
        self._function = tf.function(gradients, input_signature=signature, reduce_retracing=False)
        self._function.get_concrete_function()  # traces now: a layer the scores ignore fails here

    def __call__(self, batch: np.ndarray, target: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        batch = np.asarray(batch, dtype=np.float32)
        target = np.asarray(target, dtype=np.float32)
        values, gradients = [], []
        for start in range(0, len(batch), self._batch_size):
            value, gradient = self._function(batch[start:start + self._batch_size], target)
            values.append(value.numpy())
            gradients.append(gradient.numpy())
        return np.concatenate(values), np.concatenate(gradients)
