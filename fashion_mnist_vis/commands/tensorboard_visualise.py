"""Export a model's embeddings of the test (or training) set for the Embedding Projector and Embedding Atlas.

Run as ``python fashion_mnist_vis/tensorboard_visualise.py`` or
``python -m fashion_mnist_vis.tensorboard_visualise``; then either

* ``python tensorboard_assets/serve_assets.py`` and open the printed
  https://projector.tensorflow.org/?config=... URL (online), or
* ``tensorboard --logdir tensorboard_assets`` and open its Projector tab
  (offline, nothing leaves the machine).

It also draws a PCA map of the embeddings (PNG and CSV) for readers without
a browser, with ``--tsne`` a t-SNE map and with ``--umap`` a UMAP map (both off
by default: the Projector computes them itself, and on a small CPU they take
longer than the export); writes each point's nearest neighbours
(``neighbors.csv``) and one Parquet file for Apple's Embedding Atlas
(``atlas.parquet``, opened with the ``embedding-atlas`` command it prints).
``--split train`` exports the training images instead of the test images.
See :mod:`fashion_mnist_vis.projector.export` for the files.
"""

import sys

import argparse
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from fashion_mnist_vis.commands import cli
from fashion_mnist_vis.projector.server import projector_link
from fashion_mnist_vis.commands.cli import add_data_arguments, data_settings_from_args, number_in_range, positive_int
from fashion_mnist_vis.commands.export_maps import DEFAULT_TSNE_POINTS, tsne_points, wants_tsne, wants_umap
from fashion_mnist_vis.explain.embeddings import DEFAULT_BATCH_SIZE

PROG = "tensorboard_visualise.py"
DEFAULT_OUTPUT = Path("tensorboard_assets")
DEFAULT_NEIGHBOURS = 10


URL_PORT = cli.number_in_range(int, low=1, high=65535)
"""argparse type of --port: a port a URL can name, 1..65535 (0, "any free port", makes no URL)."""


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser(
        PROG,
        "Export a model's embeddings of the test set (by default the GAP layer's 64-d output) "
        "for the Embedding Projector: tensors, metadata.tsv, a sprite of thumbnails, config.json "
        "for projector.tensorflow.org and projector_config.pbtxt for offline TensorBoard, plus "
        "a PCA plot (t-SNE and UMAP plots with --tsne, --umap), each point's nearest neighbours "
        "(neighbors.csv) and atlas.parquet for Apple's Embedding Atlas.",
    )
    cli.add_model_arguments(parser, "the trained model (.keras or .h5)", many_images=True)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="export folder; only the export's own files in it are replaced")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="which images to export: the test set or the training set (all of it, "
                        "no validation split held out; 60,000 images of the real data)")
    parser.add_argument("--num", type=positive_int, default=None, metavar="N",
                        help="export a stratified sample of N images instead of the whole split")
    parser.add_argument("--seed", type=int, default=42,
                        help="seed of the sample, of t-SNE and of UMAP; with --dataset synthetic also of the data, "
                        "so use the seed the model was trained with")
    parser.add_argument("--layer", default=None, metavar="NAME",
                        help="use this layer's output (flattened) as the embedding instead of the GAP layer's "
                        "output (or, for a model without GAP, the last Dense layer's input)")
    parser.add_argument("--raw", action="store_true",
                        help="also export the 784 input pixels as a second tensor, to compare with the embedding")
    parser.add_argument("--format", choices=("both", "bytes", "tsv"), default="both",
                        help="tensor files: both = .bytes for projector.tensorflow.org (compact, no parsing) and "
                        ".tsv for offline TensorBoard (the format its plugin reads reliably); bytes = online only; "
                        "tsv = one text file for both")
    parser.add_argument("--batch-size", "--batch_size", type=positive_int, default=DEFAULT_BATCH_SIZE,
                        help="images per forward pass (larger batches use more memory, not less time)")
    parser.add_argument("--plain-sprite", action="store_true",
                        help="sprite of the greyscale inputs as they are, instead of thumbnails tinted by class")
    add_data_arguments(parser, validation=False)
    served = parser.add_argument_group("where config.json says the files are served")
    served.add_argument("--host", default="localhost", help="host name in the URLs")
    served.add_argument("--port", type=URL_PORT, default=8000, help="port in the URLs (serve_assets.py's --port)")
    served.add_argument("--base-url", default=None, metavar="URL",
                        help="serve the files from this URL instead (e.g. a web server); overrides --host/--port")
    plots = parser.add_argument_group("static plots")
    # No "(default: ...)" on the t-SNE flags: their defaults (None) only mean "not given".
    parser.set_defaults(tsne=None, tsne_points=None)
    plots.add_argument("--tsne", dest="tsne", action="store_true", default=argparse.SUPPRESS,
                       help="also draw a t-SNE map (tsne.png, tsne.csv); off by default because the Projector "
                       "computes t-SNE itself, and here it takes longer than the whole export")
    plots.add_argument("--tsne-points", "--tsne_points", type=positive_int, default=argparse.SUPPRESS, metavar="N",
                       help=f"t-SNE on a stratified sample of at most N points (default {DEFAULT_TSNE_POINTS}; "
                       "giving N implies --tsne; on 2 idle cores 2000 points take about 5 s, all 10000 about 45 s)")
    plots.add_argument("--perplexity", type=cli.positive_float, default=30.0,
                       help="t-SNE perplexity (about the number of close neighbours each point has; "
                       "lowered automatically for small samples)")
    plots.add_argument("--no-tsne", "--no_tsne", dest="tsne", action="store_false", default=argparse.SUPPRESS,
                       help="no t-SNE map, even with --tsne-points (the default without them)")
    parser.set_defaults(umap=None, umap_points=None)
    plots.add_argument("--umap", dest="umap", action="store_true", default=argparse.SUPPRESS,
                       help="also draw a UMAP map (umap.png, umap.csv) of all exported points, which the atlas "
                       "then opens on; off by default: on 2 busy cores 10000 points take minutes")
    plots.add_argument("--umap-points", "--umap_points", type=positive_int, default=argparse.SUPPRESS, metavar="N",
                       help="UMAP on a stratified sample of at most N points (default: all; giving N implies --umap)")
    plots.add_argument("--umap-neighbours", "--umap-neighbors", type=number_in_range(int, low=2), default=15,
                       metavar="K", help="UMAP's n_neighbors: larger values keep more of the global layout")
    plots.add_argument("--no-umap", "--no_umap", dest="umap", action="store_false", default=argparse.SUPPRESS,
                       help="no UMAP map, even with --umap-points (the default without them)")
    extras = parser.add_argument_group("neighbours and Embedding Atlas")
    extras.add_argument("--neighbours", "--neighbors", type=number_in_range(int, low=0), default=DEFAULT_NEIGHBOURS,
                        metavar="K", help="write each point's K nearest other points by cosine distance in the "
                        "embedding space (neighbors.csv, and the atlas's neighbour lists); 0: none")
    parser.set_defaults(atlas=True)  # no "(default: True)" on --no-atlas's help
    extras.add_argument("--no-atlas", "--no_atlas", dest="atlas", action="store_false", default=argparse.SUPPRESS,
                        help="no atlas.parquet for Embedding Atlas (written by default)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_cli(PROG, argv, build_parser(), run)


def run(args: argparse.Namespace) -> int:
    from fashion_mnist_vis.atomic import check_writable_folder
    from fashion_mnist_vis.projector.config import base_url
    from fashion_mnist_vis.commands.export_maps import save_embedding_plots, save_neighbours_and_atlas
    from fashion_mnist_vis.errors import UserError
    from fashion_mnist_vis.projector.export import ExportOptions
    from fashion_mnist_vis.projector.manifest import finish_export

    started = time.perf_counter()
    output = check_writable_folder(args.output, "output")
    url = args.base_url or base_url(args.host, args.port)
    if not url.endswith("/"):
        url += "/"
    handle = cli.open_model(args)
    images, labels, indices, source = load_points(args)
    if args.neighbours >= len(labels):
        raise UserError(f"--neighbours {args.neighbours} needs more than {args.neighbours} exported points; "
                        f"{len(labels)} were chosen")
    print(f"Model: {args.saved_model} ({handle.model.name}), run by {handle.engine}; exporting {len(labels)} "
          f"images of the {source}", flush=True)
    options = ExportOptions(
        output=output, url=url, formats=args.format, raw=args.raw, tint_sprite=not args.plain_sprite,
        batch_size=args.batch_size, layer=args.layer,
    )
    result = export(handle, images, labels, indices, options)
    maps = save_embedding_plots(args, result, labels, indices, source)
    extras = save_neighbours_and_atlas(args, result, images, labels, indices, maps)
    files = result.files + maps.files + extras.files
    removed = finish_export(output, files, manifest(args, result, source, url, len(labels), maps, extras))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if removed:
        print(f"Removed stale files of the previous export: {', '.join(removed)}")
    print_summary(args, result, output, url, len(labels), files, extras, time.perf_counter() - started)
    return cli.EXIT_OK


def load_points(args: argparse.Namespace):
    """Return (images uint8 (N, 28, 28), labels (N,), positions in the split (N,), source text).

    ``--split test``: the test set; ``--split train``: the whole training set
    (no validation split held out; ``--train-size`` takes a stratified subset).
    """
    from dataclasses import replace

    from fashion_mnist_vis.data.datasets import load_splits, load_test_split, stratified_subset

    settings = data_settings_from_args(args)
    if args.split == "train":
        splits = load_splits(replace(settings, val_split=0.0), args.seed)
        images, labels, name = splits.x_train, splits.y_train, "training set"
    else:
        splits = load_test_split(settings, args.seed)
        images, labels, name = splits.x_test, splits.y_test, "test set"
    source = (f"synthetic {name} (seed {args.seed})" if args.dataset == "synthetic"
              else f"Fashion-MNIST {name}" + ("" if splits.source.startswith("Fashion-MNIST from")
                                              else f" ({splits.source})"))  # plot titles stay short
    indices = np.arange(len(labels))
    if args.num is not None and args.num < len(labels):
        indices, _ = stratified_subset(indices, labels, args.num, args.seed)
        indices = np.sort(indices)  # keep the split's order in the metadata and sprite
    return images[indices], labels[indices], indices, source


def export(handle, images, labels, indices, options):
    from fashion_mnist_vis.projector.export import export_projector

    progress = Progress(len(labels))
    result = export_projector(handle, images, labels, indices, options, progress=progress)
    progress.done()
    source = result.source
    print(f"Embedding: {source.role}, layer {source.layer_name!r}, {source.dims} dimensions", flush=True)
    return result


class Progress:
    """Prints 'Embedding: 2500/10000 images' as batches finish (one updating line on a terminal)."""

    def __init__(self, total: int, stream=None):
        self.total = total
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.perf_counter()
        self.last_quarter = -1

    def __call__(self, done: int, total: int) -> None:
        text = f"Embedding: {done}/{total} images ({time.perf_counter() - self.started:.1f} s)"
        if self.tty:
            print(f"\r{text}", end="", file=self.stream, flush=True)
        elif done * 4 // total > self.last_quarter:
            self.last_quarter = done * 4 // total
            print(text, file=self.stream, flush=True)

    def done(self) -> None:
        if self.tty:
            print(file=self.stream, flush=True)


def manifest(args, result, source, url, count, maps, extras):
    """The export.json record: what was exported, from what, and how."""
    return {
        "tool": PROG,
        "model": str(args.saved_model),
        "dataset": source,
        "split": args.split,
        "points": count,
        "seed": args.seed,
        "layer": result.source.layer_name,
        "embedding": result.source.role,
        "dimensions": result.source.dims,
        "accuracy": round(result.accuracy, 5),
        "format": args.format,
        "raw_pixels": args.raw,
        "sprite": {"thumbnail": result.layout.cell, "per_row": result.layout.per_row,
                   "side": result.layout.side, "tinted": not args.plain_sprite},
        "base_url": url,
        "tsne": None if not wants_tsne(args) else {"points": min(tsne_points(args), count),
                                                   "perplexity": args.perplexity,
                                                   "seconds": round(maps.seconds("tsne") or 0.0, 1)},
        "umap": None if not wants_umap(args) else {"points": len(maps.projections["umap"].indices),
                                                   "neighbours": args.umap_neighbours,
                                                   "seconds": round(maps.seconds("umap") or 0.0, 1)},
        "neighbours": None if not extras.neighbours else {"k": extras.neighbours, "metric": "cosine",
                                                          "seconds": round(extras.neighbour_seconds, 2)},
        "atlas": None if extras.atlas_command is None else {"coordinates": extras.atlas_coordinates,
                                                            "command": extras.atlas_command},
    }


def print_summary(args, result, output: Path, url: str, count: int, files, extras, seconds: float) -> None:
    size = sum((output / name).stat().st_size for name in set(files) if (output / name).is_file())
    names = sorted(set(files) | {"export.json"})
    lines = [
        "",
        f"Exported {count} points ({result.source.dims}-d {result.source.layer_name} embeddings"
        f"{' + 784-d raw pixels' if args.raw else ''}); the model's accuracy on them: {result.accuracy:.2%}",
        f"Files in {output}/ ({size / 1e6:.1f} MB, {seconds:.0f} s): {', '.join(names)}",
        f"Online:  python {_serve_script()}"
        + (f" --directory {output}" if output.resolve() != _serve_script().resolve().parent else "")
        + (f" --port {args.port}" if args.port != 8000 and not args.base_url else ""),
        f"         then open {projector_link(url)}",
    ]
    if "projector_config.pbtxt" in files:
        lines.append(f"Offline: tensorboard --logdir {output}   then open http://localhost:6006/#projector")
    if extras.atlas_command:
        lines.append(f"Atlas:   {extras.atlas_command}   (pip install embedding-atlas; "
                     f"{extras.atlas_coordinates.upper()} coordinates"
                     + (f"; {_umap_hint(args)})" if extras.atlas_coordinates == "pca" else ")"))
    print("\n".join(lines), flush=True)


def _serve_script() -> Path:
    """The CORS server's launcher: relative from the checkout's root, else its absolute path in the checkout."""
    relative = Path("tensorboard_assets") / "serve_assets.py"
    return relative if relative.is_file() else Path(__file__).resolve().parents[2] / relative


def _umap_hint(args: argparse.Namespace) -> str:
    """How to get UMAP coordinates into the atlas: a UMAP of a sample places only some points."""
    from fashion_mnist_vis.commands.export_maps import wants_umap

    return "--umap without --umap-points for UMAP's" if wants_umap(args) else "--umap for UMAP's"


if __name__ == "__main__":
    sys.exit(main())
