"""Several explanation methods on one image, side by side: the computation behind ``explain.py``.

:class:`MethodComparison` builds every requested explainer once per model
(:func:`fashion_mnist_vis.explain.methods.build_explainer`), sets aside the
methods that cannot apply to the model with their one-line reasons
(:func:`~fashion_mnist_vis.explain.methods.applicable_methods`), and turns one
classified model input into an :class:`ImageComparison`: per method the map
(:class:`~fashion_mnist_vis.explain.methods.Explanation`), the seconds it took
and, when asked, its deletion/insertion scores
(:mod:`fashion_mnist_vis.explain.faithfulness`) and its cascading-randomisation
similarities (:mod:`fashion_mnist_vis.explain.sanity`). Drawing is left to
:mod:`fashion_mnist_vis.visualize.explanation_plots`.
"""

import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.errors import UserError

ALL = "all"
"""The method list that names every method."""


def parse_method_names(text: str) -> Tuple[str, ...]:
    """The methods a comma-separated list names, in the order of ``METHODS``; ``all`` names every one.

    Case and surrounding spaces are ignored; repeats are dropped.

    Raises:
        UserError: naming the unknown entries and listing the known methods.
    """
    from fashion_mnist_vis.explain.methods import METHODS

    names = [name.strip().lower() for name in str(text).split(",") if name.strip()]
    if not names:
        raise UserError(f"no explanation method named; choose {ALL} or some of: {', '.join(METHODS)}",
                        settings=("methods",))
    if ALL in names:
        return tuple(METHODS)
    unknown = [name for name in dict.fromkeys(names) if name not in METHODS]
    if unknown:
        raise UserError(f"unknown explanation method(s) {', '.join(map(repr, unknown))}; choose {ALL} or "
                        f"some of: {', '.join(METHODS)}", settings=("methods",))
    return tuple(method for method in METHODS if method in names)


@dataclass(frozen=True)
class ComparisonSettings:
    """What to compare.

    Attributes:
        methods: method keys (see :func:`parse_method_names`).
        everything: the methods were asked as ``all``: a method that cannot
            apply is listed with its reason instead of stopping the run.
        layer: the layer of the layer-based methods (None: each method's
            default, the last convolution); input-space methods ignore it.
        class_index: the class to explain, 0-9 (None: each image's prediction).
        contrast_index: explain "why ``class_index`` and not this class" with
            the gradient methods (None: the class alone; the ``contrastive``
            method then chooses the other class itself).
        faithfulness: also compute deletion and insertion curves.
        sanity: also run the cascading model-randomisation check.
        faithfulness_settings: the curves' steps, baseline and seed (a
            :class:`~fashion_mnist_vis.explain.faithfulness.FaithfulnessSettings`;
            None: its defaults).
    """

    methods: Tuple[str, ...]
    everything: bool = False
    layer: Optional[str] = None
    class_index: Optional[int] = None
    contrast_index: Optional[int] = None
    faithfulness: bool = False
    sanity: bool = False
    faithfulness_settings: Optional[object] = None


def settings_for(method_list: str, **options) -> ComparisonSettings:
    """The settings of the methods ``method_list`` names (:func:`parse_method_names`); with ``all``, a
    method that cannot apply is listed instead of stopping the run. ``options``: the other fields."""
    everything = ALL in [name.strip().lower() for name in str(method_list).split(",")]
    return ComparisonSettings(methods=parse_method_names(method_list), everything=everything, **options)


@dataclass
class MethodResult:
    """One method's explanation of one image.

    Attributes:
        explanation: the map and what it explains.
        seconds: wall time of computing the map (float, seconds).
        faithfulness: deletion and insertion scores, or None when not asked.
        sanity: the cascading-randomisation result, or None when not asked.
    """

    explanation: object
    seconds: float
    faithfulness: Optional[object] = None
    sanity: Optional[object] = None


@dataclass
class ImageComparison:
    """Every requested method on one model input.

    Attributes:
        class_index: the explained class.
        contrast_index: the class it is contrasted with (the gradient methods'
            target is logit[class] - logit[contrast]), or None.
        results: one per method that applies, in the order of ``METHODS``.
        skipped: method -> the one-line reason it does not apply to the model.
        random_faithfulness: the random-order baseline of the deletion and
            insertion curves, or None when not asked.
        faithfulness_baseline: what a removed pixel became in the curves (one of
            :data:`fashion_mnist_vis.explain.faithfulness.BASELINES`), or None.
    """

    class_index: int
    contrast_index: Optional[int]
    results: List[MethodResult]
    skipped: Dict[str, str] = field(default_factory=dict)
    random_faithfulness: Optional[object] = None
    faithfulness_baseline: Optional[str] = None


class MethodComparison:
    """The requested explainers of one model, built once and run on many images.

    Args:
        handle: the model (:func:`fashion_mnist_vis.models.model_handle.open_model`).
        settings: what to compare.

    Raises:
        UserError: if the layer is not one of the model's, a method named on
            its own cannot apply (its reason), or none of the methods applies.
    """

    def __init__(self, handle, settings: ComparisonSettings):
        from fashion_mnist_vis.explain.methods import applicable_methods, build_explainer

        self.handle = handle
        self.settings = settings
        _check_layer(handle.model, settings.layer)
        if settings.sanity and handle.engine != "Keras":
            raise UserError("the sanity check re-initialises the model's layers, which needs the Keras engine; "
                            f"model {handle.model.name!r} runs with {handle.engine}", settings=("engine=keras",))
        reasons = applicable_methods(handle)
        self.skipped: Dict[str, str] = {}
        self.explainers = {}
        for method in settings.methods:
            reason = reasons.get(method)
            if reason is None:
                try:
                    self.explainers[method] = build_explainer(handle, method, settings.layer)
                    continue
                except UserError as error:
                    reason = str(error)
            if not settings.everything:
                raise UserError(f"{method} cannot explain this model: {reason}", settings=("methods",))
            self.skipped[method] = reason
        if not self.explainers:
            listed = "; ".join(f"{method}: {reason}" for method, reason in self.skipped.items())
            raise UserError(f"no explanation method applies to model {handle.model.name!r} ({listed})")
        self._predict = None

    def compare(self, model_input: np.ndarray, probabilities: np.ndarray) -> ImageComparison:
        """Explain one model input with every method.

        Args:
            model_input: float32 (H, W, C) in [0, 1].
            probabilities: float (10,), the model's output for it (chooses the
                explained class when the settings leave it to the prediction).
        """
        settings = self.settings
        class_index = int(np.argmax(probabilities)) if settings.class_index is None else settings.class_index
        results = []
        for explainer in self.explainers.values():
            start = time.perf_counter()
            explanation = explainer(model_input, class_index, settings.contrast_index)
            results.append(MethodResult(explanation, time.perf_counter() - start))
        comparison = ImageComparison(class_index, settings.contrast_index, results, dict(self.skipped))
        if settings.faithfulness:
            self._score_faithfulness(model_input, comparison)
        if settings.sanity:
            self._check_sanity(model_input, comparison)
        return comparison

    def _score_faithfulness(self, model_input: np.ndarray, comparison: ImageComparison) -> None:
        """Every method's deletion and insertion curves and the random order's, in one batch of passes."""
        from fashion_mnist_vis.explain import faithfulness

        if self._predict is None:
            self._predict = faithfulness.class_probabilities(self.handle)
        settings = self.settings.faithfulness_settings or faithfulness.FaithfulnessSettings()
        count = len(comparison.results)
        curves = faithfulness.map_curves(
            self._predict, [model_input] * count, [result.explanation.heatmap for result in comparison.results],
            [comparison.class_index] * count, settings)
        for result, curve in zip(comparison.results, curves):
            result.faithfulness = curve
        comparison.random_faithfulness = faithfulness.random_curves(
            self._predict, [model_input], [comparison.class_index], settings)[0]
        comparison.faithfulness_baseline = settings.baseline

    def _check_sanity(self, model_input: np.ndarray, comparison: ImageComparison) -> None:
        """Every method's cascading model randomisation on this image (Adebayo et al. 2018)."""
        from fashion_mnist_vis.explain.methods import build_explainer
        from fashion_mnist_vis.explain.sanity import cascading_randomisation

        contrast, layer = comparison.contrast_index, self.settings.layer
        for result in comparison.results:
            method = result.explanation.method

            def make_explainer(handle, method=method):
                explainer = build_explainer(handle, method, layer)
                return lambda image, class_index: explainer(image, class_index, contrast)

            result.sanity = cascading_randomisation(self.handle, make_explainer, [model_input],
                                                    [comparison.class_index], method)


def _check_layer(model, layer: Optional[str]) -> None:
    """UserError unless ``layer`` is None or the name of one of ``model``'s layers."""
    if layer is None:
        return
    names = [item.name for item in model.layers]
    if layer not in names:
        raise UserError(f"model {model.name!r} has no layer {layer!r}; its layers: {', '.join(names)}",
                        settings=("layer",))


def comparison_record(comparison: ImageComparison) -> dict:
    """One image's comparison as JSON-ready data, for scripts (``explain.py --json``).

    Keys: ``explained`` (class and contrast, names and indices); ``methods``
    (method key -> title, layer, seconds, and when computed ``deletion_auc``,
    ``insertion_auc`` and ``sanity``); ``random`` (the random order's
    ``deletion_auc`` and ``insertion_auc``, the same for every method, or None);
    ``baseline`` (what a removed pixel became, or None);
    ``not_applicable`` (method key -> reason). Areas are rounded to 6 decimals.
    """
    methods = {}
    for result in comparison.results:
        explanation = result.explanation
        entry = {"title": explanation.title, "layer": explanation.layer_name,
                 "contrast_index": explanation.contrast_index, "seconds": round(result.seconds, 4)}
        if result.faithfulness is not None:
            entry.update(_areas(result.faithfulness))
        if result.sanity is not None:
            entry["sanity"] = sanity_record(result.sanity)
        methods[explanation.method] = entry
    contrast = comparison.contrast_index
    return {
        "explained": {"class": CLASS_NAMES[comparison.class_index], "class_index": comparison.class_index,
                      "contrast": CLASS_NAMES[contrast] if contrast is not None else None,
                      "contrast_index": contrast},
        "methods": methods,
        "random": _areas(comparison.random_faithfulness) if comparison.random_faithfulness is not None else None,
        "baseline": comparison.faithfulness_baseline,
        "not_applicable": dict(comparison.skipped),
    }


def sanity_record(result) -> dict:
    """A :class:`~fashion_mnist_vis.explain.sanity.SanityResult` as JSON-ready data: the flag, and per step
    (layers re-initialised from the top down, cumulative) the mean Spearman correlation and SSIM."""
    return {"depends_on_model": bool(result.depends_on_model), "threshold": result.threshold,
            "steps": [{"layer": step.layer_name, "layers_randomised": step.layers_randomised,
                       "spearman": round(step.mean_spearman, 6), "ssim": round(step.mean_ssim, 6)}
                      for step in result.steps]}


def _areas(curves) -> Dict[str, float]:
    return {"deletion_auc": round(curves.deletion_auc, 6), "insertion_auc": round(curves.insertion_auc, 6)}
