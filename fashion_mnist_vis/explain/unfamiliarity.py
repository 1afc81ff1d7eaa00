"""How unlike the training images an input is: two scores from the model itself, and their calibration.

A classifier answers with one of its 10 classes whatever it is shown: a cat
becomes a sandal at 99%. An **unfamiliarity score** says how far an input is
from what the network was trained on; a threshold calibrated on real held-out
images (:func:`calibrate_threshold`) flags the inputs that score higher than
all but a chosen share (1% by default) of real images.

Two scores, both higher for less familiar inputs:

* :func:`energy_scores`, the **energy** of the logits,
  ``E(x) = -T log sum_i exp(f_i(x) / T)`` (Liu, Wang, Owens & Li 2020,
  "Energy-based out-of-distribution detection"): an input the network has
  strong evidence for has large logits and a low energy. It needs the logits,
  which :class:`LogitProbe` recomputes from the classifier's input and weights
  (our models end in a softmax).
* :func:`nearest_distances`, the cosine distance to the k-th nearest training
  image in the model's embedding space (Sun, Ming, Zhu & Li 2022, "Out-of-
  distribution detection with deep nearest neighbors"), from the training
  index of explanation by example
  (:class:`~fashion_mnist_vis.explain.training_index.TrainingIndex`).

What classify reports (:class:`Unfamiliarity`, :class:`UnfamiliarityScorer`)
is the distance together with the embedding's Mahalanobis distance to the
nearest class (:mod:`fashion_mnist_vis.explain.mahalanobis`, Lee et al. 2018:
it sees an embedding of unusual length along a direction the training images
hardly vary in, which the cosine distance ignores) and two checks of the
input's own pixels (:mod:`fashion_mnist_vis.explain.input_checks`), each with
its threshold, calibrated so that all of them together flag 1% of real
held-out images (:func:`calibrate_union`): the distance alone misses photos the network
embeds next to a training image (a page of text, gravel, a frame-filling
close-up), whose pixels look unlike any Fashion-MNIST item's. For a photo it
adds one check of the photo itself, with a fixed threshold: a busy
background (:func:`~fashion_mnist_vis.explain.input_checks.photo_checks`: a
scene, a cup on a table), which no real test image has.
"""

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Tuple

import numpy as np

from fashion_mnist_vis.explain.mahalanobis import SCORE_NAME as MAHALANOBIS_SCORE_NAME

DEFAULT_FLAGGED_SHARE = 0.01
"""The share of real held-out images a calibrated threshold flags."""


def energy_scores(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """float (N, K) logits -> float64 (N,) energies ``-T logsumexp(logits / T)`` (Liu et al. 2020).

    Lower for inputs the network has strong evidence for; e.g. logits (0, 0)
    give ``-log 2 = -0.693``, logits (10, 0) about -10.00005.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be above 0; got {temperature}")
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    if scaled.ndim != 2:
        raise ValueError(f"expected logits of shape (N, K); got {scaled.shape}")
    top = scaled.max(axis=1)
    return -temperature * (top + np.log(np.exp(scaled - top[:, None]).sum(axis=1)))


def nearest_distances(index, embeddings: np.ndarray, k: int = 1) -> np.ndarray:
    """float (N, D) embeddings -> float32 (N,): the cosine distance (0..2) of each to its k-th nearest
    vector of ``index`` (a :class:`~fashion_mnist_vis.explain.neighbours.NeighbourIndex`), Sun et al. 2022."""
    return index.search(np.asarray(embeddings), k).distances[:, k - 1]


def calibrate_threshold(scores: np.ndarray, flagged_share: float = DEFAULT_FLAGGED_SHARE) -> float:
    """The threshold above which ``flagged_share`` of ``scores`` (real held-out images) lie.

    A score is flagged when it is strictly above the threshold; the threshold
    is the ``1 - flagged_share`` quantile of ``scores`` (linear interpolation),
    so on the calibration images about ``flagged_share`` are flagged, and on
    more images like them the share is the same within sampling error. For
    scores 1..100 and a share of 0.05: 95.05 (5 scores above it).

    Raises:
        ValueError: if ``flagged_share`` is not in (0, 1) or there are no finite scores.
    """
    if not 0 < flagged_share < 1:
        raise ValueError(f"flagged_share must be between 0 and 1; got {flagged_share}")
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.size == 0 or not np.isfinite(scores).all():
        raise ValueError("calibration needs at least one score, all finite")
    return float(np.quantile(scores, 1.0 - flagged_share))


def flagged(scores: np.ndarray, threshold: float) -> np.ndarray:
    """bool (N,): which scores are above the calibrated ``threshold``."""
    return np.asarray(scores) > threshold


class LogitProbe:
    """One forward pass giving each input's embedding, logits and class probabilities.

    The logits are the classifier's pre-activation, ``x @ kernel + bias`` for its
    input ``x`` (the model's last Dense layer, whose softmax hides them).

    Args:
        handle: the model, from :func:`fashion_mnist_vis.models.model_handle.open_model` (either engine).
        compiled: trace the forward pass once (for many batches).
    """

    def __init__(self, handle, compiled: bool = True):
        from fashion_mnist_vis.explain.embeddings import find_embedding_tensor
        from fashion_mnist_vis.models.registry import find_classifier_layer

        graph = handle.graph
        classifier = find_classifier_layer(handle.model)
        weights = classifier.get_weights() if hasattr(classifier, "get_weights") else classifier.weights
        self.kernel = np.asarray(weights[0], dtype=np.float64)
        self.bias = np.asarray(weights[1], dtype=np.float64) if len(weights) > 1 else 0.0
        embedding, _ = find_embedding_tensor(handle.model, None, graph)
        self._probe = graph.probe([embedding, graph.inputs_of(classifier)[0], graph.model_output],
                                  compiled=compiled)

    def __call__(self, batch: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """float32 (B, H, W, C) in [0, 1] -> (embeddings float32 (B, D), logits float64 (B, K),
        probabilities float32 (B, K))."""
        from fashion_mnist_vis.models.scores import as_probabilities

        values: List[np.ndarray] = self._probe(np.asarray(batch, dtype=np.float32), training=False)
        embeddings = np.asarray(values[0], dtype=np.float32).reshape(len(batch), -1)
        classifier_input = np.asarray(values[1], dtype=np.float64).reshape(len(batch), -1)
        logits = classifier_input @ self.kernel + self.bias
        return embeddings, logits, as_probabilities(np.asarray(values[2]))


def run_batches(probe: LogitProbe, inputs: np.ndarray, batch_size: int = 256,
                mirror: bool = False) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:class:`LogitProbe` over ``inputs`` (float32 (N, H, W, C)) in batches; ``mirror`` flips each
    left-right first. Returns the concatenated (embeddings, logits, probabilities)."""
    parts: Optional[List[List[np.ndarray]]] = None
    for start in range(0, len(inputs), batch_size):
        batch = inputs[start:start + batch_size]
        if mirror:
            batch = batch[:, :, ::-1, :]
        outputs = probe(np.ascontiguousarray(batch))
        parts = [[part] for part in outputs] if parts is None else \
            [collected + [part] for collected, part in zip(parts, outputs)]
    return tuple(np.concatenate(collected) for collected in parts)


SCORE_NAME = "cosine distance to the nearest training image"

CALIBRATION_FORMAT = 3
"""Changes whenever what a calibration holds changes: older calibrations are made again (2: the input checks;
3: the Mahalanobis distance)."""

INPUT_CHECK_SHARE = 0.1
"""The part of the flagged share each input check may take: it flags a tenth as many calibration images
(0.1% of them for a 1% share), the embedding's distance the rest."""

MAHALANOBIS = "mahalanobis"
"""The Mahalanobis distance's name in the calibration's shares, ``flagged_by`` and ``--json``."""

MAHALANOBIS_SHARE = 0.2
"""The part of the flagged share the Mahalanobis distance takes (0.2% of the images for 1%): chosen on the
photo benchmark, where 0.1-0.3 flag all 18 non-garment photos and 0.5 loses the colour wheel (and two held-out
images): the distance's threshold rises with it."""


def calibrate_union(nearest: np.ndarray, checks: Dict[str, np.ndarray],
                    flagged_share: float = DEFAULT_FLAGGED_SHARE, check_share: float = INPUT_CHECK_SHARE,
                    shares: Optional[Dict[str, float]] = None) -> Tuple[float, Dict[str, float]]:
    """Thresholds for the nearest-image distance and the input checks, together flagging ``flagged_share``.

    An image is flagged when any of its scores is above its threshold. Each
    check's threshold flags ``check_share * flagged_share`` of the calibration
    images, or ``shares[name] * flagged_share`` for a check named in ``shares``
    (:func:`calibrate_threshold`); the distance's threshold is then the lowest
    that keeps the images flagged by anything at ``flagged_share`` or fewer:
    with n images and m flagged by the checks, the (k+1)-th largest distance
    among the others, k = floor(flagged_share * n) - m. E.g. distances 1..100,
    one check flagging only image 100 (share 0.05): k = 4, threshold 95.

    Args:
        nearest: float (N,) distances of N real held-out images.
        checks: name -> float (N,) scores of the same images (:mod:`fashion_mnist_vis.explain.input_checks`).

    Returns:
        (the distance's threshold, name -> each check's threshold).
    """
    nearest = np.asarray(nearest, dtype=np.float64).ravel()
    shares = shares or {}
    thresholds = {name: calibrate_threshold(values, flagged_share * shares.get(name, check_share))
                  for name, values in checks.items()}
    by_checks = np.zeros(len(nearest), dtype=bool)
    for name, values in checks.items():
        by_checks |= flagged(np.asarray(values).ravel(), thresholds[name])
    room = int(np.floor(flagged_share * len(nearest) + 1e-9)) - int(by_checks.sum())
    others = np.sort(nearest[~by_checks])[::-1]
    if others.size == 0:
        return float(nearest.max()), thresholds
    return float(others[min(max(room, 0), others.size - 1)]), thresholds


@dataclass(frozen=True)
class Unfamiliarity:
    """How unlike the training images one classified image is.

    Attributes:
        score: the cosine distance (0..2) of its embedding to the nearest training image's.
        threshold: the distance's calibrated threshold.
        flagged_share: the share of the calibration images flagged by the distance and the checks together (0.01: 1%).
        calibration: one line on the images the thresholds were calibrated on.
        checks: the input checks (:mod:`fashion_mnist_vis.explain.input_checks`), name -> (value, threshold).
        mahalanobis: its embedding's squared Mahalanobis distance to the nearest class mean
            (:mod:`fashion_mnist_vis.explain.mahalanobis`) and that distance's threshold; None when not scored.
    """

    score: float
    threshold: float
    flagged_share: float
    calibration: str
    checks: Dict[str, Tuple[float, float]] = field(default_factory=dict)
    mahalanobis: Optional[Tuple[float, float]] = None

    @property
    def flagged_by(self) -> List[str]:
        """The scores above their thresholds: ``nearest_training_image``, ``mahalanobis`` and the names of the
        input checks."""
        found = ["nearest_training_image"] if self.score > self.threshold else []
        if self.mahalanobis is not None and self.mahalanobis[0] > self.mahalanobis[1]:
            found.append(MAHALANOBIS)
        return found + [name for name, (value, threshold) in self.checks.items() if value > threshold]

    @property
    def flagged(self) -> bool:
        """True when any score is above its threshold: it does not look like a training image."""
        return bool(self.flagged_by)

    def reasons(self) -> str:
        """Why it is flagged, in words ('' when it is not)."""
        from fashion_mnist_vis.explain.input_checks import BUSY_BACKGROUND, CHECK_WORDS

        words = [EMBEDDING_WORDS[name] if name in EMBEDDING_WORDS else f"the image {CHECK_WORDS[name]}"
                 for name in self.flagged_by]
        if BUSY_BACKGROUND in self.flagged_by:  # a fixed limit a reader can picture: say it
            value, limit = self.checks[BUSY_BACKGROUND]
            words[self.flagged_by.index(BUSY_BACKGROUND)] += (f": its border varies by {_figure(value, limit)}, "
                                                              f"a plain one's by at most {_figure(limit, limit)}")
        return "; ".join(words)

    def embedding_figures(self) -> str:
        """The embedding's scores against their thresholds in words, e.g. "cosine distance to the nearest
        training image 0.017, threshold 0.115; Mahalanobis distance to the nearest class 87, threshold 231"."""
        words = f"cosine distance to the nearest training image {self.score:.3f}, threshold {self.threshold:.3f}"
        if self.mahalanobis is not None:
            words += "; Mahalanobis distance to the nearest class {:.0f}, threshold {:.0f}".format(*self.mahalanobis)
        return words

    def verdict(self) -> str:
        """One line for a reader: familiar or not, and the figures behind it."""
        figures = (self.embedding_figures()
                   + "".join(f"; {name.replace('_', ' ')} {_figure(value, threshold)}, threshold {_figure(threshold, threshold)}"
                             for name, (value, threshold) in self.checks.items()))
        share = f"together exceeded by {100 * self.flagged_share:g}% of real test images"
        if self.flagged:
            return (f"UNFAMILIAR: this does not look like a Fashion-MNIST garment ({self.reasons()}); the "
                    f"prediction means little ({figures}; {share})")
        return f"familiar ({figures}; {share})"

    def to_dict(self) -> Dict[str, object]:
        return {"score": round(self.score, 6), "threshold": round(self.threshold, 6), "flagged": self.flagged,
                "score_is": SCORE_NAME, "flagged_by": self.flagged_by,
                "input_checks": {name: {"value": round(value, 6), "threshold": round(threshold, 6),
                                        "flagged": value > threshold}
                                 for name, (value, threshold) in self.checks.items()},
                **({} if self.mahalanobis is None else {MAHALANOBIS: {
                    "value": round(self.mahalanobis[0], 3), "threshold": round(self.mahalanobis[1], 3),
                    "flagged": self.mahalanobis[0] > self.mahalanobis[1], "score_is": MAHALANOBIS_SCORE_NAME}}),
                "flagged_share_of_calibration_images": self.flagged_share, "calibration": self.calibration}

    @classmethod
    def from_calibration(cls, score: float, calibration: Dict[str, object], check_values: Dict[str, float],
                         mahalanobis_distance: Optional[float] = None) -> "Unfamiliarity":
        """The unfamiliarity of an image with nearest-image distance ``score``, input checks ``check_values``
        (name -> value) and Mahalanobis distance, against ``calibration`` (:func:`calibrate_index`)."""
        thresholds = calibration.get("input_checks", {})
        scored = mahalanobis_distance is not None and "mahalanobis_threshold" in calibration
        return cls(float(score), float(calibration["threshold"]), float(calibration["flagged_share"]),
                   str(calibration["images"]),
                   {name: (float(check_values[name]), float(thresholds[name])) for name in thresholds},
                   (float(mahalanobis_distance), float(calibration["mahalanobis_threshold"])) if scored else None)


EMBEDDING_WORDS = {"nearest_training_image": "it is far from every training image in the network's embedding",
                   MAHALANOBIS: "the network embeds it far outside the spread of every class's training images"}
"""What a flagged embedding score says about the image, for the text line and the page."""


def _figure(value: float, threshold: float) -> str:
    """A check's value as the verdict writes it: 3 decimals on a 0..1 scale, whole grey levels above."""
    if threshold <= 1:
        return f"{value:.3f}"
    return f"{value:.0f} grey level" + ("" if f"{value:.0f}" == "1" else "s")


def is_current(calibration: Optional[Dict[str, object]]) -> bool:
    """True when ``calibration`` (stored with a training index) was made by this version's rules."""
    return bool(calibration) and calibration.get("format") == CALIBRATION_FORMAT


class UnfamiliarityScorer:
    """Scores one classified image at a time against a model's calibrated training index.

    Args:
        handle: the model the index was built with (either engine).
        index: its :class:`~fashion_mnist_vis.explain.training_index.TrainingIndex`, whose
            ``unfamiliarity`` calibration is set (:func:`calibrate_index`).
    """

    def __init__(self, handle, index):
        from fashion_mnist_vis.explain.training_index import QueryEmbedder

        if not is_current(index.unfamiliarity):
            raise ValueError("the training index has no current unfamiliarity calibration")
        self.embed = QueryEmbedder(handle, index)
        self.index = index

    def score(self, embedding: np.ndarray, model_input: np.ndarray,
              background_variation: Optional[float] = None) -> Unfamiliarity:
        """The unfamiliarity of one image: its embedding (float32 (D,), from :attr:`embed`), its
        model input (float32 (H, W, C) in [0, 1], for the input checks: the input before preprocess's
        stretch to white, :attr:`~fashion_mnist_vis.data.preprocess.Preprocessed.unstretched_input`)
        and, for a photo, how much its border varies (``Preprocessed.background_variation``, the
        ``busy_background`` check; None: not a photo)."""
        from fashion_mnist_vis.explain.input_checks import INPUT_CHECKS, photo_checks

        row = np.asarray(embedding)[np.newaxis]
        distance = nearest_distances(self.index.search, row)[0]
        batch = np.asarray(model_input)[np.newaxis]
        found = Unfamiliarity.from_calibration(distance, self.index.unfamiliarity,
                                               {name: float(check(batch)[0]) for name, check in INPUT_CHECKS.items()},
                                               float(self.index.gaussians.distances(row)[0]))
        return replace(found, checks={**found.checks, **photo_checks(background_variation)})

    def __call__(self, model_input: np.ndarray) -> Unfamiliarity:
        """The unfamiliarity of one float32 model input (H, W, C) in [0, 1]."""
        return self.score(self.embed(model_input), model_input)


def calibrate_index(handle, index, images: np.ndarray, source: str,
                    flagged_share: float = DEFAULT_FLAGGED_SHARE) -> Dict[str, object]:
    """The thresholds of the nearest-training-image distance, the Mahalanobis distance and the input checks
    that together flag ``flagged_share`` of ``images`` (:func:`calibrate_union`; the Mahalanobis distance
    takes :data:`MAHALANOBIS_SHARE` of it).

    Args:
        handle: the model the training ``index`` was built with.
        index: its :class:`~fashion_mnist_vis.explain.training_index.TrainingIndex`.
        images: uint8 (N, 28, 28) held-out real images (the test set: none of them is in the index).
        source: one line on where ``images`` come from.

    Returns:
        ``{"threshold", "mahalanobis_threshold", "input_checks", "flagged_share", "images", "score",
        "format"}`` (JSON-ready), stored with the index.
    """
    from fashion_mnist_vis.explain.embeddings import embedding_probe, iter_embeddings
    from fashion_mnist_vis.data.pipeline import to_model_input
    from fashion_mnist_vis.explain.input_checks import INPUT_CHECKS

    probe, _ = embedding_probe(handle.model, handle.graph, index.key.layer_request or None)
    embeddings = np.concatenate([batch.embeddings for batch in
                                 iter_embeddings(probe, images, handle.model.input_shape, 500)])
    embeddings = embeddings.reshape(len(images), -1)
    scores = nearest_distances(index.search, embeddings)
    inputs = to_model_input(images)  # as the model sees them
    checks = {name: check(inputs) for name, check in INPUT_CHECKS.items()}
    checks[MAHALANOBIS] = index.gaussians.distances(embeddings)
    threshold, thresholds = calibrate_union(scores, checks, flagged_share, shares={MAHALANOBIS: MAHALANOBIS_SHARE})
    return {"threshold": threshold, "mahalanobis_threshold": thresholds.pop(MAHALANOBIS),
            "input_checks": thresholds, "flagged_share": flagged_share,
            "images": f"{len(images):,} held-out images ({source})", "score": SCORE_NAME,
            "format": CALIBRATION_FORMAT}
