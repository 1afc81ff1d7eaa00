"""The export as one Parquet file for Apple's Embedding Atlas (``embedding-atlas``, Ren et al. 2025).

Embedding Atlas (https://apple.github.io/embedding-atlas) is a local web app
that draws millions of points from a table, with search, filters, linked
charts and each point's nearest neighbours. It runs offline; it computes no
coordinates when they are given (``--x``/``--y``), so nothing is downloaded.

One row per exported point, in the export's order (the metadata.tsv order):

==================  ====================================================
``index``           int64: position in the exported split (test or training set)
``label``           string: the true class's name
``prediction``      string: the predicted class's name
``confidence``      float32 in [0, 1]: the predicted class's probability
``correct``         bool: prediction == label
``<method>_x|_y``   float32: 2-D coordinates, one pair per projection that
                    covers every point (``pca`` always, ``umap`` / ``tsne``
                    when they ran on all points)
``image``           struct<bytes: binary, path: string>: the 28 x 28 input as a
                    greyscale PNG (the Hugging Face ``Image`` layout, which
                    Embedding Atlas shows as a thumbnail)
``neighbors``       struct<ids: list<int64>, distances: list<float32>>: the
                    k nearest other points as zero-based *row* numbers of this
                    file, nearest first, with their cosine distances (the form
                    ``embedding-atlas --neighbors`` reads)
==================  ====================================================

pyarrow is imported inside the functions.
"""

import io
import shlex
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np

from fashion_mnist_vis.atomic import atomic_path
from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.explain.neighbours import Neighbours

PREFERRED_COORDINATES = ("umap", "tsne", "pca")
"""Which projection the atlas opens with, best first (UMAP is what Embedding Atlas computes itself)."""


def png_thumbnails(images: np.ndarray) -> list:
    """uint8 (N, H, W) greyscale images -> N PNG files (bytes), each the image as it is."""
    from PIL import Image

    thumbnails = []
    for image in np.asarray(images, dtype=np.uint8):
        buffer = io.BytesIO()
        Image.fromarray(image, mode="L").save(buffer, format="PNG", optimize=True)
        thumbnails.append(buffer.getvalue())
    return thumbnails


def atlas_table(
    images: np.ndarray,
    indices: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    confidences: np.ndarray,
    coordinates: Dict[str, np.ndarray],
    neighbours: Optional[Neighbours] = None,
    class_names: Sequence[str] = CLASS_NAMES,
):
    """The Embedding Atlas table (a ``pyarrow.Table``, columns as in the module docstring).

    Args:
        images: uint8 (N, 28, 28) in 0..255.
        indices, labels, predictions: integer (N,).
        confidences: float (N,) in [0, 1].
        coordinates: projection name (e.g. "umap") -> float (N, 2), every point's coordinates.
        neighbours: each point's neighbours as positions 0..N-1 (None: no neighbours column).
    """
    import pyarrow as pa

    count = len(images)
    names = np.asarray(class_names, dtype=object)
    columns = {
        "index": pa.array(np.asarray(indices, dtype=np.int64)),
        "label": pa.array(names[np.asarray(labels)].tolist(), pa.string()),
        "prediction": pa.array(names[np.asarray(predictions)].tolist(), pa.string()),
        "confidence": pa.array(np.asarray(confidences, dtype=np.float32)),
        "correct": pa.array(np.asarray(labels) == np.asarray(predictions)),
    }
    for method, coords in coordinates.items():
        coords = np.asarray(coords, dtype=np.float32)
        if coords.shape != (count, 2):
            raise ValueError(f"{method} coordinates have shape {coords.shape}, expected ({count}, 2)")
        columns[f"{method}_x"], columns[f"{method}_y"] = pa.array(coords[:, 0]), pa.array(coords[:, 1])
    columns["image"] = pa.StructArray.from_arrays(
        [pa.array(png_thumbnails(images), pa.binary()), pa.array([f"{int(i)}.png" for i in indices], pa.string())],
        names=["bytes", "path"],
    )
    if neighbours is not None:
        columns["neighbors"] = pa.StructArray.from_arrays(
            [_lists(neighbours.indices.astype(np.int64), pa.int64()),
             _lists(neighbours.distances.astype(np.float32), pa.float32())],
            names=["ids", "distances"],
        )
    return pa.table(columns)


def _lists(values: np.ndarray, value_type):
    """(N, k) array -> an Arrow list array of N lists of k values (no copy of the values)."""
    import pyarrow as pa

    offsets = np.arange(0, values.size + 1, values.shape[1], dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.ravel(), value_type))


def write_atlas_parquet(path: Path, table) -> None:
    """Write ``table`` as Parquet (zstd), atomically: a failed write leaves the previous file."""
    import pyarrow.parquet as pq

    with atomic_path(path) as temp:
        pq.write_table(table, temp, compression="zstd")


def atlas_coordinates(available: Sequence[str]) -> str:
    """The projection the atlas opens with: the first of :data:`PREFERRED_COORDINATES` in ``available``."""
    return next(method for method in PREFERRED_COORDINATES if method in available)


def atlas_command(path: Path, coordinates: str, has_neighbours: bool) -> str:
    """The shell command that opens the file in Embedding Atlas on ``coordinates``' columns.

    ``--pagerank confidence`` names the column Embedding Atlas ranks images by
    when it picks a cluster's representative thumbnails (the images the model
    is surest of); without it, ``--image`` makes it compute PageRank over the
    neighbour graph, which needs PyTorch.
    """
    command = f"embedding-atlas {shlex.quote(str(path))} --x {coordinates}_x --y {coordinates}_y --image image"
    return command + " --pagerank confidence" + (" --neighbors neighbors" if has_neighbours else "")
