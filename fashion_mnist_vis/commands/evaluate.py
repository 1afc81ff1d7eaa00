"""Evaluate any saved model on the test set or on a folder of labelled photos, with calibration.

Run as ``python -m fashion_mnist_vis.evaluate`` or ``python fashion_mnist_vis/evaluate.py``.

The model may be ours (``.keras`` or ``.h5``) or a legacy Keras 2 ``.h5``
(see :func:`model_io.load_model`). It is scored on the Fashion-MNIST test set
(``--data-dir`` or the cache), the synthetic test set (``--dataset
synthetic``, the same images training used for the same ``--seed`` and
``--test-size``), or ``--images DIR`` laid out as ``DIR/<class>/*`` and
prepared as classify does (:func:`preprocess.preprocess`). The report is
training's (metrics.json, confusion matrix, per-class scores, most
confident mistakes; see training/report.py) without the training curves, with a
reliability diagram and the expected calibration error.

``--explanations N`` also ranks the explanation methods by faithfulness on N of
the images (deletion and insertion curves, see explain/ranking.py) and
``--sanity N`` runs the model-randomisation test of every method on N images
(explain/sanity.py); both write tables and plots (visualize/trust_report.py).
"""

import sys
import time

import argparse
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from fashion_mnist_vis.atomic import check_writable_folder
from fashion_mnist_vis.commands import cli
from fashion_mnist_vis.explain.calibration import DEFAULT_BINS
from fashion_mnist_vis.commands.cli import add_data_arguments, data_settings_from_args, number_in_range, positive_int
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.data.pipeline import EVAL_BATCH_SIZE
from fashion_mnist_vis.data.preprocess import INVERT_CHOICES
from fashion_mnist_vis.explain.faithfulness import BASELINES

PROG = "evaluate.py"


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser(
        PROG,
        "Evaluate a saved model (ours or a legacy Keras 2 .h5) on the test set or on a folder of labelled "
        "images (DIR/<class>/*) and write the training report without curves, plus a reliability diagram "
        "and the expected calibration error.",
    )
    cli.add_model_arguments(parser, "the model file to evaluate (.keras or .h5)", many_images=True)
    images = parser.add_argument_group("a folder of images (instead of the test set)")
    images.add_argument("--images", type=Path, default=None, metavar="DIR",
                        help="evaluate on DIR/<class>/* instead of the test set; class folders are named after "
                        "a class in any case or punctuation (tshirt, t_shirt_top, Ankle boot, sneakers) or by "
                        "the label 0-9")
    images.add_argument("--invert", choices=INVERT_CHOICES, default="auto",
                        help="invert grey levels: auto inverts images with a light border (a product on white)")
    images.add_argument("--no-crop", "--no_crop", action="store_true",
                        help="do not crop images to the object before padding and resizing")
    cli.add_flatten_argument(images)
    cli.add_mirror_average_argument(parser, "each image (a test image or a photo)")
    add_data_arguments(parser, training=False)
    parser.add_argument("--seed", type=int, default=42,
                        help="the seed training used: it picks the synthetic test set and the --test-size subset")
    parser.add_argument("--batch-size", "--batch_size", type=positive_int, default=EVAL_BATCH_SIZE,
                        help="images per prediction batch")
    parser.add_argument("--bins", type=number_in_range(int, low=1, high=100), default=DEFAULT_BINS,
                        help="equal-width confidence bins for the reliability diagram and the ECE")
    parser.add_argument("--output-dir", "--output_dir", type=Path, default=Path("evaluation"),
                        help="folder for metrics.json and the plots")
    trust = parser.add_argument_group("can the explanations be trusted? (see the README's Explanations section)")
    trust.add_argument("--explanations", type=number_in_range(int, low=0), default=0, metavar="N",
                       help="rank every explanation method by its deletion and insertion curves on N images "
                       "(a class-balanced sample drawn with --seed), against a random pixel order; 0: off")
    trust.add_argument("--sanity", type=number_in_range(int, low=0), default=0, metavar="N",
                       help="run the model-randomisation test of every explanation method on N images "
                       "(needs the keras engine); 0: off")
    trust.add_argument("--methods", type=method_list, default=None, metavar="all|M1,M2,...",
                       help="the explanation methods for --explanations and --sanity (default: all that apply)")
    trust.add_argument("--explanation-baseline", choices=BASELINES, default="black",
                       help="what a removed pixel becomes in the deletion and insertion curves: black "
                       "(Fashion-MNIST's background) or the image blurred by a Gaussian of 4 pixels")
    return parser


def method_list(text: str):
    """``all`` -> None (every method that applies); ``a,b`` -> ["a", "b"]."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give method names separated by commas, or all")
    return None if names == ["all"] else names


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_cli(PROG, argv, build_parser(), run)


def run(args: argparse.Namespace) -> int:
    if args.output_dir.exists() and not args.output_dir.is_dir():
        raise UserError(f"--output-dir {str(args.output_dir)!r} is a file, not a folder")
    check_writable_folder(args.output_dir, "--output-dir")
    if args.images is not None:
        if args.data_dir is not None or args.test_size is not None or args.dataset != "fashion_mnist":
            raise UserError("--images replaces the test set; leave out --dataset, --data-dir and --test-size")
        from fashion_mnist_vis.data.image_folders import find_class_folders

        find_class_folders(args.images)  # fail on a bad folder before loading TensorFlow
    from fashion_mnist_vis.training.report import mirror_note, write_report

    handle = cli.open_model(args)
    if args.explanations or args.sanity:
        check_trust(args, handle)
    model = handle.model
    inputs, labels, described = load_images(args, model.input_shape)
    report = write_report(
        model, args.output_dir, inputs, labels, extra={
            "model_file": str(args.saved_model),
            "model": model.name,
            "engine": handle.engine,
            "evaluated_on": described,
            "seed": args.seed,
        },
        batch_size=args.batch_size, bins=args.bins, diagram=handle.diagram_model,
        mirror_average=not args.no_mirror_average,
    )
    for note in report["notes"] + described.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    print(
        f"Accuracy {report['test_accuracy']:.4f}{mirror_note(report)}, loss {report['test_loss']:.4f}, expected calibration error "
        f"{report['expected_calibration_error']:.4f} ({args.bins} bins) on {report['test_images']} images "
        f"({described['source']})\n"
        f"Model: {args.saved_model} ({model.name}, {report['parameters']:,} parameters), run by {handle.engine}\n"
        f"Report in {args.output_dir}: {', '.join(report['files'])}",
        flush=True,
    )
    if args.explanations or args.sanity:
        trust_checks(args, handle, inputs, labels)
    return cli.EXIT_OK


def check_trust(args: argparse.Namespace, handle) -> None:
    """Fail before any work on a --sanity the engine cannot run or a --methods name that does not exist."""
    from fashion_mnist_vis.explain.ranking import chosen_methods

    if args.sanity and handle.engine != "Keras":
        raise UserError("--sanity re-initialises the model's layers, which needs --engine keras (or auto)")
    chosen_methods(handle, args.methods)


def trust_checks(args: argparse.Namespace, handle, inputs: np.ndarray, labels: np.ndarray) -> None:
    """--explanations and --sanity: score the explanation methods on a class-balanced sample of the images."""
    from fashion_mnist_vis.data.pipeline import as_model_input
    from fashion_mnist_vis.explain.faithfulness import FaithfulnessSettings
    from fashion_mnist_vis.explain.ranking import cascade_methods, rank_methods, ranking_table
    from fashion_mnist_vis.explain.sanity import sanity_table
    from fashion_mnist_vis.training.callbacks import format_duration
    from fashion_mnist_vis.visualize.trust_report import write_ranking, write_sanity

    source = "test images" if args.images is None else f"images from {args.images}"
    if args.explanations:
        sample = _sample(inputs, labels, args.explanations, args.seed)
        print(f"Ranking the explanation methods on {len(sample)} {source}:", flush=True)
        settings = FaithfulnessSettings(baseline=args.explanation_baseline, seed=args.seed,
                                        batch_size=max(args.batch_size, 64))
        started = time.perf_counter()
        ranking = rank_methods(handle, as_model_input(sample), args.methods, settings, progress=_indented)
        files = write_ranking(ranking, args.output_dir, source)
        took = format_duration(time.perf_counter() - started)
        print(ranking_table(ranking) + f"Written to {args.output_dir} (took {took}): {', '.join(files)}", flush=True)
    if args.sanity:
        sample = _sample(inputs, labels, args.sanity, args.seed)
        print(f"Model-randomisation test on {len(sample)} {source}:", flush=True)
        started = time.perf_counter()
        results = cascade_methods(handle, as_model_input(sample), args.methods, progress=_indented)
        files = write_sanity(results, args.output_dir, source)
        took = format_duration(time.perf_counter() - started)
        print(sanity_table(results) + f"Written to {args.output_dir} (took {took}): {', '.join(files)}", flush=True)


def _sample(inputs: np.ndarray, labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` of the images, drawn with ``seed``: the same share of every class when each class
    can give one (all of them when ``count`` is at least their number)."""
    from fashion_mnist_vis.data.datasets import stratified_subset

    if count >= len(labels):
        return inputs
    if count >= len(np.unique(labels)):
        return stratified_subset(inputs, labels, count, seed)[0]
    return inputs[np.sort(np.random.default_rng(seed).permutation(len(labels))[:count])]


def _indented(line: str) -> None:
    print(f"  {line}", flush=True)


def load_images(args: argparse.Namespace, input_shape):
    """The images to score, their labels (N,) in 0..9 and a description for metrics.json.

    Images are uint8 (N, 28, 28) from a dataset's test split when the model
    takes (28, 28, 1), otherwise float32 model inputs (N, height, width,
    channels) in [0, 1] prepared by :func:`preprocess.preprocess`.
    """
    from fashion_mnist_vis.data.preprocess import check_input_shape

    shape = check_input_shape(input_shape)
    preprocessing = {"invert": args.invert, "crop": not args.no_crop, "method": "standard",
                     "flatten": not args.no_flatten}
    if args.images is not None:
        from fashion_mnist_vis.data.image_folders import class_counts, load_labelled_folder

        folder = load_labelled_folder(args.images, shape, **preprocessing_options(preprocessing))
        return folder.inputs, folder.labels, {
            "source": f"images in {args.images}",
            "class_folders": folder.class_folders,
            "images_per_class": dict(class_counts(folder.labels)),
            "preprocessing": {**preprocessing, "mirror_average": not args.no_mirror_average},
            "notes": folder.notes,
        }
    from fashion_mnist_vis.data.datasets import describe_counts, load_test_split

    splits = load_test_split(data_settings_from_args(args), args.seed)
    described = {"source": f"the test set: {splits.source}", "test_images": describe_counts(splits.y_test),
                 "checksums": splits.checksums}
    if shape == (28, 28, 1):
        return splits.x_test, splits.y_test, described
    return _preprocess_arrays(splits.x_test, shape, args), splits.y_test, {**described, "preprocessing": preprocessing}


def preprocessing_options(preprocessing: dict) -> dict:
    """The keyword arguments of :func:`~fashion_mnist_vis.data.image_folders.load_labelled_folder` in
    ``preprocessing`` (metrics.json's record; the method is always standard)."""
    return {key: value for key, value in preprocessing.items() if key != "method"}


def _preprocess_arrays(images: np.ndarray, shape, args) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 model inputs of ``shape``, via preprocess (for models of another input size)."""
    from PIL import Image

    from fashion_mnist_vis.data.preprocess import preprocess

    return np.stack([
        preprocess(Image.fromarray(image), shape, invert=args.invert, crop=not args.no_crop,
                   flatten=not args.no_flatten).model_input
        for image in images
    ])


if __name__ == "__main__":
    sys.exit(main())
