"""What reporting unfamiliarity by default costs: train.py's extra step, and classify's start-up.

Run from the repository root, on a quiet machine::

    python -m benchmarks.unfamiliarity_cost --saved-model model.keras          # the real data
    python -m benchmarks.unfamiliarity_cost --saved-model model.keras --json

On a copy of the model in a temporary folder (the model's own cached index is never touched):

* **train.py's extra step**: building, calibrating and caching the training index of a model just
  saved (:func:`fashion_mnist_vis.explain.unfamiliarity_plan.build_for_trained_model`: loading the
  training and test images, one pass over each with Keras, the class examples, writing the cache);
* **classify's wall time** as a user runs it, ``python fashion_mnist_vis/classify.py IMAGE
  --saved-model COPY --save_plots``, median of ``--repeats`` processes: with the cached index (the
  default, unfamiliarity reported) and with ``--no-unfamiliarity``.

Prints one line per figure (or JSON) and the machine; asserts nothing.
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

REPO = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/unfamiliarity_cost.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Time train.py's unfamiliarity index step and classify's start-up with and without it.")
    parser.add_argument("--saved-model", type=Path, default=Path("model.keras"), help="the model file")
    parser.add_argument("--dataset", choices=("fashion_mnist", "synthetic"), default="fashion_mnist")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder of the four IDX files")
    parser.add_argument("--image", type=Path, default=REPO / "sample_images" / "sneaker.jpg",
                        help="the photo classify is timed on")
    parser.add_argument("--repeats", type=int, default=5, help="classify runs per variant (the median is reported)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    return parser


def measure(args: argparse.Namespace) -> Dict[str, object]:
    """Every figure of the benchmark, in seconds."""
    from fashion_mnist_vis.models.model_io import check_model_file

    check_model_file(args.saved_model)  # one line from run_script, not a traceback mid-way
    from benchmarks.in_process import timed
    from benchmarks.measure import repeated
    from fashion_mnist_vis.data.datasets import DataSettings
    from fashion_mnist_vis.explain.examples import ExampleSettings
    from fashion_mnist_vis.explain.unfamiliarity_plan import build_for_trained_model

    settings = ExampleSettings(1, DataSettings(dataset=args.dataset, data_dir=args.data_dir))
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / args.saved_model.name
        shutil.copyfile(args.saved_model, model)
        line, build_seconds = timed(lambda: build_for_trained_model(model, settings))
        command = [sys.executable, str(REPO / "fashion_mnist_vis" / "classify.py"), str(args.image),
                   "--saved-model", str(model), "--save_plots", "--plot_dir", str(Path(folder) / "plots")]
        log = Path(folder) / "classify.log"
        with_score = repeated(command, args.repeats, log, cwd=Path(folder))
        without = repeated([*command, "--no-unfamiliarity"], args.repeats, log, cwd=Path(folder))
    return {"model": str(args.saved_model), "train_index_step_s": build_seconds, "train_index_line": line,
            "classify_save_plots_with_unfamiliarity_s": with_score["wall_s"],
            "classify_save_plots_without_unfamiliarity_s": without["wall_s"], "repeats": args.repeats}


def format_lines(figures: Dict[str, object]) -> List[str]:
    """The figures as lines for a reader."""
    return [
        f"model {figures['model']}",
        f"train.py's extra step (index + calibration)   {figures['train_index_step_s']:8.1f} s",
        f"  {figures['train_index_line']}",
        f"classify --save_plots, unfamiliarity reported {figures['classify_save_plots_with_unfamiliarity_s']:8.2f} s "
        f"(median of {figures['repeats']})",
        f"classify --save_plots --no-unfamiliarity      {figures['classify_save_plots_without_unfamiliarity_s']:8.2f} s",
    ]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from benchmarks.in_process import print_figures

    return print_figures(measure(args), format_lines, args.json)


if __name__ == "__main__":
    from benchmarks.entry import run_script

    sys.exit(run_script(main, "python -m benchmarks.unfamiliarity_cost"))
