"""Principal component analysis by SVD, with fixed signs (PCA: Pearson 1901).

Used for the 2-D maps of the Projector export (:func:`~fashion_mnist_vis.explain.embeddings.pca_2d`)
and for the embedding snapshots taken during training, so both draw the same picture of the same data.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PcaBasis:
    """The first K principal axes of some points: ``mean`` float64 (D,), ``components`` float64 (K, D),
    ``explained`` float64 (K,), the fraction of the variance each axis explains, in [0, 1]."""

    mean: np.ndarray
    components: np.ndarray
    explained: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        """float (N, D) -> float64 (N, K) coordinates on the axes."""
        return (np.asarray(points, dtype=np.float64) - self.mean) @ self.components.T


def fit_pca(points: np.ndarray, components: int = 2) -> PcaBasis:
    """PCA of float (N, D) ``points`` by SVD of the centred data.

    Each axis's sign makes its largest-magnitude loading positive (scikit-learn's
    ``svd_flip`` convention), so the same data always gives the same picture and
    the coordinates match scikit-learn's PCA. Axes beyond the data's rank (the
    second one when D = 1) are zero and explain nothing.
    """
    data = np.asarray(points, dtype=np.float64)
    mean = data.mean(axis=0)
    _, singular, vt = np.linalg.svd(data - mean, full_matrices=False)
    kept = min(components, vt.shape[0])
    axes = np.zeros((components, data.shape[1]))
    axes[:kept] = vt[:kept]
    for row in axes:
        if row.any() and row[np.argmax(np.abs(row))] < 0:
            row *= -1
    variance = singular**2
    explained = np.zeros(components)
    if variance.sum() > 0:
        explained[:kept] = variance[:kept] / variance.sum()
    return PcaBasis(mean, axes, explained)
