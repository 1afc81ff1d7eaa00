"""Benchmark this toolkit against the original demo's recipe, side by side, in one run.

Run as ``python -m benchmarks.run`` from the repository root (``--quick``
for a small smoke configuration). Every measurement is a separate process,
so TensorFlow state never leaks from one into the next; wall time covers the
whole process and peak memory is its maximum resident set (see measure.py).

(a) training of the default model (gap_cnn): ours (``fashion_mnist_vis.train``,
    at each of ``--precisions``; a precision that resolves to a policy
    already run is not run twice) against the original recipe
    (benchmarks/original_recipe.py): images/s over all epochs and over the
    epochs after the first (which includes tracing), wall time and accuracy.
    On the real Fashion-MNIST (``--dataset auto`` uses it when it is
    installed or cached) ours runs the default command (its recipe and epoch
    budget) and the original its own recipe (6 epochs on all 60,000 training
    images, validating on the test set); ours also runs with ``--epochs K``
    for each of ``--short-epochs``, and the time to the original's test
    accuracy is the shortest of our runs that reaches it. On synthetic data
    both run ``--epochs`` (default 2) on the same split;
(b) classify of one sample photo: ours with and without ``--save_plots``
    (the default engine, NumPy for this model) and with ``--save_plots
    --engine keras``, against the original's classify with plots (median of
    ``--repeats``);
(c) the export of the test set's embeddings (10,000 by default): ours by
    default (no t-SNE) and with ``--tsne`` against the original's TSV
    export: time, peak memory, bytes written;
(d) ``--help`` of every script in fashion_mnist_vis/ (median of
    ``--help-repeats``), and of the original recipe (which imports Keras
    first, as the original scripts did);
(e) the time per image of each explanation method (``explain.py --methods``)
    on ``--explain-images`` test images with our float32 model, in one process
    (benchmarks/explain_timing.py); the original had none.

It prints a table (ours, original, ratio, target, met?) and writes it with
every measurement and a description of the machine to ``--output`` (JSON).
Logs of every command go to ``<output folder>/logs/``. Timings mean little
on a machine that runs other jobs: run it on a quiet one.
"""

import argparse
import csv
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.machine import describe_machine  # noqa: E402
from benchmarks.measure import REPO, folder_bytes, repeated, run_measured  # noqa: E402
from benchmarks.summary import build_rows, format_table  # noqa: E402

PACKAGE = REPO / "fashion_mnist_vis"
SAMPLE_IMAGE = REPO / "sample_images" / "sneaker.jpg"
QUICK = {"train_images": 600, "test_images": 300, "epochs": 1, "repeats": 1, "help_repeats": 1, "short_epochs": [],
         "explain_images": 2}
ORIGINAL_REAL_EPOCHS = 6  # the original demo's train.py on the real data
SYNTHETIC_EPOCHS = 2
SECTIONS = ("training", "classify", "export", "help", "explain")
NEEDS_TRAINING = ("classify", "export", "explain")


def find_scripts(package: Path = PACKAGE) -> List[str]:
    """Module names (sorted) of the package's scripts: files with an ``if __name__ == "__main__":`` block."""
    return sorted(path.stem for path in Path(package).glob("*.py")
                  if 'if __name__ == "__main__":' in path.read_text(errors="replace"))


def precision_list(text: str) -> List[str]:
    """argparse type: comma-separated precisions, duplicates dropped, order kept."""
    from fashion_mnist_vis.models.precision import PRECISIONS

    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in PRECISIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown precision(s) {unknown}; choose from {', '.join(PRECISIONS)}")
    return names


def section_list(text: str) -> List[str]:
    """argparse type: comma-separated sections of SECTIONS, in the suite's order."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(names - set(SECTIONS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    return [name for name in SECTIONS if name in names]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Measure training, classify, the embedding export and --help start-up, ours against "
                    "the original demo's recipe; print a table and write JSON.")
    parser.add_argument("--dataset", choices=("auto", "fashion_mnist", "synthetic"), default="auto",
                        help="auto: the real Fashion-MNIST when it can be loaded without a download "
                             "(synthetic with --quick), else synthetic")
    parser.add_argument("--train-images", type=int, default=60000,
                        help="training images before the 10%% validation hold-out (a stratified subset of the real "
                             "ones, or generated)")
    parser.add_argument("--test-images", type=int, default=10000, help="test images (= embeddings exported)")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"training epochs: on synthetic data the same for ours and the original (default "
                             f"{SYNTHETIC_EPOCHS}); on the real data ours (default: train.py's own)")
    parser.add_argument("--short-epochs", type=epoch_list, default=[3],
                        help="real data: also train ours with each of these --epochs, for the time to the "
                             "original's accuracy (comma-separated; empty: none)")
    parser.add_argument("--precisions", type=precision_list, default=["auto", "float32"],
                        help="our training precisions, comma-separated (e.g. auto,float32,mixed_bfloat16)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each classify command (median reported)")
    parser.add_argument("--help-repeats", type=int, default=5, help="runs of each --help (median reported)")
    parser.add_argument("--explain-images", type=int, default=20, help="test images each explanation method is timed on")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sections", type=section_list, default=list(SECTIONS),
                        help="which sections to run, comma-separated (classify, export and explain use the "
                             "models that training makes, so they need it)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke configuration: " + ", ".join(f"{key} {value}" for key, value in QUICK.items()))
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "benchmark.json",
                        help="the JSON results; logs go beside it")
    parser.add_argument("--keep", action="store_true", help="keep the models, runs and exports (in a work-* folder)")
    return parser


def epoch_list(text: str) -> List[int]:
    """argparse type: comma-separated positive epoch counts ('' for none)."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of epoch counts") from None
    if any(count < 1 for count in counts):
        raise argparse.ArgumentTypeError("epoch counts must be at least 1")
    return counts


def real_data_available() -> bool:
    """Whether the real Fashion-MNIST loads without a download (a system copy, the cache)."""
    from fashion_mnist_vis.errors import UserError
    from fashion_mnist_vis.data.fashion_mnist import load_fashion_mnist

    try:
        load_fashion_mnist(mirrors=[], progress=None)
    except UserError:
        return False
    return True


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if set(NEEDS_TRAINING) & set(args.sections) and "training" not in args.sections:
        parser.error("--sections: classify, export and explain need training (they use its models)")
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    if args.dataset == "auto":
        args.dataset = "fashion_mnist" if not args.quick and real_data_available() else "synthetic"
    if args.epochs is None and args.dataset == "synthetic":
        args.epochs = SYNTHETIC_EPOCHS
    output: Path = args.output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    logs = output.parent / "logs"
    work = Path(tempfile.mkdtemp(prefix="work-", dir=output.parent))
    settings = {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()}
    results: Dict[str, object] = {"machine": describe_machine(), "settings": settings}
    try:
        if "training" in args.sections:
            results["training"] = bench_training(args, work, logs)
            ours_model = Path(results["training"]["ours"]["float32"]["model"])
            original_model = Path(results["training"]["original"]["model"])
        if "classify" in args.sections:
            results["classify"] = bench_classify(args, ours_model, original_model, work, logs)
        if "export" in args.sections:
            results["export"] = bench_export(args, ours_model, original_model, work, logs)
        if "help" in args.sections:
            results["help"] = bench_help(args, logs)
        if "explain" in args.sections:
            results["explain"] = bench_explain(args, ours_model, work, logs)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    rows = build_rows(results)
    results["summary"] = [row.as_dict() for row in rows]
    from fashion_mnist_vis.atomic import write_json_atomic

    write_json_atomic(output, results)
    machine = results["machine"]
    print(f"\n{machine['cpu']}, {machine['cores_usable']} of {machine['cores']} cores usable, "
          f"{machine['memory_gib']} GiB; "
          f"TensorFlow {machine['versions']['tensorflow']}, Keras {machine['versions']['keras']}\n")
    print(format_table(rows))
    print(f"\nResults in {output}; logs in {logs}")
    return 0


def data_flags(args) -> List[object]:
    """The data flags of our commands: the real data (subsets only when asked for) or synthetic."""
    if args.dataset == "synthetic":
        return ["--dataset", "synthetic", "--train-size", args.train_images, "--test-size", args.test_images]
    return [*(["--train-size", args.train_images] if args.train_images < 60000 else []),
            *(["--test-size", args.test_images] if args.test_images < 10000 else [])]


def bench_training(args, work: Path, logs: Path) -> Dict[str, object]:
    """(a): ours at each precision, then the original recipe; each in its own process."""
    ours: Dict[str, Dict[str, object]] = {}
    by_policy: Dict[str, str] = {}
    # float32 last, so that an auto that resolves to float32 is run once, under "auto"'s name too.
    for precision in sorted(args.precisions, key=lambda name: name == "float32"):
        if precision in by_policy:  # a policy auto already resolved to
            ours[precision] = ours[by_policy[precision]]
            continue
        print(f"training ours, --precision {precision} ...", flush=True)
        ours[precision] = train_ours(args, precision, work / f"ours-{precision}", logs / "train_ours.log")
        by_policy.setdefault(ours[precision]["precision"], precision)
    if "float32" not in ours:  # classify and export use the float32 model
        ours["float32"] = ours[by_policy["float32"]] if "float32" in by_policy else \
            train_ours(args, "float32", work / "ours-float32", logs / "train_ours.log")
    print("training the original recipe ...", flush=True)
    folder = work / "original"
    folder.mkdir(parents=True)
    epochs = ORIGINAL_REAL_EPOCHS if args.dataset == "fashion_mnist" else args.epochs
    measured = run_measured(
        [sys.executable, "-m", "benchmarks.original_recipe", "train", "--dataset", args.dataset,
         "--train-images", args.train_images, "--test-images", args.test_images, "--seed", args.seed,
         "--epochs", epochs, "--output", folder / "model.h5", "--logdir", folder / "tensorboard",
         "--json", folder / "result.json"],
        logs / "train_original.log")
    result = json.loads((folder / "result.json").read_text())
    original = {
        **_speeds(result["train_images"], result["seconds_per_epoch_each"]),
        "epochs": len(result["seconds_per_epoch_each"]),
        "val_accuracy": result["val_accuracy"][-1],
        "val_accuracy_each": result["val_accuracy"],
        "test_accuracy": result["test_accuracy"],
        "parameters": result["parameters"],
        "recipe": result["recipe"],
        "process": measured.as_dict(),
        "model": str(folder / "model.h5"),
    }
    results = {"dataset": args.dataset, "ours": ours, "original": original}
    if args.dataset == "fashion_mnist":
        results.update(_time_to_original_accuracy(args, ours, original, work, logs))
    return results


def _time_to_original_accuracy(args, ours: Dict[str, Dict[str, object]], original: Dict[str, object], work: Path,
                               logs: Path) -> Dict[str, object]:
    """Ours with ``--epochs K`` for each of ``--short-epochs``; the fastest run (of these and the default
    runs) whose test accuracy reaches the original's, against the original's whole-process wall time."""
    short = {}
    for epochs in args.short_epochs:
        print(f"training ours, --epochs {epochs} ...", flush=True)
        short[str(epochs)] = train_ours(args, "auto", work / f"ours-{epochs}-epochs", logs / "train_ours.log",
                                        epochs=epochs)
    runs = [*short.values(), *ours.values()]
    reached = [run["process"]["wall_s"] for run in runs if run["test_accuracy"] >= original["test_accuracy"]]
    return {"short": short, "time_to_original_accuracy": {
        "original_test_accuracy": original["test_accuracy"], "original_wall_s": original["process"]["wall_s"],
        "ours_wall_s": min(reached) if reached else None}}


def train_ours(args, precision: str, folder: Path, log: Path, epochs: Optional[int] = None) -> Dict[str, object]:
    """Train gap_cnn with train.py at ``precision``; speeds and accuracies from its run folder.

    On synthetic data for ``args.epochs`` without early stopping (to compare
    with the original epoch for epoch); on the real data the default command,
    with ``--epochs`` only when ``epochs`` or ``args.epochs`` says so.
    """
    if args.dataset == "synthetic":
        budget = ["--epochs", args.epochs, "--patience", args.epochs + 1]
    else:
        epochs = epochs or args.epochs
        budget = ["--epochs", epochs] if epochs else []
    measured = run_measured(
        [sys.executable, "-m", "fashion_mnist_vis.train", *data_flags(args), "--seed", args.seed, *budget,
         "--precision", precision, "--output", folder / "model.keras", "--logdir", folder / "runs"], log)
    run_dir = next((folder / "runs").iterdir())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    with open(run_dir / "history.csv") as handle:
        val_accuracy = [float(row["val_accuracy"]) for row in csv.DictReader(handle)]
    return {
        **_speeds(metrics["dataset"]["train_images"], metrics["seconds_per_epoch_each"]),
        "precision": metrics.get("precision"),
        "epochs": metrics["epochs_run"],
        "val_accuracy": val_accuracy[-1],
        "val_accuracy_each": val_accuracy,
        "test_accuracy": metrics["test_accuracy"],
        "test_accuracy_alone": metrics.get("test_accuracy_alone", metrics["test_accuracy"]),
        "mirror_average": metrics.get("mirror_average", False),
        "parameters": metrics["parameters"],
        "process": measured.as_dict(),
        "model": str(folder / "model.keras"),
    }


def _speeds(train_images: int, seconds: Sequence[float]) -> Dict[str, object]:
    """Images/s over all epochs and over the epochs after the first (None with one epoch)."""
    later = seconds[1:]
    return {
        "train_images": train_images,
        "seconds_per_epoch_each": list(seconds),
        "images_per_second": round(train_images * len(seconds) / sum(seconds), 1),
        "images_per_second_after_first": round(train_images * len(later) / sum(later), 1) if later else None,
    }


def bench_classify(args, ours_model: Path, original_model: Path, work: Path, logs: Path) -> Dict[str, object]:
    """(b): whole-process classify of one sample photo, with and without plots."""
    print("classify ...", flush=True)
    log = logs / "classify.log"
    ours = [sys.executable, "-m", "fashion_mnist_vis.classify", SAMPLE_IMAGE, "--saved_model", ours_model]
    return {
        "image": str(SAMPLE_IMAGE.relative_to(REPO)),
        "ours_no_plots": repeated(ours, args.repeats, log),
        "ours_save_plots": repeated(ours + ["--save_plots", "--plot_dir", work / "plots-ours"], args.repeats, log),
        "ours_save_plots_keras": repeated(ours + ["--save_plots", "--plot_dir", work / "plots-keras", "--engine",
                                                  "keras"], args.repeats, log),
        "original_save_plots": repeated(
            [sys.executable, "-m", "benchmarks.original_recipe", "classify", SAMPLE_IMAGE, "--model", original_model,
             "--plot-dir", work / "plots-original"], args.repeats, log),
        "plots_written": {"ours": _file_count(work / "plots-ours"), "original": _file_count(work / "plots-original")},
    }


def bench_export(args, ours_model: Path, original_model: Path, work: Path, logs: Path) -> Dict[str, object]:
    """(c): the test set's embeddings, ours (default, and with --tsne) against the original's TSV."""
    print("export ...", flush=True)
    log = logs / "export.log"
    results: Dict[str, object] = {}
    for label, extra in (("ours_default", []), ("ours_with_tsne", ["--tsne"])):
        folder = work / f"export-{label}"
        measured = run_measured(
            [sys.executable, "-m", "fashion_mnist_vis.tensorboard_visualise", "--saved_model", ours_model,
             "--output", folder, *data_flags(args), "--seed", args.seed, *extra], log)
        results[label] = {**measured.as_dict(), "images": args.test_images, "bytes": folder_bytes(folder),
                          "files": _sizes(folder)}
    folder = work / "export-original"
    measured = run_measured(
        [sys.executable, "-m", "benchmarks.original_recipe", "export", "--model", original_model, "--output", folder,
         "--dataset", args.dataset, "--train-images", args.train_images, "--test-images", args.test_images,
         "--seed", args.seed], log)
    results["original"] = {**measured.as_dict(), "images": args.test_images, "bytes": folder_bytes(folder),
                           "files": _sizes(folder)}
    return results


def bench_help(args, logs: Path) -> Dict[str, object]:
    """(d): ``python -m fashion_mnist_vis.<script> --help`` for every script, and the original recipe's."""
    print("--help ...", flush=True)
    log = logs / "help.log"
    ours = {name: repeated([sys.executable, "-m", f"fashion_mnist_vis.{name}", "--help"], args.help_repeats, log)
            for name in find_scripts()}
    original = repeated([sys.executable, "-m", "benchmarks.original_recipe", "--help"], args.help_repeats, log)
    return {"ours": ours, "original": original}


def bench_explain(args, ours_model: Path, work: Path, logs: Path) -> Dict[str, object]:
    """(e): each explanation method's seconds per image (benchmarks/explain_timing.py, one process)."""
    print("explanation methods ...", flush=True)
    figures = work / "explain_timing.json"
    dataset = "synthetic" if args.dataset == "synthetic" else "fashion_mnist"
    measured = run_measured([sys.executable, "-m", "benchmarks.explain_timing", "--saved-model", ours_model,
                             "--engine", "keras", "--images", args.explain_images, "--dataset", dataset, "--json", figures],
                            logs / "explain.log")
    return {**json.loads(figures.read_text()), "process": measured.as_dict()}


def _file_count(folder: Path) -> int:
    return sum(1 for path in Path(folder).rglob("*.png"))


def _sizes(folder: Path) -> Dict[str, int]:
    return {path.name: path.stat().st_size for path in sorted(Path(folder).rglob("*")) if path.is_file()}


if __name__ == "__main__":
    from benchmarks.entry import run_script

    sys.exit(run_script(main, "python -m benchmarks.run"))
