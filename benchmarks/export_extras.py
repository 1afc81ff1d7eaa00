"""Time the export's outputs beyond the Projector: the neighbour table, the atlas, UMAP.

Run from the repository root, on a quiet machine::

    python -m benchmarks.export_extras --saved-model model.keras                  # the 10,000 real test images
    python -m benchmarks.export_extras --saved-model model.keras --split train    # the 60,000 training images
    python -m benchmarks.export_extras --saved-model model.keras --json           # one JSON object

In one process, step by step as ``tensorboard_visualise.py`` does them (see
:mod:`fashion_mnist_vis.commands.export_maps`): the embeddings (the forward
pass, by ``--engine``), each point's ``--k`` nearest neighbours (exact cosine
search) and neighbors.csv, the atlas table (PNG thumbnails) and atlas.parquet,
and UMAP of a stratified sample of ``--umap-points`` twice: the first call
includes compiling umap-learn's numba code, the second is the map alone.

Prints one line per figure (or JSON) and the machine; asserts nothing.
"""

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/export_extras.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Time the export's neighbour table, Embedding Atlas file and UMAP map.")
    parser.add_argument("--saved-model", type=Path, default=Path("model.keras"), help="the model file")
    parser.add_argument("--dataset", choices=("fashion_mnist", "synthetic"), default="fashion_mnist")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder of the four IDX files")
    parser.add_argument("--split", choices=("test", "train"), default="test", help="which images")
    parser.add_argument("--num", type=int, default=None, help="a stratified sample of this many images")
    parser.add_argument("--engine", choices=("numpy", "keras"), default="keras", help="what computes the embeddings")
    parser.add_argument("--k", type=int, default=10, help="neighbours per point")
    parser.add_argument("--umap-points", type=int, default=2000, help="UMAP sample size (0: no UMAP)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    return parser


def load_images(args: argparse.Namespace):
    """uint8 (N, 28, 28) images, their labels and positions in the split, and where they came from."""
    import numpy as np

    from fashion_mnist_vis.data.datasets import DataSettings, load_splits, load_test_split, stratified_subset

    settings = DataSettings(dataset=args.dataset, data_dir=args.data_dir, val_split=0.0)
    if args.split == "train":
        splits = load_splits(settings, args.seed)
        images, labels = splits.x_train, splits.y_train
    else:
        splits = load_test_split(settings, args.seed)
        images, labels = splits.x_test, splits.y_test
    indices = np.arange(len(labels))
    if args.num is not None and args.num < len(labels):
        indices = np.sort(stratified_subset(indices, labels, args.num, args.seed)[0])
    return images[indices], labels[indices], indices, splits.source


def measure(args: argparse.Namespace) -> Dict[str, object]:
    """Every figure of the benchmark, in seconds unless named otherwise."""
    from fashion_mnist_vis.models.model_io import check_model_file

    check_model_file(args.saved_model)  # before the images are loaded
    from benchmarks.in_process import timed
    import numpy as np

    from fashion_mnist_vis.explain.embeddings import embedding_probe, iter_embeddings, umap_2d
    from fashion_mnist_vis.models.model_handle import open_model
    from fashion_mnist_vis.projector.atlas import atlas_table, write_atlas_parquet
    from fashion_mnist_vis.projector.neighbour_table import each_points_neighbours, write_neighbours_csv

    (images, labels, indices, source), load_seconds = timed(lambda: load_images(args))
    handle = open_model(args.saved_model, args.engine, many_images=True)
    probe, embedding = embedding_probe(handle.model, handle.graph)

    def embed():
        batches = list(iter_embeddings(probe, images, handle.model.input_shape, 100))
        return (np.concatenate([batch.embeddings for batch in batches]),
                np.concatenate([batch.probabilities for batch in batches]))

    (embeddings, probabilities), embed_seconds = timed(embed)
    predictions, confidences = probabilities.argmax(axis=1), probabilities.max(axis=1)
    neighbours, search_seconds = timed(lambda: each_points_neighbours(embeddings, args.k))
    figures = {"points": len(labels), "split": args.split, "data_source": source, "model": str(args.saved_model),
               "engine": handle.engine, "layer": embedding.layer_name, "dims": int(embeddings.shape[1]), "k": args.k,
               "load_images_s": load_seconds, "embeddings_s": embed_seconds, "neighbour_search_s": search_seconds}
    with tempfile.TemporaryDirectory() as folder:
        csv_path, parquet_path = Path(folder) / "neighbors.csv", Path(folder) / "atlas.parquet"
        _, figures["neighbours_csv_s"] = timed(
            lambda: write_neighbours_csv(csv_path, neighbours, indices, labels, predictions))
        table, figures["atlas_table_s"] = timed(lambda: atlas_table(
            images, indices, labels, predictions, confidences, {}, neighbours))
        _, figures["atlas_parquet_s"] = timed(lambda: write_atlas_parquet(parquet_path, table))
        figures["neighbours_csv_bytes"] = csv_path.stat().st_size
        figures["atlas_parquet_bytes"] = parquet_path.stat().st_size
    figures["umap_points"] = min(args.umap_points, len(labels))
    if figures["umap_points"] >= 5:
        sample = np.sort(np.random.default_rng(args.seed).choice(len(labels), figures["umap_points"], replace=False))
        _, figures["umap_first_call_s"] = timed(lambda: umap_2d(embeddings, sample, args.seed))
        _, figures["umap_compiled_s"] = timed(lambda: umap_2d(embeddings, sample, args.seed))
    return figures


def format_lines(figures: Dict[str, object]) -> List[str]:
    """The figures as lines for a reader."""
    count = figures["points"]
    lines = [
        f"model {figures['model']} ({figures['layer']}, {figures['dims']}-d embedding, {figures['engine']}), "
        f"{count} {figures['split']} images ({figures['data_source']})",
        f"load the images                     {figures['load_images_s']:8.2f} s",
        f"embeddings (forward pass)           {figures['embeddings_s']:8.2f} s  ({count / figures['embeddings_s']:.0f} images/s)",
        f"neighbour search (k={figures['k']}, exact)     {figures['neighbour_search_s']:8.2f} s",
        f"write neighbors.csv                 {figures['neighbours_csv_s']:8.2f} s  "
        f"({figures['neighbours_csv_bytes'] / 1e6:.1f} MB)",
        f"atlas table (PNG thumbnails)        {figures['atlas_table_s']:8.2f} s",
        f"write atlas.parquet                 {figures['atlas_parquet_s']:8.2f} s  "
        f"({figures['atlas_parquet_bytes'] / 1e6:.1f} MB)",
    ]
    if "umap_first_call_s" in figures:
        lines += [f"UMAP of {figures['umap_points']} points, first call      {figures['umap_first_call_s']:8.2f} s "
                  "(with numba compiling)",
                  f"UMAP of {figures['umap_points']} points, again           {figures['umap_compiled_s']:8.2f} s"]
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from benchmarks.in_process import print_figures

    return print_figures(measure(args), format_lines, args.json)


if __name__ == "__main__":
    from benchmarks.entry import run_script

    sys.exit(run_script(main, "python -m benchmarks.export_extras"))
