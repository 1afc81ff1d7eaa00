"""Classify photos with a trained model and, with --save-plots, show what every layer sees.

Run as ``python fashion_mnist_vis/classify.py`` or ``python -m fashion_mnist_vis.classify``::

    python fashion_mnist_vis/classify.py sample_images/black_bag.jpg --saved_model model.h5 --save_plots

Results go to stdout (one block, or with ``--json`` one JSON object, per
image); notes and errors go to stderr. Exit status: 0 if every image was
classified, 1 if some could not be, 2 if none could be or the model or the
flags are wrong.
"""

import sys

import argparse
import json
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from fashion_mnist_vis.atomic import check_writable_folder
from fashion_mnist_vis.commands import cli
from fashion_mnist_vis.classes import CLASS_NAMES, NUM_CLASSES
from fashion_mnist_vis.commands.cli import positive_int
from fashion_mnist_vis.commands.training_index_flags import add_unfamiliarity_arguments, open_with_training_index
from fashion_mnist_vis.errors import UserError

PROG = "classify.py"
DEFAULT_PLOT_DIR = Path("visualisations")


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser(
        PROG,
        "Classify photos (or folders of photos) with a model trained by train.py (.keras or .h5, "
        "including the original demo's Keras 2 model.h5) and print the top classes. With "
        "--save-plots, also save the input at every preprocessing step, every layer's output, the "
        "class activation map and an index.html page explaining them.",
    )
    cli.add_image_arguments(parser)
    cli.add_model_arguments(parser, "the trained model file (.keras or .h5)")
    parser.add_argument("--top-k", "--top_k", dest="top_k", type=positive_int, default=3,
                        help=f"how many of the most likely classes to report (at most {NUM_CLASSES})")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per image on stdout instead of text")
    cli.add_preprocess_arguments(parser)
    plots = parser.add_argument_group("plots")
    plots.add_argument("--save-plots", "--save_plots", dest="save_plots", action="store_true",
                       help="save the plots and index.html (one sub-folder per image when several are given)")
    plots.add_argument("--plot-dir", "--plot_dir", dest="plot_dir", type=Path, default=DEFAULT_PLOT_DIR,
                       help="folder for the plots (created if needed; only our own file names are written)")
    plots.add_argument("--cam-class", "--cam_class", dest="cam_class", default=None, metavar="NAME",
                       help="explain this class in the class activation map instead of the prediction "
                       "(a class name, any case, e.g. Bag or 'ankle boot')")
    add_example_arguments(parser)
    plots.add_argument("--methods", default=None, metavar="LIST",
                       help="also compare explanation methods on the page (implies --save-plots): all, or a "
                       "comma-separated list such as gradcam,scorecam,integrated-gradients (see explain.py "
                       "--help; explain.py adds faithfulness and sanity checks)")
    return parser


def add_example_arguments(parser: argparse.ArgumentParser) -> None:
    """``--neighbours K``, ``--no-unfamiliarity`` and the data flags naming the training images they search."""
    group = parser.add_argument_group("explanation by example")
    group.add_argument("--neighbours", "--neighbors", dest="neighbours", type=positive_int, default=None,
                       metavar="K", help="also find each image's K nearest training images in the model's "
                       "embedding space (cosine), and its class's prototypes and atypical training images, "
                       "on the page and in --json; the training set's embeddings are computed once per model "
                       "file and cached beside it (MODEL.neighbours.npz)")
    add_unfamiliarity_arguments(parser)


def prepare_examples(args: argparse.Namespace):
    """The :class:`~fashion_mnist_vis.explain.examples.ExamplePlan` of ``--neighbours`` (None without it):
    training images loaded, K checked and the cached index looked up, before the model is opened."""
    if args.neighbours is None:
        return None
    from fashion_mnist_vis.explain.examples import ExamplePlan, ExampleSettings

    return ExamplePlan.prepare(ExampleSettings(args.neighbours, cli.data_settings_from_args(args)),
                               args.saved_model)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_cli(PROG, argv, build_parser(), run)


def run(args: argparse.Namespace) -> int:
    cam_class, methods = check_explanation_flags(args)
    paths, failed = collect_inputs(args.images, args.json)
    if not paths:
        return cli.EXIT_USAGE

    from fashion_mnist_vis.explain.analysis import Analyser

    opened = open_with_training_index(args, prepare_examples(args))
    handle = opened.handle
    analyser = Analyser(handle, top_k=args.top_k, cam_class=cam_class, explain=args.save_plots,
                        examples=opened.examples, unfamiliarity=opened.unfamiliarity, **cli.analyser_options(args))
    comparer = None
    if methods is not None:
        from fashion_mnist_vis.explain.method_comparison import MethodComparison

        comparer = MethodComparison(handle, methods)
    model_label = handle.describe()
    batch = len(paths) + failed > 1
    entries, classified, failed = classify_images(args, paths, failed, batch, analyser, comparer,
                                                  (model_label, handle.engine, opened.note))
    if batch and args.save_plots and classified:
        write_batch_page(args.plot_dir, entries, model_label)
    return cli.batch_exit_status(failed, classified)


def check_explanation_flags(args: argparse.Namespace):
    """(class index of ``--cam-class`` or None, method settings of ``--methods`` or None), checked before
    the model is opened; ``--methods`` turns on ``--save-plots``, whose folder must be writable."""
    from fashion_mnist_vis.explain.analysis import find_class

    cam_class = find_class(args.cam_class) if args.cam_class is not None else None
    methods = None
    if args.methods is not None:
        from fashion_mnist_vis.explain.method_comparison import settings_for

        methods = settings_for(args.methods, class_index=cam_class)
        args.save_plots = True
    if args.save_plots:
        check_writable_folder(args.plot_dir, "the plot folder")
    return cam_class, methods


def classify_images(args: argparse.Namespace, paths: List[Path], failed: int, batch: bool,
                    analyser, comparer, model: Tuple[str, str]) -> Tuple[list, int, int]:
    """Analyse, print and (with ``--save-plots``) plot each image of ``paths`` in turn; ``model`` is
    (the model's one-line description, the engine running it, the note on why unfamiliarity is not
    reported or None), said on stderr with the first result.

    Returns the batch page's entries (empty without ``--save-plots``), the number of images classified
    and the number of inputs that failed (``failed`` plus this loop's failures).
    """
    if args.save_plots:  # matplotlib is imported only when plots are asked for
        from fashion_mnist_vis.visualize import image_report
        from fashion_mnist_vis.visualize.html_page import BatchEntry
    model_label, engine, note = model
    folders = [None] * len(paths)
    if batch and args.save_plots:
        folders = image_report.unique_folder_names(paths)
    entries, classified = [], 0
    for path, folder_name in zip(paths, folders):
        plot_folder = None
        if args.save_plots:
            plot_folder = args.plot_dir / folder_name if folder_name else args.plot_dir
        try:
            analysis = analyser.analyse(path)
            comparison = None
            if comparer is not None:
                comparison = comparer.compare(analysis.prepared.model_input, analysis.probabilities)
            if plot_folder is not None:
                save_image_plots(image_report, analysis, plot_folder, model_label, comparison)
        except UserError as error:
            report_failure(str(path), error, args.json)
            failed += 1
            if args.save_plots:
                entries.append(BatchEntry(str(path), error=str(error)))
            continue
        if not classified:  # said once, with the first result, so a lone bad image gets one error line
            if note:
                print(note, file=sys.stderr)
            print(f"Model: {model_label}, run by {engine}", file=sys.stderr)
            if args.save_plots and analysis.no_map_reason:
                print(f"note: {analysis.no_map_reason}", file=sys.stderr)
        classified += 1
        print_result(analysis, plot_folder, args.json, comparison)
        if args.save_plots:
            entries.append(BatchEntry(str(path), analysis.prediction, analysis.score,
                                      folder_name, image_report.INPUT_IMAGE))
    return entries, classified, failed


def write_batch_page(plot_dir: Path, entries: list, model_label: str) -> None:
    """The index.html linking every image's page in ``plot_dir``; its path is said on stderr."""
    from fashion_mnist_vis.visualize import image_report

    try:
        index = image_report.write_batch_index(plot_dir, entries, model_label)
    except OSError as error:
        raise UserError(f"cannot write into the plot folder {str(plot_dir)!r}: "
                        f"{error.strerror or error}") from None
    print(f"Plots of all images: {index}", file=sys.stderr)


def collect_inputs(inputs: Sequence[str], as_json: bool, prog: str = PROG) -> Tuple[List[Path], int]:
    """Expand files and folders into image paths; report each bad input as it is found (as ``prog``).

    Returns the image paths and the number of inputs that gave none.
    """
    from fashion_mnist_vis.data.images import collect_image_paths

    paths: List[Path] = []
    failed = 0
    for item in inputs:
        try:
            paths.extend(collect_image_paths([item]))
        except UserError as error:
            report_failure(item, error, as_json, prog)
            failed += 1
    return paths, failed


def save_image_plots(image_report, analysis, folder: Path, model_label: str, comparison=None) -> None:
    try:
        image_report.write_image_report(analysis, folder, model_label, comparison)
    except OSError as error:
        raise UserError(f"cannot write the plots for {str(analysis.path)!r} into {str(folder)!r}: "
                        f"{error.strerror or error}") from None


def report_failure(source: str, error: UserError, as_json: bool, prog: str = PROG) -> None:
    """One line on stderr (and, with --json, an error object on stdout) for an input that failed."""
    print(f"{prog}: error: {error}", file=sys.stderr, flush=True)
    if as_json:
        print(json.dumps({"path": source, "error": str(error)}), flush=True)


def print_result(analysis, plot_folder: Optional[Path], as_json: bool, comparison=None) -> None:
    """The prediction and top-k of one image on stdout, as text or one JSON object (with the explanation
    methods' ``comparison``, when computed, under ``explanations``)."""
    if as_json:
        record = {
            "path": str(analysis.path),
            "prediction": analysis.prediction,
            "class_index": analysis.predicted,
            "score": round(analysis.score, 6),
            "top_k": [{"class": CLASS_NAMES[index], "class_index": index, "score": round(score, 6)}
                      for index, score in analysis.top_k],
            "plots": str(plot_folder) if plot_folder is not None else None,
        }
        if analysis.cams:
            record["cam"] = {"class": CLASS_NAMES[analysis.cam_class],
                             "methods": [f"{cam.method} on {cam.layer_name}" for cam in analysis.cams]}
        if analysis.examples is not None:
            record["neighbours"] = analysis.examples.to_dict()
        if analysis.unfamiliarity is not None:
            record["unfamiliarity"] = analysis.unfamiliarity.to_dict()
        if comparison is not None:
            from fashion_mnist_vis.explain.method_comparison import comparison_record

            record["explanations"] = comparison_record(comparison)
        print(json.dumps(record), flush=True)
        return
    top = ", ".join(f"{CLASS_NAMES[index]} {100 * score:.1f}%" for index, score in analysis.top_k)
    lines = [f"{analysis.path}: {analysis.prediction} ({100 * analysis.score:.1f}%)",
             f"  top {len(analysis.top_k)}: {top}"]
    if analysis.examples is not None:
        nearest = ", ".join(f"{CLASS_NAMES[example.label]} {example.distance:.3f}"
                            for example in analysis.examples.nearest)
        lines.append(f"  nearest training images (cosine distance): {nearest}")
    if analysis.unfamiliarity is not None:
        lines.append(unfamiliarity_line(analysis.unfamiliarity))
    if plot_folder is not None:
        lines.append(f"  plots: {plot_folder / 'index.html'}")
    print("\n".join(lines), flush=True)


def unfamiliarity_line(unfamiliarity) -> str:
    """One indented line: is the image unlike every training image (see
    :class:`~fashion_mnist_vis.explain.unfamiliarity.Unfamiliarity`)?"""
    return f"  {unfamiliarity.verdict()}"


if __name__ == "__main__":
    sys.exit(main())
