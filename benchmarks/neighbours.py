"""Time explanation by example: building a model's training-set neighbour index, and answering one query.

Run from the repository root, on a quiet machine::

    python -m benchmarks.neighbours --saved-model model.keras          # the 60,000 real training images
    python -m benchmarks.neighbours --saved-model model.keras --json   # the figures as one JSON object

In one process, step by step as ``classify --neighbours K`` does them (see
:mod:`fashion_mnist_vis.explain.examples`):

* loading the training images (``--dataset``, ``--data-dir``, ``--train-size``)
  and hashing the model file (the cache's key);
* building the index with ``--engine`` (default keras, what classify's
  ``auto`` uses when the index must be built): the forward pass over every
  training image, and then, timed again on their own, every class's
  prototypes (k-means + medoids) and atypical images;
* writing the cache file and reading it back;
* one query, median of ``--repeats``: the search alone (one embedding
  against all N, exact cosine, top K), and the whole per-image step of
  classify (the image's embedding by ``--query-engine``, default numpy as
  classify's ``auto``, the search, the class's prototypes) on test images.

Prints one line per figure (or JSON) and the machine; asserts nothing.
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/neighbours.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Time building the neighbour index of a model's training set and answering one query.")
    parser.add_argument("--saved-model", type=Path, default=Path("model.keras"), help="the model file")
    parser.add_argument("--dataset", choices=("fashion_mnist", "synthetic"), default="fashion_mnist")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder of the four IDX files")
    parser.add_argument("--train-size", type=int, default=None, help="a stratified subset of the training set")
    parser.add_argument("--engine", choices=("numpy", "keras"), default="keras", help="what embeds the training set")
    parser.add_argument("--query-engine", choices=("numpy", "keras"), default="numpy",
                        help="what embeds the query image")
    parser.add_argument("--k", type=int, default=10, help="neighbours per query")
    parser.add_argument("--repeats", type=int, default=20, help="queries timed (the median is reported)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    return parser


def measure(args: argparse.Namespace) -> Dict[str, object]:
    """Every figure of the benchmark, in seconds unless named otherwise."""
    from fashion_mnist_vis.models.model_io import check_model_file

    check_model_file(args.saved_model)  # one line from run_script, not a traceback mid-way
    from benchmarks.in_process import timed
    from fashion_mnist_vis.data.datasets import DataSettings, array_digest, load_splits
    from fashion_mnist_vis.explain.class_examples import find_class_examples
    from fashion_mnist_vis.explain.examples import DEFAULT_SEED, ExampleFinder
    from fashion_mnist_vis.explain.index_cache import file_sha256, read_index, write_index
    from fashion_mnist_vis.explain.training_index import DEFAULT_LAYER, IndexKey, build_training_index
    from fashion_mnist_vis.models.model_handle import open_model

    settings = DataSettings(dataset=args.dataset, data_dir=args.data_dir, train_size=args.train_size, val_split=0.0)
    splits, load_seconds = timed(lambda: load_splits(settings, DEFAULT_SEED))
    sha, hash_seconds = timed(lambda: file_sha256(args.saved_model))
    key = IndexKey(sha, DEFAULT_LAYER, array_digest(splits.x_train, splits.y_train), 3, 5)
    handle, open_seconds = timed(lambda: open_model(args.saved_model, args.engine, many_images=True))
    data = {"settings": settings.to_dict(), "seed": DEFAULT_SEED, "source": splits.source}
    index, build_seconds = timed(lambda: build_training_index(handle, splits.x_train, splits.y_train, key, data))
    _, examples_seconds = timed(lambda: find_class_examples(index.embeddings, index.labels, 3, 5))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras.neighbours.npz"
        _, write_seconds = timed(lambda: write_index(index, path))
        size = path.stat().st_size
        _, read_seconds = timed(lambda: read_index(path, key))
    one = index.embeddings[:1] + 0.01
    index.search.search(one, args.k)  # the rows are scaled to unit length on first use
    search_times = [timed(lambda: index.search.search(one, args.k))[1] for _ in range(args.repeats)]
    query_handle = open_model(args.saved_model, args.query_engine)
    finder = ExampleFinder(query_handle, index, splits.x_train, args.k)
    queries = splits.x_test[: args.repeats + 1].astype("float32")[..., None] / 255.0
    finder.explain(queries[0], 0)  # the first call builds what later calls reuse
    query_times = [timed(lambda: finder.explain(image, 0))[1] for image in queries[1:]]
    return {
        "training_images": len(splits.y_train), "dims": int(index.embeddings.shape[1]),
        "layer": index.layer_name, "model": str(args.saved_model), "engine": handle.engine,
        "query_engine": query_handle.engine, "k": args.k, "data_source": splits.source,
        "load_training_images_s": load_seconds, "hash_model_file_s": hash_seconds, "open_model_s": open_seconds,
        "build_index_s": build_seconds, "of_which_class_examples_s": examples_seconds,
        "write_cache_s": write_seconds, "read_cache_s": read_seconds, "cache_bytes": size,
        "search_one_query_median_s": statistics.median(search_times),
        "classify_step_one_query_median_s": statistics.median(query_times), "repeats": args.repeats,
    }


def format_lines(figures: Dict[str, object]) -> List[str]:
    """The figures as lines for a reader."""
    count = figures["training_images"]
    return [
        f"model {figures['model']} ({figures['layer']}, {figures['dims']}-d embedding), "
        f"{count} training images ({figures['data_source']})",
        f"load the training images          {figures['load_training_images_s']:8.2f} s",
        f"hash the model file               {figures['hash_model_file_s']:8.3f} s",
        f"open the model ({figures['engine']})" + " " * max(1, 18 - len(figures["engine"]))
        + f"{figures['open_model_s']:8.2f} s",
        f"build the index ({count} images)" + " " * max(1, 11 - len(str(count)))
        + f"{figures['build_index_s']:8.2f} s  ({count / figures['build_index_s']:.0f} images/s)",
        f"  of which prototypes, atypical   {figures['of_which_class_examples_s']:8.2f} s",
        f"write the cache file              {figures['write_cache_s']:8.3f} s  "
        f"({figures['cache_bytes'] / 2 ** 20:.1f} MiB)",
        f"read the cache file               {figures['read_cache_s']:8.3f} s",
        f"one query, search alone (k={figures['k']})      {1000 * figures['search_one_query_median_s']:8.2f} ms "
        f"(median of {figures['repeats']})",
        f"one query, classify's step ({figures['query_engine']})  "
        f"{1000 * figures['classify_step_one_query_median_s']:8.2f} ms (embedding + search + examples)",
    ]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from benchmarks.in_process import print_figures

    return print_figures(measure(args), format_lines, args.json)


if __name__ == "__main__":
    from benchmarks.entry import run_script

    sys.exit(run_script(main, "python -m benchmarks.neighbours"))
