"""Explain photos with several attribution methods side by side, and say how far to trust each map.

Run as ``python fashion_mnist_vis/explain.py`` or ``python -m fashion_mnist_vis.explain``::

    python fashion_mnist_vis/explain.py sample_images/tshirt.jpg --saved_model model.keras \\
        --methods gradcam,scorecam,integrated-gradients --contrast Shirt --faithfulness --sanity

Each image is classified as classify.py does (the same loading and
preprocessing), every method's map is computed
(:mod:`fashion_mnist_vis.explain.method_comparison`) and the image's folder gets
the method grid, the deletion/insertion curves when asked and an
``index.html``. Results go to stdout (one block, or with ``--json`` one JSON
object, per image); notes and errors to stderr. Exit status: 0 if every image
was explained, 1 if some could not be, 2 if none could be or the model or the
flags are wrong.
"""

import sys

import argparse
import json
from pathlib import Path
from typing import Optional, Sequence

from fashion_mnist_vis.atomic import check_writable_folder
from fashion_mnist_vis.commands import cli
from fashion_mnist_vis.commands.classify import collect_inputs, report_failure
from fashion_mnist_vis.commands.training_index_flags import add_unfamiliarity_arguments, open_with_training_index
from fashion_mnist_vis.errors import UserError

PROG = "explain.py"
DEFAULT_PLOT_DIR = Path("explanations")


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser(
        PROG,
        "Explain what a model trained by train.py sees in photos: compare attribution methods (CAM, "
        "Grad-CAM and its variants, Score-CAM, Eigen-CAM, saliency, SmoothGrad, Integrated Gradients, "
        "occlusion, contrastive maps) side by side, and with --faithfulness and --sanity measure how far "
        "each map can be trusted. Writes a grid of the maps and an index.html page per image.",
    )
    cli.add_image_arguments(parser)
    cli.add_model_arguments(parser, "the trained model file (.keras or .h5)",
                            auto_means="keras, whose automatic differentiation the gradient methods need")
    add_method_arguments(parser)
    parser.add_argument("--faithfulness", action="store_true",
                        help="also draw each method's deletion and insertion curves and report their areas, "
                        "against a random pixel order")
    parser.add_argument("--sanity", action="store_true",
                        help="also re-initialise the layers from the top down and report how similar each "
                        "method's map stays (Spearman, SSIM): maps that barely change do not depend on the model")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per image on stdout instead of text")
    cli.add_preprocess_arguments(parser)
    parser.add_argument("--plot-dir", "--plot_dir", dest="plot_dir", type=Path, default=DEFAULT_PLOT_DIR,
                        help="folder for the plots and pages (created if needed; one sub-folder per image "
                        "when several are given; only our own file names are written)")
    add_unfamiliarity_arguments(parser)
    return parser


def add_method_arguments(parser: argparse.ArgumentParser) -> None:
    """``--methods`` (default all), ``--class``, ``--contrast`` and ``--layer`` (classify.py has its own
    ``--methods``, without a default, beside its ``--cam-class``)."""
    from fashion_mnist_vis.explain.method_comparison import ALL
    from fashion_mnist_vis.explain.methods import METHODS

    group = parser.add_argument_group("explanation methods (see fashion_mnist_vis/explain/methods/)")
    group.add_argument("--methods", default=ALL, metavar="LIST",
                       help=f"{ALL}, or a comma-separated list of: {', '.join(METHODS)}")
    group.add_argument("--class", dest="explain_class", default=None, metavar="NAME",
                       help="explain this class instead of the prediction (a class name, any case, e.g. Coat "
                       "or 'ankle boot', or its label 0-9)")
    group.add_argument("--contrast", default=None, metavar="NAME",
                       help="explain 'why the class and not this one': the gradient methods differentiate the "
                       "difference of the two scores (default for the contrastive method: the most probable "
                       "other class)")
    group.add_argument("--layer", default=None, metavar="NAME",
                       help="the layer of the layer-based methods (default: the last convolution, or for CAM "
                       "the layer feeding the global average pooling)")


def comparison_settings(args: argparse.Namespace, faithfulness: bool = False, sanity: bool = False):
    """The :class:`~fashion_mnist_vis.explain.method_comparison.ComparisonSettings` of the flags
    :func:`add_method_arguments` added."""
    from fashion_mnist_vis.explain.analysis import find_class
    from fashion_mnist_vis.explain.method_comparison import settings_for

    class_index = find_class(args.explain_class) if args.explain_class is not None else None
    contrast_index = find_class(args.contrast) if args.contrast is not None else None
    if contrast_index is not None and contrast_index == class_index:
        raise UserError(f"the explained class and the contrast class are the same ({args.contrast!r}); "
                        "a map of 'why A and not A' is empty: choose two different classes")
    return settings_for(args.methods, layer=args.layer, class_index=class_index, contrast_index=contrast_index,
                        faithfulness=faithfulness, sanity=sanity)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_cli(PROG, argv, build_parser(), run)


def run(args: argparse.Namespace) -> int:
    settings = comparison_settings(args, args.faithfulness, args.sanity)
    check_writable_folder(args.plot_dir, "the plot folder")
    paths, failed = collect_inputs(args.images, args.json, PROG)
    if not paths:
        return cli.EXIT_USAGE

    from fashion_mnist_vis.explain.analysis import Analyser
    from fashion_mnist_vis.explain.method_comparison import MethodComparison, comparison_record
    from fashion_mnist_vis.visualize import explanation_report, image_report
    from fashion_mnist_vis.visualize.html_page import BatchEntry

    # auto: Keras, whose autodiff the gradient methods need
    opened = open_with_training_index(args, many_images=True)
    handle = opened.handle
    analyser = Analyser(handle, top_k=3, unfamiliarity=opened.unfamiliarity, **cli.analyser_options(args))
    comparison = MethodComparison(handle, settings)
    model_label = handle.describe()
    batch = len(paths) + failed > 1
    folders = image_report.unique_folder_names(paths) if batch else [None] * len(paths)
    entries, explained = [], 0
    for path, folder_name in zip(paths, folders):
        folder = args.plot_dir / folder_name if folder_name else args.plot_dir
        try:
            analysis = analyser.analyse(path)
            result = comparison.compare(analysis.prepared.model_input, analysis.probabilities)
            write_report(explanation_report, analysis, result, folder, model_label)
        except UserError as error:
            report_failure(str(path), error, args.json, PROG)
            entries.append(BatchEntry(str(path), error=str(error)))
            failed += 1
            continue
        if not explained:  # said once, with the first result
            if opened.note:
                print(opened.note, file=sys.stderr)
            print(f"Model: {model_label}, run by {handle.engine}", file=sys.stderr)
            for method, reason in result.skipped.items():
                print(f"note: {method} left out: {reason}", file=sys.stderr)
        explained += 1
        record = {**image_record(analysis), **comparison_record(result), "page": str(folder / "index.html")}
        print(json.dumps(record) if args.json else format_text(record, analysis.unfamiliarity), flush=True)
        entries.append(BatchEntry(str(path), analysis.prediction, analysis.score, folder_name,
                                  image_report.INPUT_IMAGE))
    if batch and explained:
        index = image_report.write_batch_index(args.plot_dir, entries, model_label)
        print(f"Pages of all images: {index}", file=sys.stderr)
    return cli.batch_exit_status(failed, explained)


def write_report(explanation_report, analysis, result, folder: Path, model_label: str) -> None:
    try:
        explanation_report.write_explanation_report(analysis, result, folder, model_label)
    except OSError as error:
        raise UserError(f"cannot write the plots for {str(analysis.path)!r} into {str(folder)!r}: "
                        f"{error.strerror or error}") from None


def image_record(analysis) -> dict:
    """The image and the model's prediction (and its unfamiliarity, when scored), JSON-ready."""
    from fashion_mnist_vis.classes import CLASS_NAMES

    record = {"path": str(analysis.path), "prediction": analysis.prediction, "class_index": analysis.predicted,
              "score": round(analysis.score, 6),
              "top_k": [{"class": CLASS_NAMES[index], "class_index": index, "score": round(score, 6)}
                        for index, score in analysis.top_k]}
    if analysis.unfamiliarity is not None:
        record["unfamiliarity"] = analysis.unfamiliarity.to_dict()
    return record


def format_text(record: dict, unfamiliarity=None) -> str:
    """The text block of one image: prediction, its ``unfamiliarity`` (when scored: an
    :class:`~fashion_mnist_vis.explain.unfamiliarity.Unfamiliarity`), what is explained, one line per
    method, the page."""
    explained = record["explained"]
    target = f"\u201c{explained['class']}\u201d"
    if explained["contrast"] is not None:
        target += f" and not \u201c{explained['contrast']}\u201d"
    lines = [f"{record['path']}: {record['prediction']} ({100 * record['score']:.1f}%)", f"  explained: {target}"]
    if unfamiliarity is not None:
        lines.insert(1, f"  {unfamiliarity.verdict()}")
    names = [*record["methods"], *record["not_applicable"], *(["random order"] if record.get("random") else [])]
    width = max(map(len, names))
    for name, method in record["methods"].items():
        line = f"  {name:<{width}}  {1000 * method['seconds']:7.0f} ms"
        if method.get("deletion_auc") is not None:
            line += f"  deletion {method['deletion_auc']:.3f}  insertion {method['insertion_auc']:.3f}"
        if method.get("sanity") is not None:
            line += ("  depends on the model" if method["sanity"]["depends_on_model"] else
                     "  FLAGGED: barely changes when the weights are randomised")
        lines.append(line)
    if record.get("random") is not None:
        random = record["random"]
        lines.append(f"  {'random order':<{width}}  {'':10}  deletion {random['deletion_auc']:.3f}  "
                     f"insertion {random['insertion_auc']:.3f}")
    for name, reason in record["not_applicable"].items():
        lines.append(f"  {name:<{width}}  not applicable: {reason}")
    lines.append(f"  page: {record['page']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
