"""Embedding snapshots: 2-D views of how the classes pull apart during training.

A snapshot is the embedding (see :func:`~fashion_mnist_vis.explain.embeddings.build_embedder`)
of the same fixed images at one epoch: float32 (N, D). To draw all snapshots
on common axes they are projected with **one** linear map, the 2-D PCA of the
**final** snapshot (centred on the final snapshot's mean), rather than a PCA
per frame.

Why: the embedding's coordinates are the network's own units (GAP channel
``i`` is the same filter in every epoch), so a point moving in a fixed
projection is a real change in the representation. A PCA per frame would
flip and rotate its axes from one epoch to the next (principal directions
are only defined up to sign and reorder when variances cross), and aligning
frames afterwards (Procrustes) would hide real rotations and rescaling. The
final snapshot is the one whose class structure we want to explain, so its
two main directions are the axes on which earlier frames are watched
converging; early frames typically appear as a small, mixed cloud that grows
and separates. The axis range is shared by all frames (a robust range over
all of them), so sizes and distances compare across frames.
"""

from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

from fashion_mnist_vis.explain.pca import fit_pca
from fashion_mnist_vis.atomic import atomic_path

SNAPSHOT_IMAGES = 500
"""How many validation images (stratified: the same number per class) are tracked."""
SNAPSHOT_FILE = "embedding_snapshots.npz"
ANIMATION_FILE = "embedding_snapshots.gif"
SMALL_MULTIPLES_FILE = "embedding_snapshots.png"


def shared_limits(frames: Sequence[np.ndarray], margin: float = 0.06) -> Tuple[float, float, float, float]:
    """(xmin, xmax, ymin, ymax) covering the 0.5-99.5 percentiles of all frames' (N, 2) points.

    Percentiles keep one far outlier from shrinking every frame; ``margin``
    pads each side by that fraction of the span.
    """
    points = np.concatenate([np.asarray(frame, dtype=np.float64) for frame in frames])
    low = np.percentile(points, 0.5, axis=0)
    high = np.percentile(points, 99.5, axis=0)
    span = np.maximum(high - low, 1e-6)
    low, high = low - margin * span, high + margin * span
    return float(low[0]), float(high[0]), float(low[1]), float(high[1])


def save_snapshots(path: Path, epochs: Sequence[int], embeddings: Sequence[np.ndarray], labels: np.ndarray) -> None:
    """Write snapshots atomically as .npz: ``epochs`` (K,), ``embeddings`` (K, N, D), ``labels`` (N,)."""
    with atomic_path(path) as temp:
        with open(temp, "wb") as handle:
            np.savez_compressed(handle, epochs=np.asarray(epochs, dtype=np.int64),
                                embeddings=np.stack(embeddings).astype(np.float32), labels=labels)


def load_snapshots(path: Path) -> Tuple[List[int], List[np.ndarray], np.ndarray]:
    """Read what :func:`save_snapshots` wrote: (epochs, embeddings per epoch, labels)."""
    with np.load(path) as data:
        return [int(e) for e in data["epochs"]], list(data["embeddings"]), data["labels"]


def write_snapshot_figures(folder: Path, epochs: Sequence[int], embeddings: Sequence[np.ndarray],
                           labels: np.ndarray, model_name: str) -> List[str]:
    """Project the snapshots (see the module docstring) and write the GIF and the small multiples.

    Returns the names of the files written in ``folder``.
    """
    from fashion_mnist_vis.visualize.plots import plot_embedding_frame, plot_embedding_snapshots, save_figure, save_gif

    projection = fit_pca(embeddings[-1])
    frames = [projection.apply(snapshot) for snapshot in embeddings]
    limits = shared_limits(frames)
    titles = [f"epoch {epoch}" + (" (initial weights)" if epoch == 0 else "") for epoch in epochs]
    axis_labels = [f"PC {i + 1} ({share:.0%} of the final variance)"
                   for i, share in enumerate(projection.explained)]
    dimensions = np.asarray(embeddings[-1]).shape[1]
    animation = [
        plot_embedding_frame(frame, labels, limits, f"{model_name}: embeddings of {len(labels)} validation "
                             f"images, {title}", axis_labels)
        for frame, title in zip(frames, titles)
    ]
    save_gif(animation, Path(folder) / ANIMATION_FILE)
    grid = plot_embedding_snapshots(
        frames, labels, titles, limits,
        f"{model_name}: {dimensions}-d embeddings of {len(labels)} validation images, projected on "
        f"the final epoch's 2-D PCA (same axes in every panel)",
    )
    save_figure(grid, Path(folder) / SMALL_MULTIPLES_FILE)
    return [ANIMATION_FILE, SMALL_MULTIPLES_FILE]
