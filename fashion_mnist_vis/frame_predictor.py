"""Classify video frames one after another with a single compiled forward pass.

:class:`FramePredictor` builds, once per model, one Keras model that returns
the class scores together with the feature maps a class activation map needs,
and wraps it in one ``tf.function`` with a fixed input signature, so every
frame runs the same traced graph: no model is built and nothing is retraced
per frame. Each frame goes through classify's own preprocessing
(:func:`fashion_mnist_vis.preprocess.preprocess`), so a frame is classified
exactly as the same picture saved as a file would be by ``classify.py``.

The map is chosen as :class:`~fashion_mnist_vis.cam.CamExplainer` would: exact
CAM (Zhou et al. 2016) on the global-average-pooling layer's input when it
feeds the classifier, otherwise Grad-CAM (Selvaraju et al. 2017) on the last
Conv2D layer (its gradient is taken inside the same compiled function), and
none for models without convolutions. It always explains the top class.
"""

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image

from .activations import to_probabilities
from .analysis import check_class_outputs
from .cam import CAM, GRAD_CAM, CamExplainer, class_activation_map, grad_cam_from_gradients
from .classes import CLASS_NAMES, NUM_CLASSES
from .preprocess import preprocess


@dataclass(frozen=True)
class FramePrediction:
    """The classification of one frame (or region of a frame).

    Attributes:
        probabilities: float64 (10,) summing to 1.
        top_k: (class index, probability) pairs, most probable first.
        heatmap: float32 (h, w) in [0, 1] over the model input (3 x 3 for
            ``gap_cnn``), explaining the top class; None when the model has
            no convolutional layer.
        cam_method: :data:`~fashion_mnist_vis.cam.CAM`, :data:`~fashion_mnist_vis.cam.GRAD_CAM` or None.
        canvas_box: where the model input lies in the classified image,
            (left, top, right, bottom) in its pixels; may reach past its
            edges; None when it covers the whole image (see
            ``Preprocessed.canvas_box``).
    """

    probabilities: np.ndarray
    top_k: List[Tuple[int, float]]
    heatmap: Optional[np.ndarray]
    cam_method: Optional[str]
    canvas_box: Optional[Tuple[int, int, int, int]]

    @property
    def predicted(self) -> int:
        return self.top_k[0][0]

    @property
    def prediction(self) -> str:
        return CLASS_NAMES[self.predicted]


class FramePredictor:
    """Classifies RGB frames with one model, reusing one compiled function.

    Args:
        handle: the model, opened by :func:`fashion_mnist_vis.model_handle.open_model` (Keras
            engine), an image model with 10 outputs.
        top_k: how many classes to report (1 to 10).
        invert, crop, method: passed to :func:`fashion_mnist_vis.preprocess.preprocess`.

    Attributes:
        cam_method: the map computed for every frame (CAM, Grad-CAM or None).
        traces: how many times the compiled function has been traced (1 after
            the first frame, and it stays 1).

    Raises:
        UserError: if the model does not output one score per class.
    """

    def __init__(self, handle, top_k: int = 3, invert: str = "auto", crop: bool = True,
                 method: str = "standard"):
        import keras  # noqa: PLC0415 (lazy: keeps --help fast)
        import tensorflow as tf  # noqa: PLC0415

        model, graph = handle.model, handle.graph
        check_class_outputs(model)
        self.input_shape = tuple(model.input_shape[1:])
        self.top_k = max(1, min(top_k, NUM_CLASSES))
        self.options = {"invert": invert, "crop": crop, "method": method}
        self.traces = 0
        explainer = CamExplainer(model, graph)
        self.cam_method = explainer.methods[0] if explainer.methods else None
        self._classifier = explainer.classifier
        self._kernel = np.asarray(explainer.classifier.kernel, dtype=np.float64)

        outputs = [graph.model_output]
        if self.cam_method == CAM:
            outputs.append(graph.inputs_of(explainer.gap_layer)[0])
        elif self.cam_method == GRAD_CAM:
            outputs += [graph.outputs[explainer.conv_layer.name], graph.inputs_of(explainer.classifier)[0]]
        self._network = keras.Model(graph.input, outputs, name=f"{model.name}_frames")
        signature = [tf.TensorSpec((1,) + self.input_shape, tf.float32)]
        self._step = tf.function(self._forward, input_signature=signature, reduce_retracing=False)

    def _forward(self, batch):
        """The traced graph: scores (10,), plus the feature maps (and, for Grad-CAM, gradients)."""
        import tensorflow as tf  # noqa: PLC0415

        self.traces += 1  # runs only while tracing
        if self.cam_method != GRAD_CAM:
            outputs = self._network(batch, training=False)
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            return tuple(output[0] for output in outputs)
        with tf.GradientTape() as tape:
            scores, feature_maps, features = self._network(batch, training=False)
            logits = tf.matmul(features, self._classifier.kernel)
            if self._classifier.use_bias:
                logits = logits + self._classifier.bias
            top_logit = tf.gather(logits[0], tf.argmax(scores[0]))
        gradients = tape.gradient(top_logit, feature_maps)
        return scores[0], feature_maps[0], gradients[0]

    def predict(self, rgb: np.ndarray) -> FramePrediction:
        """Classify one image and explain its top class.

        Args:
            rgb: uint8 (H, W, 3) RGB pixels (convert OpenCV's BGR first).
        """
        prepared = preprocess(Image.fromarray(rgb), self.input_shape, **self.options)
        outputs = [np.asarray(value) for value in self._step(prepared.model_input[np.newaxis])]
        probabilities = to_probabilities(outputs[0])
        order = np.argsort(-probabilities, kind="stable")[: self.top_k]
        top = int(order[0])
        heatmap = None
        if self.cam_method == CAM:
            heatmap = class_activation_map(outputs[1], self._kernel[:, top])
        elif self.cam_method == GRAD_CAM:
            heatmap = grad_cam_from_gradients(outputs[1], outputs[2])
        return FramePrediction(
            probabilities=probabilities,
            top_k=[(int(index), float(probabilities[index])) for index in order],
            heatmap=heatmap,
            cam_method=self.cam_method,
            canvas_box=prepared.canvas_box,
        )
