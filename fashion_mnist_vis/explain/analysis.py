"""Classify one photo and collect everything the plots need: one call per image.

:class:`Analyser` is the per-image computation of classify and webcam_classify.
It holds a model handle (:func:`fashion_mnist_vis.models.model_handle.open_model`,
either engine) and the functions built once from its graph (all layer
outputs in one forward pass, class activation maps), and turns a model input
into a :class:`Classified` (:meth:`Analyser.classify`) or an image file into
an :class:`Analysis` (:meth:`Analyser.analyse`): the photo, every
preprocessing stage, the class probabilities and top-k, each plotted layer's
output and the class activation maps, as plain data for the plotting code.
Building the functions once keeps batch mode (and video) fast;
:class:`~fashion_mnist_vis.video.frame_predictor.FramePredictor` is its compiled
variant.
"""

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

from fashion_mnist_vis.explain.activations import PROBABILITIES, ActivationModel, LayerOutput
from fashion_mnist_vis.explain.cam import CamExplainer, CamResult
from fashion_mnist_vis.explain.examples import ExampleExplanation, ExampleFinder
from fashion_mnist_vis.explain.unfamiliarity import Unfamiliarity, UnfamiliarityScorer
from fashion_mnist_vis.classes import CLASS_NAMES, NUM_CLASSES, accepted_class_names, match_class_name
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.data.images import load_image
from fashion_mnist_vis.data.preprocess import Preprocessed, preprocess
from fashion_mnist_vis.models.scores import to_probabilities


def find_class(name: str) -> int:
    """The index of the class ``name`` names (see :func:`fashion_mnist_vis.classes.match_class_name`:
    any case or punctuation, ``tshirt``, plurals, the label 0-9), or UserError listing the spellings."""
    index = match_class_name(name)
    if index is None:
        raise UserError(
            f"unknown class {name!r}; choose one of: {', '.join(repr(c) for c in CLASS_NAMES)}, spelt "
            f"{accepted_class_names()}"
        )
    return index


def check_class_outputs(model) -> None:
    """Raise UserError unless ``model`` outputs one score per Fashion-MNIST class, (None, 10)."""
    outputs = tuple(model.outputs[0].shape)
    if len(outputs) != 2 or outputs[-1] != NUM_CLASSES:
        raise UserError(
            f"model {model.name!r} outputs shape {tuple(outputs)}; expected one score for each of "
            f"the {NUM_CLASSES} Fashion-MNIST classes, (None, {NUM_CLASSES})"
        )


def mirror_averaged(probabilities: np.ndarray, mirrored_scores: np.ndarray) -> np.ndarray:
    """float64 (10,): the mean of an input's class probabilities and its mirror image's (scores or
    probabilities, float (10,)); e.g. (0.2, 0.8) and (0.6, 0.4) give (0.4, 0.6)."""
    return (np.asarray(probabilities, dtype=np.float64) + to_probabilities(mirrored_scores)) / 2.0


@dataclass
class Classified:
    """What the model made of one model input.

    Attributes:
        probabilities: float64 (10,) summing to 1.
        predicted: index of the most probable class.
        top_k: (class index, probability) pairs, most probable first.
        layer_outputs: every plotted layer's output, in model order (empty
            unless the analyser explains).
        cam_class: the class the maps explain (the prediction unless chosen).
        cams: the class activation maps, the exact method first (may be empty).
        examples: the training images that explain the prediction (None unless the
            analyser has an :class:`~fashion_mnist_vis.explain.examples.ExampleFinder`).
        unfamiliarity: how unlike the training images the input is
            (:class:`~fashion_mnist_vis.explain.unfamiliarity.Unfamiliarity`; None unless the analyser
            has an :class:`~fashion_mnist_vis.explain.unfamiliarity.UnfamiliarityScorer`).
    """

    probabilities: np.ndarray
    predicted: int
    top_k: List[Tuple[int, float]]
    layer_outputs: List[LayerOutput]
    cam_class: int
    cams: List[CamResult]
    examples: Optional[ExampleExplanation]
    unfamiliarity: Optional[Unfamiliarity]

    @property
    def prediction(self) -> str:
        return CLASS_NAMES[self.predicted]

    @property
    def score(self) -> float:
        return float(self.probabilities[self.predicted])


@dataclass
class Analysis(Classified):
    """One classified image file and everything seen on the way (see :class:`Classified`).

    Attributes:
        path: the image file.
        photo: the image as loaded (8-bit RGB, upright).
        prepared: every preprocessing stage (``prepared.model_input`` is
            float32 (H, W, C) in [0, 1]).
        settings: the preprocessing options (``invert``, ``crop``, ``method``, ``flatten``) and
            ``mirror_average``.
        skipped_layers: (layer name, reason) for every layer not in ``layer_outputs``.
        no_map_reason: why ``cams`` is empty, when it is.
    """

    path: Path
    photo: Image.Image
    prepared: Preprocessed
    settings: Dict[str, object]
    skipped_layers: List[Tuple[str, str]]
    no_map_reason: Optional[str]


class Analyser:
    """Classifies images with one model: the per-image computation of classify and webcam_classify.

    Args:
        handle: the model, from :func:`fashion_mnist_vis.models.model_handle.open_model`
            (either engine), an image model with 10 outputs.
        top_k: how many classes to report (at most 10).
        invert, crop, method, flatten: passed to :func:`fashion_mnist_vis.data.preprocess.preprocess`.
        cam_class: class index to explain, or None for each image's prediction.
        explain: also compute layer outputs and every class activation map (for plots).
        preferred_map: compute the preferred class activation map alone
            (CAM, else Grad-CAM), from the same forward pass as the scores where it can.
        compiled: run compiled functions, traced once (for a stream of frames).
        examples: finds each image's nearest training images and its class's
            prototypes (explanation by example), or None.
        unfamiliarity: scores how unlike the training images each input is, or None.
        mirror_average: average the class probabilities of the input and of its
            left-right mirror image (test-time augmentation): every Fashion-MNIST
            shoe faces left, photos of shoes often face right. The maps and
            layer outputs stay those of the input itself.

    Raises:
        UserError: if the model does not output one score per Fashion-MNIST class.
    """

    def __init__(self, handle, top_k: int = 3, invert: str = "auto", crop: bool = True,
                 method: str = "standard", flatten: bool = True, cam_class: Optional[int] = None, explain: bool = False,
                 preferred_map: bool = False, compiled: bool = False,
                 examples: Optional[ExampleFinder] = None, mirror_average: bool = False,
                 unfamiliarity: Optional[UnfamiliarityScorer] = None):
        model, graph = handle.model, handle.graph
        check_class_outputs(model)
        self.model = model
        self.input_shape = tuple(model.input_shape[1:])
        self.top_k = max(1, min(top_k, NUM_CLASSES))
        self.options = {"invert": invert, "crop": crop, "method": method, "flatten": flatten}
        self.cam_class = cam_class
        self.explain = explain
        self.examples = examples
        self.unfamiliarity = unfamiliarity
        self.mirror_average = mirror_average
        self._scores_only = graph.probe([graph.model_output]) if mirror_average and explain else None
        self.activations = ActivationModel(model, graph) if explain else None
        self.explainer = None
        if explain or preferred_map:
            self.explainer = CamExplainer(model, graph, preferred_only=not explain, compiled=compiled)
        self._forward = None
        if not explain:
            needs = self.explainer.needs if self.explainer is not None else []
            self._forward = graph.probe([graph.model_output, *needs], compiled=compiled)

    def analyse(self, path) -> Analysis:
        """Load, preprocess and classify the image at ``path``.

        Raises:
            UserError: if the file cannot be read as an image (see
                :func:`fashion_mnist_vis.data.images.load_image`).
        """
        path = Path(path)
        photo = load_image(path)
        prepared = preprocess(photo, self.input_shape, **self.options)
        result = self.classify(prepared.model_input, prepared)
        return Analysis(
            path=path, photo=photo, prepared=prepared, settings={**self.options, "mirror_average": self.mirror_average},
            skipped_layers=list(self.activations.skipped) if self.explain else [],
            no_map_reason=self.explainer.why_none() if self.explainer is not None and not result.cams else None,
            **{item.name: getattr(result, item.name) for item in fields(Classified)})

    def classify(self, model_input: np.ndarray, prepared: Optional[Preprocessed] = None) -> Classified:
        """Classify (and explain) one float32 model input (H, W, C) in [0, 1].

        ``prepared`` is the :class:`~fashion_mnist_vis.data.preprocess.Preprocessed` photo the input
        comes from, if any: the unfamiliarity's input checks read its ``unstretched_input`` (the input
        before the stretch to white, so a dim photo that the stretch brightens for the network is still
        seen to be dim; default ``model_input``) and its ``background_variation`` (the busy-background
        check; none without it)."""
        layer_outputs: List[LayerOutput] = []
        gap_input = None
        mirrored = np.ascontiguousarray(np.asarray(model_input, dtype=np.float32)[:, ::-1])[np.newaxis]
        mirrored_scores = None
        if self.explain:
            layer_outputs = self.activations.run(model_input)
            scores = next(output.values for output in layer_outputs if output.kind == PROBABILITIES)
            if self.mirror_average:
                mirrored_scores = np.asarray(self._scores_only(mirrored, training=False)[0])[0]
        else:  # one forward pass, of the input and (averaging) its mirror image: one trace when compiled
            batch = np.asarray(model_input, dtype=np.float32)[np.newaxis]
            if self.mirror_average:
                batch = np.concatenate([batch, mirrored])
            values = self._forward(batch, training=False)
            scores = np.asarray(values[0])[0]
            if self.mirror_average:
                mirrored_scores = np.asarray(values[0])[1]
            if len(values) > 1:
                gap_input = np.asarray(values[1])[0]
        probabilities = to_probabilities(scores)
        if mirrored_scores is not None:
            probabilities = mirror_averaged(probabilities, mirrored_scores)
        order = np.argsort(-probabilities, kind="stable")
        predicted = int(order[0])
        cam_class = predicted if self.cam_class is None else self.cam_class
        cams = self.explainer.explain(model_input, cam_class, gap_input) if self.explainer is not None else []
        query, unfamiliarity = None, None
        if self.unfamiliarity is not None:  # the embedding is computed once for both
            query = self.unfamiliarity.embed(model_input)
            unfamiliarity = self.unfamiliarity.score(
                query, model_input if prepared is None else prepared.unstretched_input,
                None if prepared is None else prepared.background_variation)
        return Classified(
            probabilities=probabilities,
            predicted=predicted,
            top_k=[(int(index), float(probabilities[index])) for index in order[: self.top_k]],
            layer_outputs=layer_outputs,
            cam_class=cam_class,
            cams=cams,
            examples=self.examples.explain(model_input, predicted, query) if self.examples is not None else None,
            unfamiliarity=unfamiliarity,
        )
