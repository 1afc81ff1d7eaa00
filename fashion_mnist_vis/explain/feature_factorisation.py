"""Deep Feature Factorisation: the few concepts a layer's channels express together, and where.

Collins, Achanta and Süsstrunk 2018, "Deep Feature Factorization for Concept
Discovery" (ECCV): the non-negative activations of one layer for a few images,
every position of every image a row of C channel values, are factorised by
non-negative matrix factorisation (NMF, Lee and Seung 1999; scikit-learn's)::

    A (N * h * w, C)  ~  W (N * h * w, K)  @  H (K, C),   W, H >= 0

Each of the K rows of ``H`` is a *concept*: a group of channels that fire
together; the matching column of ``W``, reshaped to (N, h, w), is a heatmap of
where each image shows that concept. Concepts are found for the images jointly,
so the same concept means the same thing in every image.
"""

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Concepts:
    """What :func:`factorise` found.

    Attributes:
        heatmaps: float32 (N, h, w, K) >= 0, how strongly each position of each image shows each concept.
        channels: float32 (K, C) >= 0, each concept's channel loadings, each row scaled to sum to 1
            (the heatmaps carry the scale).
        relative_error: ``||A - W H|| / ||A||`` (Frobenius norms), 0 for an exact factorisation.
    """

    heatmaps: np.ndarray
    channels: np.ndarray
    relative_error: float


def factorise(activations: np.ndarray, concepts: int, seed: int = 0) -> Concepts:
    """Deep Feature Factorisation of one layer's activations (see the module's docstring).

    Args:
        activations: float (N, h, w, C), >= 0 (a layer after its ReLU).
        concepts: K, how many concepts (at most C).
        seed: seeds NMF's initialisation (NNDSVDa, which is nearly deterministic anyway).

    Raises:
        ValueError: for negative activations, K < 1 or K > C.
    """
    from sklearn.decomposition import NMF  # noqa: PLC0415 (lazy: only the atlas needs it)
    from sklearn.exceptions import ConvergenceWarning  # noqa: PLC0415

    activations = np.asarray(activations, dtype=np.float64)
    count, height, width, channels = activations.shape
    if activations.min() < 0:
        raise ValueError("Deep Feature Factorisation needs non-negative activations (a layer after its ReLU)")
    if not 1 <= concepts <= channels:
        raise ValueError(f"concepts must be between 1 and the layer's {channels} channels, not {concepts}")
    rows = activations.reshape(-1, channels)
    model = NMF(n_components=concepts, init="nndsvda", max_iter=1000, tol=1e-6, random_state=seed)
    with warnings.catch_warnings():  # an unfinished fit is still a factorisation: its error says how good
        warnings.simplefilter("ignore", ConvergenceWarning)
        weights = model.fit_transform(rows)
    loadings = model.components_
    totals = loadings.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0
    norm = np.linalg.norm(rows)
    error = float(np.linalg.norm(rows - weights @ loadings) / norm) if norm > 0 else 0.0
    heatmaps = (weights * totals.T).reshape(count, height, width, concepts)
    return Concepts(heatmaps.astype(np.float32), (loadings / totals).astype(np.float32), error)
