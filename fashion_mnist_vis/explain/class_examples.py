"""Per class, the training images that show it best and worst: prototypes and atypical examples.

Both are computed in the same cosine geometry as the neighbour search
(:mod:`fashion_mnist_vis.explain.neighbours`): each embedding is scaled to unit
length first.

* **Prototypes** (the medoids of clusters): the class's unit embeddings are
  split into ``per_class`` clusters by k-means (scikit-learn's ``KMeans``,
  k-means++ start, fixed seed; Lloyd 1982, Arthur & Vassilvitskii 2007), and
  each cluster is represented by its medoid (:func:`~fashion_mnist_vis.explain.neighbours.medoid`:
  the member with the smallest summed cosine distance to the others), a real
  training image rather than an average of several. Largest cluster first, so
  the first prototype is the most common way the class looks. This is the
  "medoid of clusters" variant of prototype selection (Kaufman & Rousseeuw
  1990 call the iterative version k-medoids / PAM; one k-means pass followed
  by medoids is its cheap approximation).
* **Atypical images**: the class members farthest, by cosine distance, from
  the class's centroid (the mean of its unit embeddings): images the network
  places unusually for their label, often mislabelled, odd or ambiguous items.
"""

from dataclasses import dataclass
from typing import List

import numpy as np

from fashion_mnist_vis.classes import NUM_CLASSES
from fashion_mnist_vis.explain.neighbours import medoid, unit_rows

MISSING = -1
"""Padding in the (classes, n) position tables for a class with fewer than n images."""


@dataclass(frozen=True)
class ClassExamples:
    """Prototypes and atypical training images of every class.

    Attributes:
        prototypes: int64 (10, P), per class the positions (in the embedding
            matrix) of its prototypes, most common first; :data:`MISSING` pads.
        atypical: int64 (10, A), per class the positions of its most atypical
            members, most atypical first; :data:`MISSING` pads.
        atypical_distances: float32 (10, A), their cosine distances to the
            class centroid, in [0, 2] (NaN where padded).
    """

    prototypes: np.ndarray
    atypical: np.ndarray
    atypical_distances: np.ndarray

    def prototypes_of(self, class_index: int) -> List[int]:
        """Positions of the prototypes of one class (none for a class without images)."""
        return [int(i) for i in self.prototypes[class_index] if i != MISSING]

    def atypical_of(self, class_index: int) -> List[int]:
        """Positions of the atypical images of one class, most atypical first."""
        return [int(i) for i in self.atypical[class_index] if i != MISSING]


def find_class_examples(embeddings: np.ndarray, labels: np.ndarray, prototypes_per_class: int = 3,
                        atypical_per_class: int = 5, seed: int = 0) -> ClassExamples:
    """The prototypes and atypical members of each class (see the module's docstring).

    Args:
        embeddings: float (N, D) training embeddings.
        labels: int (N,) class indices in 0..9.
        prototypes_per_class, atypical_per_class: how many of each, at least 1.
        seed: k-means's seed: the same inputs and seed give the same prototypes.
    """
    units = unit_rows(embeddings)
    labels = np.asarray(labels)
    prototypes = np.full((NUM_CLASSES, prototypes_per_class), MISSING, dtype=np.int64)
    atypical = np.full((NUM_CLASSES, atypical_per_class), MISSING, dtype=np.int64)
    atypical_distances = np.full((NUM_CLASSES, atypical_per_class), np.nan, dtype=np.float32)
    for class_index in range(NUM_CLASSES):
        members = np.flatnonzero(labels == class_index)
        if not len(members):
            continue
        chosen = cluster_medoids(units[members], prototypes_per_class, seed)
        prototypes[class_index, : len(chosen)] = members[chosen]
        positions, distances = farthest_from_centroid(units[members], atypical_per_class)
        atypical[class_index, : len(positions)] = members[positions]
        atypical_distances[class_index, : len(positions)] = distances
    return ClassExamples(prototypes, atypical, atypical_distances)


def cluster_medoids(units: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Positions of the medoids of ``count`` k-means clusters of float32 (n, D) unit vectors, largest
    cluster first (ties to the lower position); fewer when there are fewer distinct vectors."""
    distinct = len(np.unique(units, axis=0))
    clusters = min(count, distinct)
    if clusters <= 1:
        return np.array([medoid(units)], dtype=np.int64)
    from sklearn.cluster import KMeans

    assignment = KMeans(n_clusters=clusters, n_init=1, random_state=seed).fit_predict(units)
    medoids = []
    for cluster in range(clusters):
        members = np.flatnonzero(assignment == cluster)
        medoids.append((-len(members), int(members[medoid(units[members])])))
    return np.array([position for _, position in sorted(medoids)], dtype=np.int64)


def farthest_from_centroid(units: np.ndarray, count: int):
    """The ``count`` rows of float32 (n, D) unit vectors farthest from their mean direction.

    Returns int64 positions, farthest first (ties to the lower position), and
    float32 their cosine distances ``1 - cos(u, mean)`` in [0, 2].
    """
    centroid = unit_rows(units.mean(axis=0, keepdims=True))[0]
    distances = np.clip(1.0 - units @ centroid, 0.0, 2.0).astype(np.float32)
    order = np.lexsort((np.arange(len(units)), -distances))[:count]
    return order.astype(np.int64), distances[order]
