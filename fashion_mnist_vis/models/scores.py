"""Class scores as probabilities: the one softmax of the toolkit.

A model's output is either already a probability distribution (a softmax
layer's) or logits. :func:`to_probabilities` (one image) and
:func:`as_probabilities` (a batch) pass probabilities through and give
logits a :func:`softmax`; the NumPy engine's softmax activation is the same
function.
"""

import numpy as np

TOLERANCE = 1e-3
"""Scores that are non-negative and sum to 1 within this are probabilities already."""


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the maximum first (no overflow); keeps the dtype."""
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def to_probabilities(outputs: np.ndarray) -> np.ndarray:
    """One image's class scores as probabilities: float (K,) -> float64 (K,) summing to 1.

    Outputs that already are probabilities (non-negative, summing to 1 within
    :data:`TOLERANCE`, as from a softmax layer) are only renormalised;
    anything else is treated as logits and passed through a softmax.
    """
    values = np.asarray(outputs, dtype=np.float64)
    if values.min() >= 0.0 and abs(values.sum() - 1.0) < TOLERANCE:
        return values / values.sum()
    return softmax(values)


def as_probabilities(scores: np.ndarray) -> np.ndarray:
    """A batch's class scores as probabilities: float (B, K) -> float32 (B, K), rows summing to 1.

    Softmax outputs pass through unchanged; outputs that are not already a
    probability distribution (logits) get a softmax.
    """
    scores = np.asarray(scores, dtype=np.float32)
    if scores.size and scores.min() >= 0 and np.allclose(scores.sum(axis=1), 1.0, atol=TOLERANCE):
        return scores
    return softmax(scores, axis=1)
