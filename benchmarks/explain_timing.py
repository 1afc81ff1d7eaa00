"""Time per image of every explanation method on a model and test images; print a table.

Run as ``python -m benchmarks.explain_timing --saved-model model.keras``
(``--images N``, default 20: the first N of the real Fashion-MNIST test set,
or of the synthetic one where the real files cannot be loaded without a
download; ``--engine``, default auto: what runs the forward-only methods,
gradients always come from Keras; ``--methods``, default all). Each method
is built once (:func:`~fashion_mnist_vis.explain.methods.build_explainer`)
and called once before timing, so tracing is left out and reported apart
(``build_s``, ``first_call_s``); the figure is the median (and mean) over
the images of the wall time of one call, each image explained for its true
class, with the default :class:`~fashion_mnist_vis.explain.methods.MethodSettings`.
Methods that do not apply are listed with their reason. ``--json FILE``
also writes the figures. TensorFlow uses every core the process may use:
run it on an otherwise idle machine (``python -m benchmarks.run`` runs it
as section (e) on the model it trains, in its own process).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.machine import describe_machine  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.explain_timing", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Time per image of every explanation method on test images; print a table.")
    parser.add_argument("--saved-model", type=Path, required=True, help="a model file trained by this toolkit")
    parser.add_argument("--engine", choices=("auto", "numpy", "keras"), default="auto",
                        help="what runs the forward-only methods (gradients always come from Keras)")
    parser.add_argument("--images", type=int, default=20, help="test images to explain (the first N)")
    parser.add_argument("--methods", default="all", help="all, or a comma-separated list of methods")
    parser.add_argument("--dataset", choices=("auto", "fashion_mnist", "synthetic"), default="auto",
                        help="auto: the real test images when they load without a download, else synthetic")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    return parser


def load_test_images(dataset: str, count: int):
    """The first ``count`` test images as float32 model inputs (count, 28, 28, 1) in [0, 1], their labels
    int (count,), and where they came from (``dataset`` auto: the real files, else synthetic)."""
    from fashion_mnist_vis.data.datasets import DataSettings, load_test_split
    from fashion_mnist_vis.data.pipeline import to_model_input
    from fashion_mnist_vis.errors import UserError

    names = ("fashion_mnist", "synthetic") if dataset == "auto" else (dataset,)
    for name in names:
        try:
            split = load_test_split(DataSettings(dataset=name), seed=42)
        except UserError:
            if name == names[-1]:
                raise
            continue
        return to_model_input(split.x_test[:count]), split.y_test[:count].astype(int), split.source
    raise AssertionError("unreachable")


def time_methods(handle, images, labels, method_list: str = "all") -> Dict[str, Dict[str, object]]:
    """Per method: its build time, its first call (tracing) and the seconds per image after it, each
    image (float32 (H, W, C)) explained for its label. A method that does not apply gets ``skipped``,
    its reason."""
    from fashion_mnist_vis.errors import UserError
    from fashion_mnist_vis.explain.method_comparison import parse_method_names
    from fashion_mnist_vis.explain.methods import applicable_methods, build_explainer

    reasons = applicable_methods(handle)
    figures: Dict[str, Dict[str, object]] = {}
    for method in parse_method_names(method_list):
        if reasons.get(method) is not None:
            figures[method] = {"skipped": reasons[method]}
            continue
        start = time.perf_counter()
        try:
            explainer = build_explainer(handle, method)
        except UserError as error:
            figures[method] = {"skipped": str(error)}
            continue
        built = time.perf_counter() - start
        start = time.perf_counter()
        explainer(images[0], int(labels[0]))
        first = time.perf_counter() - start
        seconds: List[float] = []
        for image, class_index in zip(images, labels):
            start = time.perf_counter()
            explainer(image, int(class_index))
            seconds.append(time.perf_counter() - start)
        figures[method] = {"title": explainer.title, "build_s": round(built, 4), "first_call_s": round(first, 4),
                           "images": len(seconds), "median_s": round(statistics.median(seconds), 5),
                           "mean_s": round(statistics.fmean(seconds), 5)}
    return figures


def format_figures(figures: Dict[str, Dict[str, object]]) -> str:
    """A Markdown table: method, ms per image (median and mean), first call and build time."""
    lines = ["| method | ms per image (median) | mean | first call (tracing), ms | build, ms |",
             "|---|---:|---:|---:|---:|"]
    for method, entry in figures.items():
        if "skipped" in entry:
            lines.append(f"| {method} | not applicable: {entry['skipped']} | | | |")
            continue
        lines.append(f"| {method} | {1000 * entry['median_s']:,.1f} | {1000 * entry['mean_s']:,.1f} | "
                     f"{1000 * entry['first_call_s']:,.0f} | {1000 * entry['build_s']:,.0f} |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from fashion_mnist_vis.models.model_handle import open_model

    handle = open_model(args.saved_model, args.engine)
    images, labels, source = load_test_images(args.dataset, args.images)
    figures = time_methods(handle, images, labels, args.methods)
    machine = describe_machine()
    print(f"{machine['cpu']}, {machine['cores_usable']} of {machine['cores']} cores usable; model "
          f"{args.saved_model}, forward passes run by {handle.engine}; {len(images)} test images ({source})\n")
    print(format_figures(figures))
    if args.json is not None:
        from fashion_mnist_vis.atomic import write_json_atomic

        write_json_atomic(args.json, {"machine": machine, "model": str(args.saved_model), "engine": handle.engine,
                                      "images": len(images), "source": source, "methods": figures})
    return 0


if __name__ == "__main__":
    from benchmarks.entry import run_script

    sys.exit(run_script(main, "python -m benchmarks.explain_timing"))
