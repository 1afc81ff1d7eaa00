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
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

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


@dataclass(frozen=True)
class Unfamiliarity:
    """How unlike the training images one classified image is.

    Attributes:
        score: the cosine distance (0..2) of its embedding to the nearest training image's.
        threshold: the calibrated threshold: ``flagged_share`` of the calibration images score above it.
        flagged_share: that share (0.01: 1%).
        calibration: one line on the images the threshold was calibrated on.
    """

    score: float
    threshold: float
    flagged_share: float
    calibration: str

    @property
    def flagged(self) -> bool:
        """True when the image scores above the threshold: it does not look like a training image."""
        return self.score > self.threshold

    def verdict(self) -> str:
        """One line for a reader: familiar or not, and the figures behind it."""
        verdict = ("UNFAMILIAR: this does not look like a Fashion-MNIST garment; the prediction means little"
                   if self.flagged else "familiar")
        return (f"{verdict} (distance to the nearest training image {self.score:.3f}, threshold "
                f"{self.threshold:.3f}, exceeded by {100 * self.flagged_share:g}% of real test images)")

    def to_dict(self) -> Dict[str, object]:
        return {"score": round(self.score, 6), "threshold": round(self.threshold, 6), "flagged": self.flagged,
                "score_is": SCORE_NAME, "flagged_share_of_calibration_images": self.flagged_share,
                "calibration": self.calibration}

    @classmethod
    def from_calibration(cls, score: float, calibration: Dict[str, object]) -> "Unfamiliarity":
        return cls(float(score), float(calibration["threshold"]), float(calibration["flagged_share"]),
                   str(calibration["images"]))


class UnfamiliarityScorer:
    """Scores one classified image at a time against a model's calibrated training index.

    Args:
        handle: the model the index was built with (either engine).
        index: its :class:`~fashion_mnist_vis.explain.training_index.TrainingIndex`, whose
            ``unfamiliarity`` calibration is set (:func:`calibrate_index`).
    """

    def __init__(self, handle, index):
        from fashion_mnist_vis.explain.training_index import QueryEmbedder

        if not index.unfamiliarity:
            raise ValueError("the training index has no unfamiliarity calibration")
        self.embed = QueryEmbedder(handle, index)
        self.index = index

    def score(self, embedding: np.ndarray) -> Unfamiliarity:
        """The unfamiliarity of one image's embedding (float32 (D,), from :attr:`embed`)."""
        distance = nearest_distances(self.index.search, np.asarray(embedding)[np.newaxis])[0]
        return Unfamiliarity.from_calibration(distance, self.index.unfamiliarity)

    def __call__(self, model_input: np.ndarray) -> Unfamiliarity:
        """The unfamiliarity of one float32 model input (H, W, C) in [0, 1]."""
        return self.score(self.embed(model_input))


def calibrate_index(handle, index, images: np.ndarray, source: str,
                    flagged_share: float = DEFAULT_FLAGGED_SHARE) -> Dict[str, object]:
    """The threshold of the nearest-training-image distance that flags ``flagged_share`` of ``images``.

    Args:
        handle: the model the training ``index`` was built with.
        index: its :class:`~fashion_mnist_vis.explain.training_index.TrainingIndex`.
        images: uint8 (N, 28, 28) held-out real images (the test set: none of them is in the index).
        source: one line on where ``images`` come from.

    Returns:
        ``{"threshold", "flagged_share", "images", "score"}`` (JSON-ready), stored with the index.
    """
    from fashion_mnist_vis.explain.embeddings import embedding_probe, iter_embeddings

    probe, _ = embedding_probe(handle.model, handle.graph, index.key.layer_request or None)
    embeddings = np.concatenate([batch.embeddings for batch in
                                 iter_embeddings(probe, images, handle.model.input_shape, 500)])
    scores = nearest_distances(index.search, embeddings.reshape(len(images), -1))
    return {"threshold": calibrate_threshold(scores, flagged_share), "flagged_share": flagged_share,
            "images": f"{len(images):,} held-out images ({source})", "score": SCORE_NAME}
