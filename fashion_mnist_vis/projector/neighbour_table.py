"""Each exported point's k nearest neighbours in the embedding space, as ``neighbors.csv``.

The neighbours come from the toolkit's one exact cosine search,
:class:`fashion_mnist_vis.explain.neighbours.NeighbourIndex` (a point is never
its own neighbour). The CSV has one row per (point, rank), so a spreadsheet or
``pandas.read_csv`` can filter it directly::

    index,class,predicted,rank,neighbour_index,neighbour_class,cosine_distance
    0,Ankle boot,Ankle boot,1,9263,Ankle boot,0.0021
    0,Ankle boot,Ankle boot,2,4514,Ankle boot,0.0023

``index`` and ``neighbour_index`` are positions in the exported split (the
metadata's ``index`` column), ``rank`` counts from 1 (nearest), and the cosine
distance ``1 - cos`` is in [0, 2]. A point whose neighbours are mostly of
another class sits among them in the embedding space: where the model
confuses classes.
"""

import csv
from pathlib import Path
from typing import Sequence

import numpy as np

from fashion_mnist_vis.atomic import atomic_path
from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.neighbours import NeighbourIndex, Neighbours

NEIGHBOURS_COLUMNS = ("index", "class", "predicted", "rank", "neighbour_index", "neighbour_class", "cosine_distance")


def each_points_neighbours(embeddings: np.ndarray, k: int) -> Neighbours:
    """The ``k`` nearest other points of every row of float (N, D) ``embeddings``, by cosine distance.

    Returns positions int64 (N, k) into the rows and distances float32 (N, k), nearest first.

    Raises:
        UserError: if ``k`` is not in 1..N-1.
    """
    if not 1 <= k < len(embeddings):
        raise UserError(f"cannot list {k} neighbours of each of {len(embeddings)} points: "
                        f"choose between 1 and {len(embeddings) - 1}")
    return NeighbourIndex(embeddings).search(embeddings, k, exclude_self=True)


def write_neighbours_csv(
    path: Path,
    neighbours: Neighbours,
    indices: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
) -> None:
    """Write ``neighbours`` (of N points, positions into them) as the CSV above, atomically.

    Args:
        indices: integer (N,) each point's position in the exported split.
        labels, predictions: integer (N,) true and predicted classes.
    """
    points, k = neighbours.indices.shape
    rows = np.repeat(np.arange(points), k)
    ranks = np.tile(np.arange(1, k + 1), points)
    others = neighbours.indices.ravel()
    names = np.asarray(class_names, dtype=object)
    columns = zip(
        np.asarray(indices)[rows].tolist(), names[np.asarray(labels)[rows]].tolist(),
        names[np.asarray(predictions)[rows]].tolist(), ranks.tolist(), np.asarray(indices)[others].tolist(),
        names[np.asarray(labels)[others]].tolist(), [f"{d:.4f}" for d in neighbours.distances.ravel().tolist()],
    )
    with atomic_path(path) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(NEIGHBOURS_COLUMNS)
        writer.writerows(columns)
