"""The benchmark's summary: rows of ours against the original, with ratios and targets, as a table.

Pure functions of the results dictionary that :mod:`benchmarks.run` builds,
so they can be tested without running anything.
"""

from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence

# The targets, measured on a 2-core machine.
TRAINING_SPEEDUP = 3.0
CLASSIFY_PLOTS_SPEEDUP = 8.0
EXPORT_SPEEDUP = 3.0
EXPORT_SIZE_RATIO = 4.0
HELP_SECONDS = 1.0
REAL_TEST_ACCURACY = 0.94  # the default recipe on the real Fashion-MNIST
TIME_TO_ORIGINAL_ACCURACY_SPEEDUP = 3.0


@dataclass(frozen=True)
class Row:
    """One line of the table.

    ``ratio`` says how many times better ours is than the original (above 1
    is better, whatever the unit); ``met`` is None where there is no target.
    """

    what: str
    unit: str
    ours: Optional[float]
    original: Optional[float]
    ratio: Optional[float]
    target: str
    met: Optional[bool]

    def as_dict(self) -> Dict[str, object]:
        return asdict(self)


def comparison(what: str, unit: str, ours: Optional[float], original: Optional[float],
               higher_is_better: bool, target_ratio: Optional[float] = None) -> Row:
    """A row comparing ``ours`` with ``original``; ``target_ratio`` is the improvement the issue asks for."""
    ratio = None
    if ours and original:
        ratio = ours / original if higher_is_better else original / ours
    target = f">= {target_ratio:g}x" if target_ratio else ""
    met = (ratio >= target_ratio) if (target_ratio and ratio is not None) else None
    return Row(what, unit, ours, original, ratio, target, met)


def not_worse(what: str, ours: Optional[float], reference: Optional[float], reference_name: str) -> Row:
    """A row that is met when ``ours`` (an accuracy) is at least ``reference``."""
    met = None if ours is None or reference is None else ours >= reference
    ratio = ours / reference if ours is not None and reference else None
    return Row(what, "accuracy", ours, reference, ratio, f">= {reference_name}", met)


def build_rows(results: Dict[str, object]) -> List[Row]:
    """The summary rows of a results dictionary (sections missing from it are left out)."""
    rows: List[Row] = []
    training = results.get("training") or {}
    original = training.get("original") or {}
    ours_runs = training.get("ours") or {}
    float32 = ours_runs.get("float32") or {}
    groups: Dict[str, List[str]] = {}  # one training run may answer several labels (auto = float32)
    for label, run in ours_runs.items():
        groups.setdefault(run.get("model"), []).append(label)
    for labels in groups.values():
        run = ours_runs[labels[0]]
        name = f"training {'/'.join(labels)} ({run.get('precision')})"
        rows.append(comparison(f"{name}, epochs after the first", "images/s",
                               run.get("images_per_second_after_first"), original.get("images_per_second_after_first"),
                               True, TRAINING_SPEEDUP))
        rows.append(comparison(f"{name}, all epochs", "images/s", run.get("images_per_second"),
                               original.get("images_per_second"), True, TRAINING_SPEEDUP))
        if training.get("dataset") == "fashion_mnist":
            rows.extend(_real_data_rows(name, run, original))
        else:
            rows.append(not_worse(f"{name}, validation accuracy after {run.get('epochs')} epoch{'' if run.get('epochs') == 1 else 's'}",
                                  run.get("val_accuracy"), original.get("val_accuracy"), "original"))
        if float32 and run.get("model") != float32.get("model"):
            rows.append(not_worse(f"{name}, validation accuracy against float32",
                                  run.get("val_accuracy"), float32.get("val_accuracy"), "float32"))
    reach = training.get("time_to_original_accuracy")
    if reach:
        rows.append(comparison(f"training, time to the original's test accuracy ({reach['original_test_accuracy']:.4f})",
                               "s", reach.get("ours_wall_s"), reach.get("original_wall_s"), False,
                               TIME_TO_ORIGINAL_ACCURACY_SPEEDUP))
    for epochs, run in (training.get("short") or {}).items():
        rows.append(not_worse(f"training --epochs {epochs} ({run.get('precision')}), test accuracy",
                              run.get("test_accuracy"), original.get("test_accuracy"), "original"))
    classify = results.get("classify") or {}
    if classify:
        plots, original_plots = classify.get("ours_save_plots", {}), classify.get("original_save_plots", {})
        rows.append(comparison("classify --save_plots, whole process", "s", plots.get("wall_s"),
                               original_plots.get("wall_s"), False, CLASSIFY_PLOTS_SPEEDUP))
        rows.append(comparison("classify --save_plots, peak memory", "MiB", plots.get("peak_rss_mb"),
                               original_plots.get("peak_rss_mb"), False))
        rows.append(comparison("classify without plots, whole process", "s",
                               classify.get("ours_no_plots", {}).get("wall_s"), None, False))
        keras_plots = classify.get("ours_save_plots_keras")
        if keras_plots:
            rows.append(comparison("classify --save_plots --engine keras, whole process", "s",
                                   keras_plots.get("wall_s"), original_plots.get("wall_s"), False))
            rows.append(comparison("classify --save_plots --engine keras, peak memory", "MiB",
                                   keras_plots.get("peak_rss_mb"), original_plots.get("peak_rss_mb"), False))
    export = results.get("export") or {}
    original_export = export.get("original") or {}
    for label in ("ours_default", "ours_with_tsne"):
        run = export.get(label)
        if not run:
            continue
        name = "export (default)" if label == "ours_default" else "export --tsne"
        rows.append(comparison(f"{name}, {run.get('images')} embeddings", "s", run.get("wall_s"),
                               original_export.get("wall_s"), False, EXPORT_SPEEDUP))
        rows.append(comparison(f"{name}, files written", "MB", _megabytes(run.get("bytes")),
                               _megabytes(original_export.get("bytes")), False, EXPORT_SIZE_RATIO))
        rows.append(comparison(f"{name}, peak memory", "MiB", run.get("peak_rss_mb"),
                               original_export.get("peak_rss_mb"), False))
    help_times = results.get("help") or {}
    original_help = (help_times.get("original") or {}).get("wall_s")
    for script, measured in sorted((help_times.get("ours") or {}).items()):
        seconds = measured.get("wall_s")
        ratio = original_help / seconds if original_help and seconds else None
        rows.append(Row(f"{script} --help", "s", seconds, original_help, ratio, f"< {HELP_SECONDS:g} s",
                        None if seconds is None else seconds < HELP_SECONDS))
    for method, entry in ((results.get("explain") or {}).get("methods") or {}).items():
        if "median_s" in entry:
            rows.append(Row(f"explain: {method}, median per image", "ms", 1000 * entry["median_s"], None, None, "",
                            None))
    return rows


def _real_data_rows(name: str, run: Dict[str, object], original: Dict[str, object]) -> List[Row]:
    """Real data: the default command's wall time and test accuracy, against the original's and the target."""
    wall = (run.get("process") or {}).get("wall_s")
    original_wall = (original.get("process") or {}).get("wall_s")
    accuracy = run.get("test_accuracy")
    return [
        comparison(f"{name}, default command ({run.get('epochs')} epochs), whole process", "s", wall, original_wall,
                   False),
        not_worse(f"{name}, test accuracy against the original's {original.get('epochs')} epochs", accuracy,
                  original.get("test_accuracy"), "original"),
        Row(f"{name}, test accuracy of the default recipe", "accuracy", accuracy, original.get("test_accuracy"),
            None, f">= {REAL_TEST_ACCURACY:g}", None if accuracy is None else accuracy >= REAL_TEST_ACCURACY),
    ]


def _megabytes(count: Optional[int]) -> Optional[float]:
    return None if count is None else count / 1e6


def format_number(value: Optional[float], unit: str) -> str:
    """A table cell: accuracies with 4 decimals, large numbers with thousands separators."""
    if value is None:
        return "-"
    if unit == "accuracy":
        return f"{value:.4f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_table(rows: Sequence[Row]) -> str:
    """A Markdown table: what, unit, ours, original, ratio (x better), target, met."""
    lines = ["| what | unit | ours | original | ours better by | target | met |",
             "|---|---|---:|---:|---:|---|---|"]
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
        met = "" if row.met is None else ("yes" if row.met else "NO")
        lines.append(f"| {row.what} | {row.unit} | {format_number(row.ours, row.unit)} | "
                     f"{format_number(row.original, row.unit)} | {ratio} | {row.target} | {met} |")
    return "\n".join(lines)
