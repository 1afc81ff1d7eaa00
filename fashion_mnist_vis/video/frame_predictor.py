"""Classify video frames one after another with compiled functions built once.

:class:`FramePredictor` is classify's :class:`~fashion_mnist_vis.explain.analysis.Analyser`
in its compiled variant: built once per model, its forward pass returns the
class scores together with the feature maps CAM needs, and with Keras it is
one ``tf.function`` with a fixed input signature (as is Grad-CAM's gradient),
so every frame runs the same traced graphs: no model is built and nothing is
retraced per frame. Each frame goes through classify's own preprocessing
(:func:`fashion_mnist_vis.data.preprocess.preprocess`), so a frame is classified
exactly as the same picture saved as a file would be by ``classify.py``.

The map is the one :class:`~fashion_mnist_vis.explain.cam.CamExplainer` prefers: exact
CAM (Zhou et al. 2016) on the global-average-pooling layer's input when it
feeds the classifier, otherwise Grad-CAM (Selvaraju et al. 2017) on the last
Conv2D layer, and none for models without convolutions. It always explains
the top class.
"""

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image

from fashion_mnist_vis.explain.analysis import Analyser
from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.data.preprocess import preprocess


@dataclass(frozen=True)
class FramePrediction:
    """The classification of one frame (or region of a frame).

    Attributes:
        probabilities: float64 (10,) summing to 1.
        top_k: (class index, probability) pairs, most probable first.
        heatmap: float32 (h, w) in [0, 1] over the model input (3 x 3 for
            ``gap_cnn``), explaining the top class; None when the model has
            no convolutional layer.
        cam_method: :data:`~fashion_mnist_vis.explain.cam.CAM`, :data:`~fashion_mnist_vis.explain.cam.GRAD_CAM` or None.
        canvas_box: where the model input lies in the classified image,
            (left, top, right, bottom) in its pixels; may reach past its
            edges; None when it covers the whole image (see
            ``Preprocessed.canvas_box``).
        unfamiliarity: how unlike the training images the frame is
            (:class:`~fashion_mnist_vis.explain.unfamiliarity.Unfamiliarity`), None when not scored.
    """

    probabilities: np.ndarray
    top_k: List[Tuple[int, float]]
    heatmap: Optional[np.ndarray]
    cam_method: Optional[str]
    canvas_box: Optional[Tuple[int, int, int, int]]
    unfamiliarity: Optional[object] = None

    @property
    def predicted(self) -> int:
        return self.top_k[0][0]

    @property
    def prediction(self) -> str:
        return CLASS_NAMES[self.predicted]


class FramePredictor:
    """Classifies RGB frames with one model: :class:`~fashion_mnist_vis.explain.analysis.Analyser`'s
    compiled variant, explaining each frame's top class with the preferred map.

    Args:
        handle: the model, from :func:`fashion_mnist_vis.models.model_handle.open_model`
            (either engine), an image model with 10 outputs.
        top_k: how many classes to report (1 to 10).
        invert, crop, method, flatten: passed to :func:`fashion_mnist_vis.data.preprocess.preprocess`.
        mirror_average: average with the frame's mirror image (see
            :class:`~fashion_mnist_vis.explain.analysis.Analyser`).
        unfamiliarity: an :class:`~fashion_mnist_vis.explain.unfamiliarity.UnfamiliarityScorer`, to
            score each frame's unfamiliarity; None: not scored.

    Attributes:
        cam_method: the map computed for every frame (CAM, Grad-CAM or None).

    Raises:
        UserError: if the model does not output one score per class.
    """

    def __init__(self, handle, top_k: int = 3, invert: str = "auto", crop: bool = True,
                 method: str = "standard", flatten: bool = True,
                 mirror_average: bool = False, unfamiliarity=None):
        self._analyser = Analyser(handle, top_k, invert, crop, method, flatten, preferred_map=True,
                                  compiled=True, mirror_average=mirror_average,
                                  unfamiliarity=unfamiliarity)
        self._graph = handle.graph
        methods = self._analyser.explainer.methods
        self.cam_method = methods[0] if methods else None

    @property
    def traces(self) -> int:
        """How many times the compiled functions have been traced: one each (the forward pass, and
        for Grad-CAM the gradient), on the first frame; 0 when NumPy runs the model."""
        return self._graph.traces

    def predict(self, rgb: np.ndarray) -> FramePrediction:
        """Classify one image and explain its top class.

        Args:
            rgb: uint8 (H, W, 3) RGB pixels (convert OpenCV's BGR first).
        """
        analyser = self._analyser
        prepared = preprocess(Image.fromarray(rgb), analyser.input_shape, **analyser.options)
        result = analyser.classify(prepared.model_input, prepared)
        return FramePrediction(
            probabilities=result.probabilities,
            top_k=result.top_k,
            heatmap=result.cams[0].heatmap if result.cams else None,
            cam_method=self.cam_method,
            canvas_box=prepared.canvas_box,
            unfamiliarity=result.unfamiliarity,
        )
