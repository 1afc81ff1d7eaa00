"""Rank the explanation methods of a model by faithfulness over many images (``evaluate --explanations N``).

Each method that applies to the model (:func:`~fashion_mnist_vis.explain.methods.applicable_methods`)
explains every image's predicted class; its maps get deletion and insertion curves
(:mod:`fashion_mnist_vis.explain.faithfulness`, Petsiuk et al. 2018), averaged over the images, and
so does one random pixel order per image (the same for every method). Methods are ranked by
insertion AUC minus deletion AUC (higher is better: the probability should rise fast when the
map's pixels are revealed and fall fast when they are removed), a single score that rewards
both curves.

:func:`cascade_methods` runs the model-randomisation test (:mod:`fashion_mnist_vis.explain.sanity`)
for the same methods.
"""

import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from fashion_mnist_vis.explain.faithfulness import (
    FaithfulnessSettings,
    FaithfulnessSummary,
    class_probabilities,
    explained_classes,
    map_curves,
    random_curves,
    summarise,
)
from fashion_mnist_vis.explain.sanity import SanityResult, SanitySettings, cascading_randomisation

RANDOM = "random"
"""The random pixel order's key in tables and plots."""

Progress = Callable[[str], None]


@dataclass(frozen=True)
class MethodScore:
    """One method's faithfulness over the images.

    Attributes:
        method: the method's key.
        title: its display name.
        summary: its averaged curves and areas.
        seconds_per_image: wall time to compute one map, averaged (the curves not included).
    """

    method: str
    title: str
    summary: FaithfulnessSummary
    seconds_per_image: float

    @property
    def difference(self) -> float:
        """Insertion AUC minus deletion AUC, in [-1, 1]: the ranking's score (higher is better)."""
        return self.summary.insertion_auc - self.summary.deletion_auc


@dataclass(frozen=True)
class Ranking:
    """The methods of one model ranked by faithfulness.

    Attributes:
        scores: one per applicable method, best first (:attr:`MethodScore.difference`).
        random: the random pixel order's averaged curves and areas.
        skipped: method -> the one-line reason it does not apply to the model.
        images: how many images every method explained.
        settings: the curves' settings (steps, baseline).
    """

    scores: Tuple[MethodScore, ...]
    random: FaithfulnessSummary
    skipped: Dict[str, str]
    images: int
    settings: FaithfulnessSettings


def chosen_methods(handle, methods: Optional[Sequence[str]] = None) -> Tuple[List[str], Dict[str, str]]:
    """The methods to run (those of ``methods`` that apply; every applicable one when None) and the
    skipped ones with why.

    Raises:
        UserError: for a name in ``methods`` that is no method, or when none of them applies.
    """
    from fashion_mnist_vis.errors import UserError  # noqa: PLC0415
    from fashion_mnist_vis.explain.methods import applicable_methods, build_explainer  # noqa: PLC0415

    reasons = applicable_methods(handle)
    for method in methods or ():
        if method not in reasons:
            build_explainer(handle, method)  # raises the one-line UserError naming the known methods
    wanted = list(methods) if methods else list(reasons)
    run = [method for method in wanted if reasons[method] is None]
    skipped = {method: reasons[method] for method in wanted if reasons[method] is not None}
    if not run:
        raise UserError(f"no explanation method applies to model {handle.model.name!r}: "
                        + "; ".join(f"{key}: {why}" for key, why in skipped.items()))
    return run, skipped


def rank_methods(handle, images: np.ndarray, methods: Optional[Sequence[str]] = None,
                 settings: FaithfulnessSettings = FaithfulnessSettings(), method_settings=None,
                 progress: Optional[Progress] = None) -> Ranking:
    """Score every chosen method's maps on ``images`` and rank the methods (see the module's docstring).

    Args:
        handle: the opened model (:class:`~fashion_mnist_vis.models.model_handle.ModelHandle`).
        images: float32 (N, H, W, C) model inputs in [0, 1].
        methods: method keys (default: every method that applies to the model).
        settings: the curves' settings.
        method_settings: the methods' :class:`~fashion_mnist_vis.explain.methods.MethodSettings`.
        progress: called with one line after each method (e.g. ``print``).

    Raises:
        UserError: for an unknown method, or when no method applies to the model.
    """
    from fashion_mnist_vis.explain.methods import build_explainer  # noqa: PLC0415

    run, skipped = chosen_methods(handle, methods)
    predict = class_probabilities(handle)
    images = np.asarray(images, dtype=np.float32)
    classes = explained_classes(predict, images, settings.batch_size)
    random = summarise(RANDOM, random_curves(predict, images, classes, settings))
    scores = []
    for method in run:
        explainer = build_explainer(handle, method, settings=method_settings)
        started = time.perf_counter()
        heatmaps = [explainer(image, int(index)).heatmap for image, index in zip(images, classes)]
        seconds = (time.perf_counter() - started) / len(images)
        summary = summarise(method, map_curves(predict, images, heatmaps, classes, settings))
        scores.append(MethodScore(method, explainer.title, summary, seconds))
        if progress:
            progress(f"{method}: deletion AUC {summary.deletion_auc:.3f}, insertion AUC {summary.insertion_auc:.3f} "
                     f"({seconds * 1000:.0f} ms per map)")
    scores.sort(key=lambda score: -score.difference)
    return Ranking(tuple(scores), random, skipped, len(images), settings)


def cascade_methods(handle, images: np.ndarray, methods: Optional[Sequence[str]] = None,
                    settings: SanitySettings = SanitySettings(), method_settings=None,
                    progress: Optional[Progress] = None) -> List[SanityResult]:
    """The model-randomisation test (:func:`~fashion_mnist_vis.explain.sanity.cascading_randomisation`)
    for every chosen method, each explaining the trained model's predicted class of ``images``
    (float32 (N, H, W, C) in [0, 1]); ``handle`` must be run by Keras."""
    from fashion_mnist_vis.explain.methods import build_explainer  # noqa: PLC0415

    run, _ = chosen_methods(handle, methods)
    images = np.asarray(images, dtype=np.float32)
    classes = explained_classes(class_probabilities(handle), images)
    results = []
    for method in run:
        result = cascading_randomisation(
            handle, lambda opened, key=method: build_explainer(opened, key, settings=method_settings),
            list(images), list(classes), method, settings)
        results.append(result)
        if progress:
            verdict = "depends on the model" if result.depends_on_model else "FLAGGED: does not depend on the model"
            progress(f"{method}: Spearman {result.steps[-1].mean_spearman:.2f} with every layer re-initialised, "
                     f"{verdict}")
    return results


def ranking_rows(ranking: Ranking) -> List[Dict[str, object]]:
    """One dict per method, best first, then the random order: the CSV's rows."""
    rows = []
    for rank, score in enumerate(ranking.scores, start=1):
        rows.append(_row(rank, score.method, score.title, score.summary, score.seconds_per_image))
    rows.append(_row("", RANDOM, "random pixel order (baseline)", ranking.random, None))
    return rows


def _row(rank, method: str, title: str, summary: FaithfulnessSummary, seconds: Optional[float]) -> Dict[str, object]:
    return {
        "rank": rank, "method": method, "title": title, "images": summary.images,
        "deletion_auc": round(summary.deletion_auc, 4), "deletion_auc_sem": round(summary.deletion_auc_sem, 4),
        "insertion_auc": round(summary.insertion_auc, 4), "insertion_auc_sem": round(summary.insertion_auc_sem, 4),
        "insertion_minus_deletion": round(summary.insertion_auc - summary.deletion_auc, 4),
        "ms_per_map": "" if seconds is None else round(seconds * 1000, 1),
    }


def ranking_table(ranking: Ranking) -> str:
    """The ranking as a Markdown table (areas with their standard errors), then the skipped methods."""
    lines = ["| rank | method | deletion AUC (lower is better) | insertion AUC (higher is better) "
             "| insertion - deletion | ms per map |",
             "|---:|---|---:|---:|---:|---:|"]
    entries = [(rank, score.method, score.summary, f"{score.seconds_per_image * 1000:.1f}")
               for rank, score in enumerate(ranking.scores, start=1)]
    for rank, method, summary, milliseconds in entries + [("", RANDOM, ranking.random, "")]:
        lines.append(f"| {rank} | {method} | {summary.deletion_auc:.3f} ± {summary.deletion_auc_sem:.3f} "
                     f"| {summary.insertion_auc:.3f} ± {summary.insertion_auc_sem:.3f} "
                     f"| {summary.insertion_auc - summary.deletion_auc:.3f} | {milliseconds} |")
    for method, why in ranking.skipped.items():
        lines.append(f"\n{method}: not applicable ({why})")
    return "\n".join(lines) + "\n"
