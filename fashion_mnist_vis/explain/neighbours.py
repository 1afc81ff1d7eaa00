"""Exact nearest neighbours in an embedding space, by cosine similarity, in NumPy.

The one neighbour search of the toolkit: explanation by example (the training
images a photo resembles), the Projector export's ``neighbors.csv`` and
anything else that asks "which vectors are closest to this one".

Cosine distance is ``1 - cos(u, v)``, in [0, 2]: 0 for vectors pointing the
same way, 1 for orthogonal ones. Vectors are scaled to unit length once
(:func:`unit_rows`); a query is then one matrix product against the index,
done in chunks of queries so that memory holds at most
``chunk_size x len(index)`` similarities (60,000 x 64 float32 training
embeddings and 512 queries at a time: 120 MB). The search is exact (every
index vector is compared), which at this size takes milliseconds per query.

A zero vector has no direction: its distance to every vector is 1 (cosine 0).
Ties are broken by the lower index, so results are reproducible.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

DEFAULT_CHUNK_SIZE = 512


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """float (N, D) -> float32 (N, D), each row divided by its Euclidean length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"expected an (N, D) array of vectors; got shape {vectors.shape}")
    lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, lengths, out=np.zeros_like(vectors), where=lengths > 0)


@dataclass(frozen=True)
class Neighbours:
    """The k nearest index vectors of each query.

    Attributes:
        indices: int64 (Q, k), row i the index positions nearest query i, nearest first.
        distances: float32 (Q, k), the cosine distances ``1 - cos`` in [0, 2], ascending per row.
    """

    indices: np.ndarray
    distances: np.ndarray


class NeighbourIndex:
    """Vectors to search by cosine distance, exactly.

    Args:
        vectors: float (N, D), the index (e.g. the training images' embeddings).
        chunk_size: queries compared at once (bounds memory, see the module's docstring).
    """

    def __init__(self, vectors: np.ndarray, chunk_size: int = DEFAULT_CHUNK_SIZE):
        self.units = unit_rows(vectors)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1; got {chunk_size}")
        self.chunk_size = chunk_size

    def __len__(self) -> int:
        return len(self.units)

    def search(self, queries: np.ndarray, k: int, exclude_self: bool = False) -> Neighbours:
        """The ``k`` nearest index vectors of each query (float (Q, D), or one vector (D,)).

        ``exclude_self``: the queries are the index itself (query i is index
        vector i), and each vector's own position is left out of its
        neighbours (for "each point's neighbours" tables).

        Raises:
            ValueError: if ``k`` is not in 1..N (1..N-1 with ``exclude_self``) or
                the dimensions differ.
        """
        queries = unit_rows(np.atleast_2d(queries))
        available = len(self) - (1 if exclude_self else 0)
        if not 1 <= k <= available:
            raise ValueError(f"k must be between 1 and {available}; got {k}")
        if queries.shape[1] != self.units.shape[1]:
            raise ValueError(f"queries have {queries.shape[1]} dimensions, the index {self.units.shape[1]}")
        if exclude_self and len(queries) != len(self):
            raise ValueError("exclude_self needs one query per index vector, in the index's order")
        indices = np.empty((len(queries), k), dtype=np.int64)
        distances = np.empty((len(queries), k), dtype=np.float32)
        for start in range(0, len(queries), self.chunk_size):
            chunk = slice(start, start + self.chunk_size)
            similarity = queries[chunk] @ self.units.T  # (q, N) cosines
            if exclude_self:
                rows = np.arange(similarity.shape[0])
                similarity[rows, rows + start] = -np.inf
            indices[chunk], distances[chunk] = _top_k(similarity, k)
        return Neighbours(indices, distances)


def _top_k(similarity: np.ndarray, k: int):
    """Positions and cosine distances of the ``k`` largest similarities per row, ties to the lower index.

    ``argpartition`` finds each row's k largest in linear time; rows where
    values equal to the k-th largest lie outside the chosen k (a tie at the
    boundary) are sorted in full instead, so the lower index always wins.
    """
    rows = np.arange(similarity.shape[0])[:, None]
    candidates = np.argpartition(-similarity, k - 1, axis=1)[:, :k] if k < similarity.shape[1] \
        else np.broadcast_to(np.arange(similarity.shape[1]), similarity.shape)
    values = similarity[rows, candidates]
    order = np.lexsort((candidates, -values), axis=1)  # by similarity, then by position
    top = candidates[rows, order]
    kth = values.min(axis=1)
    for row in np.flatnonzero((similarity >= kth[:, None]).sum(axis=1) > k):
        top[row] = np.argsort(-similarity[row], kind="stable")[:k]
    cosines = np.take_along_axis(similarity, top, axis=1)
    return top, np.clip(1.0 - cosines, 0.0, 2.0).astype(np.float32)


def medoid(vectors: np.ndarray, sample: Optional[np.ndarray] = None) -> int:
    """The position of the vector with the smallest summed cosine distance to all the others.

    ``sample``: optional positions to consider as candidates (all by default). Float (N, D) -> int.
    """
    units = unit_rows(vectors)
    candidates = np.arange(len(units)) if sample is None else np.asarray(sample)
    mean_direction = units.sum(axis=0)
    # sum_j (1 - cos(u_i, u_j)) = N - u_i . sum_j u_j: the medoid has the largest dot with the sum.
    scores = units[candidates] @ mean_direction
    return int(candidates[int(np.argmax(scores))])
