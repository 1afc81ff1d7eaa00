"""Calibration: does a model's confidence match how often it is right?

Follows Guo et al. 2017, "On Calibration of Modern Neural Networks". Each
prediction's confidence is its top softmax probability; predictions are
grouped into ``M`` equal-width confidence bins ``((m - 1) / M, m / M]``
(confidence 0 goes into the first bin), and in each bin the accuracy is
compared with the mean confidence. The expected calibration error is the
bin-size-weighted mean gap::

    ECE = sum over bins of (n_m / N) * |accuracy_m - confidence_m|

0 means perfectly calibrated; a model that is 90% sure and right 80% of the
time contributes 0.1 for those predictions.
"""

from dataclasses import dataclass

import numpy as np

DEFAULT_BINS = 15
"""Guo et al. 2017 use 15 bins."""


@dataclass(frozen=True)
class ReliabilityBins:
    """Per-bin statistics, each a float64 or int64 array of shape (M,).

    ``edges`` has shape (M + 1,), from 0 to 1. ``accuracy`` and
    ``confidence`` are NaN in empty bins (``counts == 0``).
    """

    edges: np.ndarray
    counts: np.ndarray
    accuracy: np.ndarray
    confidence: np.ndarray

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def expected_calibration_error(self) -> float:
        """ECE in [0, 1] (see the module docstring); 0.0 when there are no predictions."""
        if self.total == 0:
            return 0.0
        filled = self.counts > 0
        gaps = np.abs(self.accuracy[filled] - self.confidence[filled])
        return float(np.sum(self.counts[filled] / self.total * gaps))

    def as_dict(self) -> dict:
        """JSON-ready lists (None for empty bins), for metrics.json."""

        def rounded(values):
            return [None if np.isnan(v) else round(float(v), 4) for v in values]

        return {
            "bins": int(len(self.counts)),
            "bin_edges": [round(float(e), 4) for e in self.edges],
            "bin_counts": [int(c) for c in self.counts],
            "bin_accuracy": rounded(self.accuracy),
            "bin_confidence": rounded(self.confidence),
        }


def reliability_bins(confidences: np.ndarray, correct: np.ndarray, bins: int = DEFAULT_BINS) -> ReliabilityBins:
    """Group predictions into ``bins`` equal-width confidence bins.

    Args:
        confidences: float (N,) in [0, 1], the top predicted probability.
        correct: bool or 0/1 (N,), whether that prediction was right.
        bins: number of bins, at least 1.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if confidences.shape != correct.shape or confidences.ndim != 1:
        raise ValueError(f"confidences {confidences.shape} and correct {correct.shape} must be equal 1-D shapes")
    # Bin m (0-based) holds (m / M, (m + 1) / M]; ceil puts exact edges into the lower bin
    # (rounded first so that 0.2 * 15 = 3.0000000000000004 still counts as the edge 3).
    index = np.clip(np.ceil(np.round(confidences * bins, 9)).astype(np.int64) - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(index, weights=correct, minlength=bins) / counts
        confidence = np.bincount(index, weights=confidences, minlength=bins) / counts
    return ReliabilityBins(np.linspace(0.0, 1.0, bins + 1), counts, accuracy, confidence)


def calibration_of(probabilities: np.ndarray, labels: np.ndarray, bins: int = DEFAULT_BINS) -> ReliabilityBins:
    """Reliability bins of softmax outputs ``probabilities`` (N, K) against labels (N,) in 0..K-1."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predictions = probabilities.argmax(axis=1)
    return reliability_bins(probabilities.max(axis=1), predictions == np.asarray(labels), bins)
