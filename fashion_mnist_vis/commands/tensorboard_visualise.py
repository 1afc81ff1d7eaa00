"""Export a model's embeddings of the test set for the TensorFlow Embedding Projector.

Run as ``python fashion_mnist_vis/tensorboard_visualise.py`` or
``python -m fashion_mnist_vis.tensorboard_visualise``; then either

* ``python tensorboard_assets/serve_assets.py`` and open the printed
  https://projector.tensorflow.org/?config=... URL (online), or
* ``tensorboard --logdir tensorboard_assets`` and open its Projector tab
  (offline, nothing leaves the machine).

It also draws a PCA map of the embeddings (PNG and CSV) for readers without
a browser, and with ``--tsne`` a t-SNE map (off by default: the Projector
computes t-SNE itself, and on a small CPU it takes longer than the export).
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
from fashion_mnist_vis.commands.cli import add_data_arguments, data_settings_from_args, positive_int
from fashion_mnist_vis.explain.embeddings import DEFAULT_BATCH_SIZE

PROG = "tensorboard_visualise.py"
DEFAULT_OUTPUT = Path("tensorboard_assets")
DEFAULT_TSNE_POINTS = 2000


URL_PORT = cli.number_in_range(int, low=1, high=65535)
"""argparse type of --port: a port a URL can name, 1..65535 (0, "any free port", makes no URL)."""


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser(
        PROG,
        "Export a model's embeddings of the test set (by default the GAP layer's 64-d output) "
        "for the Embedding Projector: tensors, metadata.tsv, a sprite of thumbnails, config.json "
        "for projector.tensorflow.org and projector_config.pbtxt for offline TensorBoard, plus "
        "a PCA plot (and a t-SNE plot with --tsne).",
    )
    cli.add_model_arguments(parser, "the trained model (.keras or .h5)", many_images=True)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="export folder; only the export's own files in it are replaced")
    parser.add_argument("--num", type=positive_int, default=None, metavar="N",
                        help="export a stratified sample of N test images instead of the whole test set")
    parser.add_argument("--seed", type=int, default=42,
                        help="seed of the sample and of t-SNE; with --dataset synthetic also of the data, "
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
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_cli(PROG, argv, build_parser(), run)


def run(args: argparse.Namespace) -> int:
    from fashion_mnist_vis.atomic import check_writable_folder
    from fashion_mnist_vis.projector.config import base_url
    from fashion_mnist_vis.projector.export import ExportOptions

    started = time.perf_counter()
    output = check_writable_folder(args.output, "output")
    url = args.base_url or base_url(args.host, args.port)
    if not url.endswith("/"):
        url += "/"
    handle = cli.open_model(args)
    images, labels, indices, source = load_test_points(args)
    print(f"Model: {args.saved_model} ({handle.model.name}), run by {handle.engine}; exporting {len(labels)} "
          f"images of the {source}", flush=True)
    options = ExportOptions(
        output=output, url=url, formats=args.format, raw=args.raw, tint_sprite=not args.plain_sprite,
        batch_size=args.batch_size, layer=args.layer,
    )
    result = export(handle, images, labels, indices, options)
    plot_files, tsne_seconds = save_embedding_plots(args, result, labels, indices, source)
    from fashion_mnist_vis.projector.export import finish_export

    files = result.files + plot_files
    removed = finish_export(output, files, manifest(args, result, source, url, len(labels), tsne_seconds))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if removed:
        print(f"Removed stale files of the previous export: {', '.join(removed)}")
    print_summary(args, result, output, url, len(labels), files, time.perf_counter() - started)
    return cli.EXIT_OK


def load_test_points(args: argparse.Namespace):
    """Return (images uint8 (N, 28, 28), labels (N,), test-set indices (N,), source text)."""
    from fashion_mnist_vis.data.datasets import load_test_split, stratified_subset

    splits = load_test_split(data_settings_from_args(args), args.seed)
    images, labels = splits.x_test, splits.y_test
    source = (f"synthetic test set (seed {args.seed})" if args.dataset == "synthetic"
              else "Fashion-MNIST test set" + ("" if splits.source.startswith("Fashion-MNIST from")
                                               else f" ({splits.source})"))  # plot titles stay short
    indices = np.arange(len(labels))
    if args.num is not None and args.num < len(labels):
        indices, _ = stratified_subset(indices, labels, args.num, args.seed)
        indices = np.sort(indices)  # keep test-set order in the metadata and sprite
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


def save_embedding_plots(args, result, labels, indices, source: str):
    """Write PCA (all points) and t-SNE (a sample) plots and CSVs; return (file names, t-SNE seconds)."""
    from fashion_mnist_vis.atomic import atomic_path
    from fashion_mnist_vis.data.datasets import stratified_subset
    from fashion_mnist_vis.visualize.embedding_plots import plot_projection, projection_title
    from fashion_mnist_vis.explain.embeddings import pca_2d, tsne_2d
    from fashion_mnist_vis.visualize.plots import save_figure
    from fashion_mnist_vis.projector.export import write_projection_csv

    what = f"{result.source.layer_name} embeddings ({result.source.dims}-d) of the {source}"
    total = len(labels)
    jobs = [("pca", lambda: pca_2d(result.embeddings), ("PC1", "PC2"))]
    if wants_tsne(args):
        if tsne_points(args) < total:
            sample, _ = stratified_subset(np.arange(total), labels, tsne_points(args), args.seed)
            sample = np.sort(sample)
        else:
            sample = np.arange(total)
        print(f"t-SNE of {len(sample)} points...", flush=True)
        jobs.append(("tsne", lambda: tsne_2d(result.embeddings, sample, args.seed, args.perplexity),
                     ("t-SNE 1", "t-SNE 2")))
    files, tsne_seconds = [], None
    for stem, compute, axis_names in jobs:
        projection = compute()
        title = projection_title(projection.method, len(projection.indices), total, what, projection.note)
        figure = plot_projection(projection.coords, labels[projection.indices], title, axis_names)
        with atomic_path(args.output / f"{stem}.png") as temp:
            save_figure(figure, temp, dpi=90)
        write_projection_csv(args.output / f"{stem}.csv", projection, indices, labels, axis_names)
        files += [f"{stem}.png", f"{stem}.csv"]
        if stem == "tsne":
            tsne_seconds = projection.seconds
            print(f"t-SNE took {projection.seconds:.1f} s", flush=True)
    return files, tsne_seconds


def wants_tsne(args: argparse.Namespace) -> bool:
    """t-SNE runs with --tsne, or when --tsne-points is given, unless --no-tsne."""
    return args.tsne if args.tsne is not None else args.tsne_points is not None


def tsne_points(args: argparse.Namespace) -> int:
    return args.tsne_points if args.tsne_points is not None else DEFAULT_TSNE_POINTS


def manifest(args, result, source, url, count, tsne_seconds):
    """The export.json record: what was exported, from what, and how."""
    return {
        "tool": PROG,
        "model": str(args.saved_model),
        "dataset": source,
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
                                                   "seconds": round(tsne_seconds or 0.0, 1)},
    }


def print_summary(args, result, output: Path, url: str, count: int, files, seconds: float) -> None:
    size = sum((output / name).stat().st_size for name in set(files) if (output / name).is_file())
    names = sorted(set(files) | {"export.json"})
    lines = [
        "",
        f"Exported {count} points ({result.source.dims}-d {result.source.layer_name} embeddings"
        f"{' + 784-d raw pixels' if args.raw else ''}); the model's accuracy on them: {result.accuracy:.2%}",
        f"Files in {output}/ ({size / 1e6:.1f} MB, {seconds:.0f} s): {', '.join(names)}",
        "Online:  python tensorboard_assets/serve_assets.py"
        + (f" --directory {output}" if output.resolve() != (Path.cwd() / "tensorboard_assets").resolve() else "")
        + (f" --port {args.port}" if args.port != 8000 and not args.base_url else ""),
        f"         then open {projector_link(url)}",
    ]
    if "projector_config.pbtxt" in files:
        lines.append(f"Offline: tensorboard --logdir {output}   then open http://localhost:6006/#projector")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
