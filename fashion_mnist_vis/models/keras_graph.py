"""A Keras model's graph: :class:`LayerGraph`, the Keras implementation of
:class:`~fashion_mnist_vis.models.graph.ModelGraph`.

Its probes are Keras models built from one consistent graph; compiled
(``compiled=True``) they are wrapped once in a ``tf.function`` with a fixed
input signature, so a stream of images (webcam frames, export batches) runs
one traced graph. Grad-CAM's gradient comes from TensorFlow's autodiff.
"""

from typing import Sequence

import numpy as np

from fashion_mnist_vis.models.graph import GradientProbe, ModelGraph, Probe


class LayerGraph(ModelGraph):
    """A Keras model's :class:`~fashion_mnist_vis.models.graph.ModelGraph`: the symbolic inputs and
    outputs of its layers, all from one consistent graph.

    Keras 3 rebuilds a Sequential model's graph each time a layer is added
    while it is loaded from a file, so ``layer.output`` of a loaded
    Sequential model may belong to an outdated partial graph. For Sequential
    models the layers are therefore called once more on a fresh input, in
    order; for functional models the layers' own tensors are used. Layers
    called more than once in a functional model have no single output and
    are left out of ``outputs``.

    Attributes:
        input: the graph's (single) input tensor.
        outputs: layer name -> the layer's output tensor.
        model_output: the tensor of the model's (first) output.
        traces: how many times its compiled functions have been traced (each
            is traced once, on its first call).
    """

    def __init__(self, model):
        import keras  # noqa: PLC0415

        self.outputs = {}
        self._inputs_of = {}
        self.traces = 0
        self._layers = {layer.name: layer for layer in model.layers}
        if isinstance(model, keras.Sequential):
            tensor = keras.Input(batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype)
            self.input = tensor
            for layer in model.layers:
                self._inputs_of[layer.name] = [tensor]
                tensor = layer(tensor)
                self.outputs[layer.name] = tensor
            self.model_output = tensor
            return
        self.input = model.inputs[0]
        self.model_output = model.outputs[0]
        for layer in model.layers:
            try:
                output, inputs = layer.output, layer.input
            except (AttributeError, ValueError):  # used several times: no single output
                continue
            self.outputs[layer.name] = output
            self._inputs_of[layer.name] = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]

    def inputs_of(self, layer) -> list:
        """The input tensors of ``layer`` in this graph (one for most layers, several for Add)."""
        return self._inputs_of[layer.name]

    def producer(self, tensor):
        """The layer whose output in this graph is ``tensor`` (None for the graph's input)."""
        for name, output in self.outputs.items():
            if output is tensor:
                return self._layers[name]
        return None

    def probe(self, tensors: Sequence, compiled: bool = False) -> Probe:
        """A function float32 batch (N, H, W, C) -> the list of ``tensors``' values (N, ...),
        computed by one Keras model from the graph's input (compiled: always in inference mode)."""
        import keras  # noqa: PLC0415

        model = keras.Model(self.input, list(tensors))

        def run(batch, training=False):
            outputs = model(batch, training=training)
            return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]

        if not compiled:
            return run
        step = self._compile(lambda batch: run(batch, training=False), [(None, *self.input.shape[1:])])
        return lambda batch, training=False: step(np.asarray(batch, dtype=np.float32))

    def logit_gradients(self, layer, classifier, compiled: bool = False) -> GradientProbe:
        """A function (float32 image (H, W, C), class index) -> ``layer``'s output and the gradient of
        ``classifier``'s pre-activation (the logit) for the class with respect to it, float32 (h, w, k).

        The function raises ValueError if the class score does not depend on the layer.
        """
        import tensorflow as tf  # noqa: PLC0415 (lazy: keeps --help fast)

        probe = self.probe([self.outputs[layer.name], self.inputs_of(classifier)[0]])

        def gradients(batch, class_index):
            with tf.GradientTape() as tape:
                feature_maps, features = probe(batch, training=False)
                logits = tf.matmul(features, classifier.kernel)
                if classifier.use_bias:
                    logits = logits + classifier.bias
                score = logits[:, class_index]
            result = tape.gradient(score, feature_maps)
            if result is None:
                raise ValueError(f"the class score does not depend on layer {layer.name!r}")
            return feature_maps, result

        if compiled:
            gradients = self._compile(gradients, [(1, *self.input.shape[1:]), ()], (tf.float32, tf.int32))

        def run(image: np.ndarray, class_index: int):
            batch = tf.convert_to_tensor(np.asarray(image, dtype=np.float32)[np.newaxis])
            feature_maps, result = gradients(batch, class_index)
            return feature_maps.numpy()[0], result.numpy()[0]

        return run

    def _compile(self, function, shapes, dtypes=None):
        """``function`` as one ``tf.function`` over inputs of ``shapes`` (float32 unless ``dtypes``),
        counting its traces in :attr:`traces`."""
        import tensorflow as tf  # noqa: PLC0415

        def traced(*args):
            self.traces += 1  # runs only while tracing
            return function(*args)

        dtypes = dtypes or [tf.float32] * len(shapes)
        signature = [tf.TensorSpec(shape, dtype) for shape, dtype in zip(shapes, dtypes)]
        return tf.function(traced, input_signature=signature, reduce_retracing=False)
