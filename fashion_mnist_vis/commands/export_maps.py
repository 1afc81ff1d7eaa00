"""The export's outputs beyond the Projector's files: 2-D maps, the neighbour table, the atlas.

Part of tensorboard_visualise.py (its flags are read here): PCA of all points,
t-SNE and UMAP when asked (each on all points or a stratified sample), as PNG
and CSV; ``neighbors.csv``; ``atlas.parquet`` with every map that covers all
points.
"""

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

DEFAULT_TSNE_POINTS = 2000


@dataclass
class Maps:
    """The 2-D maps drawn: name ("pca", "tsne", "umap") -> Projection, and the files written."""

    projections: Dict[str, object] = field(default_factory=dict)
    files: List[str] = field(default_factory=list)

    def seconds(self, name: str) -> Optional[float]:
        return self.projections[name].seconds if name in self.projections else None

    def covering_all(self, count: int) -> Dict[str, np.ndarray]:
        """Name -> float32 (count, 2) coordinates of the maps that cover every point, in point order."""
        return {name: projection.coords for name, projection in self.projections.items()
                if len(projection.indices) == count and np.array_equal(projection.indices, np.arange(count))}


def wants_tsne(args: argparse.Namespace) -> bool:
    """t-SNE runs with --tsne, or when --tsne-points is given, unless --no-tsne."""
    return args.tsne if args.tsne is not None else args.tsne_points is not None


def tsne_points(args: argparse.Namespace) -> int:
    return args.tsne_points if args.tsne_points is not None else DEFAULT_TSNE_POINTS


def wants_umap(args: argparse.Namespace) -> bool:
    """UMAP runs with --umap, or when --umap-points is given, unless --no-umap."""
    return args.umap if args.umap is not None else args.umap_points is not None


def _sample(args, labels: np.ndarray, points: Optional[int]) -> np.ndarray:
    """Sorted positions of a stratified sample of ``points`` of the exported points (all when None or more)."""
    from fashion_mnist_vis.data.datasets import stratified_subset

    total = len(labels)
    if points is None or points >= total:
        return np.arange(total)
    sample, _ = stratified_subset(np.arange(total), labels, points, args.seed)
    return np.sort(sample)


def save_embedding_plots(args, result, labels, indices, source: str) -> Maps:
    """Write PCA (all points), t-SNE and UMAP (when asked) plots and CSVs into ``args.output``."""
    from fashion_mnist_vis.explain.embeddings import pca_2d, tsne_2d, umap_2d
    from fashion_mnist_vis.projector.export import write_projection_csv
    from fashion_mnist_vis.visualize.embedding_plots import plot_projection, projection_title
    from fashion_mnist_vis.visualize.plots import save_figure

    what = f"{result.source.layer_name} embeddings ({result.source.dims}-d) of the {source}"
    total = len(labels)
    jobs = [("pca", lambda: pca_2d(result.embeddings), ("PC1", "PC2"), None)]
    if wants_tsne(args):
        tsne_sample = _sample(args, labels, tsne_points(args))
        jobs.append(("tsne", lambda: tsne_2d(result.embeddings, tsne_sample, args.seed, args.perplexity),
                     ("t-SNE 1", "t-SNE 2"), f"t-SNE of {len(tsne_sample)} points..."))
    if wants_umap(args):
        umap_sample = _sample(args, labels, args.umap_points)
        jobs.append(("umap", lambda: umap_2d(result.embeddings, umap_sample, args.seed, args.umap_neighbours),
                     ("UMAP 1", "UMAP 2"), f"UMAP of {len(umap_sample)} points..."))
    maps = Maps()
    for stem, compute, axis_names, announcement in jobs:
        if announcement:
            print(announcement, flush=True)
        projection = compute()
        title = projection_title(projection.method, len(projection.indices), total, what, projection.note)
        figure = plot_projection(projection.coords, labels[projection.indices], title, axis_names)
        save_figure(figure, args.output / f"{stem}.png", dpi=90)
        write_projection_csv(args.output / f"{stem}.csv", projection, indices, labels, axis_names)
        maps.projections[stem] = projection
        maps.files += [f"{stem}.png", f"{stem}.csv"]
        if announcement:
            print(f"{projection.method} took {projection.seconds:.1f} s", flush=True)
    return maps


@dataclass
class Extras:
    """What :func:`save_neighbours_and_atlas` wrote: file names, the atlas's coordinates and command."""

    files: List[str] = field(default_factory=list)
    neighbours: int = 0
    neighbour_seconds: Optional[float] = None
    atlas_coordinates: Optional[str] = None
    atlas_command: Optional[str] = None


def save_neighbours_and_atlas(args, result, images, labels, indices, maps: Maps) -> Extras:
    """Write neighbors.csv (unless --neighbours 0) and atlas.parquet (unless --no-atlas) into ``args.output``."""
    import time

    from fashion_mnist_vis.projector import atlas
    from fashion_mnist_vis.projector.export import ATLAS_PARQUET, NEIGHBOURS_CSV
    from fashion_mnist_vis.projector.neighbour_table import each_points_neighbours, write_neighbours_csv

    extras, neighbours = Extras(), None
    if args.neighbours:
        started = time.perf_counter()
        neighbours = each_points_neighbours(result.embeddings, args.neighbours)
        extras.neighbour_seconds = time.perf_counter() - started
        write_neighbours_csv(args.output / NEIGHBOURS_CSV, neighbours, indices, labels, result.predictions)
        extras.files.append(NEIGHBOURS_CSV)
        extras.neighbours = args.neighbours
    if args.atlas:
        coordinates = maps.covering_all(len(labels))
        table = atlas.atlas_table(images, indices, labels, result.predictions, result.confidences,
                                  coordinates, neighbours)
        atlas.write_atlas_parquet(args.output / ATLAS_PARQUET, table)
        extras.files.append(ATLAS_PARQUET)
        extras.atlas_coordinates = atlas.atlas_coordinates(list(coordinates))
        extras.atlas_command = atlas.atlas_command(Path(args.output) / ATLAS_PARQUET, extras.atlas_coordinates,
                                                   neighbours is not None)
    return extras
