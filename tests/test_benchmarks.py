"""benchmarks/: the pure helpers, and one smoke run of the whole suite. Timings are never asserted."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.machine import cpu_model, memory_gib
from benchmarks.measure import folder_bytes, run_measured
from benchmarks.run import _speeds, data_flags, epoch_list, find_scripts, main, precision_list, section_list
from benchmarks.summary import Row, build_rows, comparison, format_number, format_table, not_worse

REPO = Path(__file__).resolve().parents[1]


def test_cpu_model_skips_the_numeric_x86_model_line():
    assert cpu_model("processor\t: 0\nmodel\t\t: 1\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"
    assert cpu_model("processor\t: 0\nHardware\t: BCM2835\nModel\t: Raspberry Pi 4\n") == "BCM2835"
    assert cpu_model("") is None


def test_memory_is_memtotal_in_gib():
    assert memory_gib("MemTotal:       24641536 kB\nMemFree: 1 kB\n") == 23.5
    assert memory_gib("") is None


def test_comparison_ratio_is_how_many_times_better_ours_is():
    faster = comparison("train", "images/s", 3000.0, 1000.0, higher_is_better=True, target_ratio=3)
    assert faster.ratio == 3.0 and faster.met is True and faster.target == ">= 3x"
    slower = comparison("classify", "s", 5.0, 30.0, higher_is_better=False, target_ratio=8)
    assert slower.ratio == 6.0 and slower.met is False
    assert comparison("memory", "MiB", 300.0, 1200.0, higher_is_better=False).met is None
    assert comparison("half", "s", 1.0, None, higher_is_better=False, target_ratio=3).ratio is None
    assert not_worse("acc", 0.98, 0.98, "float32").met is True
    assert not_worse("acc", 0.979, 0.98, "float32").met is False


def test_table_formats_every_row_with_units_and_verdicts():
    rows = [Row("training float32", "images/s", 2345.6, 1000.0, 2.3456, ">= 3x", False),
            Row("validation accuracy", "accuracy", 0.98765, 0.9, 1.097, ">= original", True),
            Row("train --help", "s", 0.4321, None, None, "< 1 s", True)]
    lines = format_table(rows).splitlines()
    assert lines[0] == "| what | unit | ours | original | ours better by | target | met |"
    assert lines[2] == "| training float32 | images/s | 2,346 | 1,000 | 2.35x | >= 3x | NO |"
    assert lines[3] == "| validation accuracy | accuracy | 0.9877 | 0.9000 | 1.10x | >= original | yes |"
    assert lines[4] == "| train --help | s | 0.43 | - | - | < 1 s | yes |"
    assert format_number(12.345, "s") == "12.3" and format_number(None, "s") == "-"


def test_summary_rows_cover_every_section_and_count_a_shared_run_once():
    float32 = {"model": "a.keras", "precision": "float32", "epochs": 2, "images_per_second": 900.0,
               "images_per_second_after_first": 1000.0, "val_accuracy": 0.97}
    bf16 = {**float32, "model": "b.keras", "precision": "mixed_bfloat16", "val_accuracy": 0.96}
    results = {
        "training": {"ours": {"auto": float32, "float32": float32, "mixed_bfloat16": bf16},
                     "original": {"images_per_second": 300.0, "images_per_second_after_first": 310.0,
                                  "val_accuracy": 0.95}},
        "classify": {"ours_save_plots": {"wall_s": 3.0, "peak_rss_mb": 500.0}, "ours_no_plots": {"wall_s": 2.0},
                     "ours_save_plots_keras": {"wall_s": 7.5, "peak_rss_mb": 700.0},
                     "original_save_plots": {"wall_s": 30.0, "peak_rss_mb": 1300.0}},
        "export": {"ours_default": {"wall_s": 4.0, "bytes": 10_000_000, "images": 10000, "peak_rss_mb": 400.0},
                   "original": {"wall_s": 15.0, "bytes": 215_000_000, "peak_rss_mb": 900.0}},
        "help": {"ours": {"train": {"wall_s": 0.3}}, "original": {"wall_s": 5.0}},
        "explain": {"methods": {"gradcam": {"median_s": 0.0125}, "cam": {"skipped": "no GAP"}}},
    }
    rows = {row.what: row for row in build_rows(results)}
    assert rows["explain: gradcam, median per image"].ours == 12.5 and rows["explain: gradcam, median per image"].unit == "ms"
    assert not any(what.startswith("explain: cam") for what in rows)
    shared = rows["training auto/float32 (float32), epochs after the first"]
    assert shared.ratio == pytest.approx(1000 / 310) and shared.met is True
    assert "training float32 (float32), all epochs" not in rows  # auto = float32: one run, one set of rows
    assert rows["training mixed_bfloat16 (mixed_bfloat16), validation accuracy against float32"].met is False
    assert rows["training mixed_bfloat16 (mixed_bfloat16), validation accuracy after 2 epochs"].met is True
    assert rows["classify --save_plots, whole process"].ratio == 10.0
    keras_row = rows["classify --save_plots --engine keras, whole process"]
    assert keras_row.ratio == 4.0 and keras_row.met is None  # no target: the default engine is the one measured
    assert rows["export (default), files written"].ratio == 21.5
    assert rows["export (default), 10000 embeddings"].ratio == 3.75
    assert rows["train --help"].met is True and rows["train --help"].ratio == pytest.approx(5 / 0.3)
    assert build_rows({}) == []


def test_real_data_rows_compare_test_accuracy_wall_time_and_time_to_the_originals_accuracy():
    ours = {"model": "a.keras", "precision": "mixed_bfloat16", "epochs": 15, "images_per_second": 2000.0,
            "images_per_second_after_first": 2100.0, "val_accuracy": 0.95, "test_accuracy": 0.9412,
            "process": {"wall_s": 500.0}}
    short = {**ours, "model": "s.keras", "epochs": 3, "test_accuracy": 0.915, "process": {"wall_s": 110.0}}
    original = {"epochs": 6, "images_per_second": 1000.0, "images_per_second_after_first": 1000.0,
                "val_accuracy": 0.912, "test_accuracy": 0.912, "process": {"wall_s": 400.0}}
    results = {"training": {
        "dataset": "fashion_mnist", "ours": {"auto": ours}, "original": original, "short": {"3": short},
        "time_to_original_accuracy": {"original_test_accuracy": 0.912, "original_wall_s": 400.0, "ours_wall_s": 110.0}}}
    rows = {row.what: row for row in build_rows(results)}
    name = "training auto (mixed_bfloat16)"
    assert rows[f"{name}, test accuracy of the default recipe"].met is True  # 0.9412 >= 0.94
    assert rows[f"{name}, test accuracy against the original's 6 epochs"].met is True
    assert rows[f"{name}, default command (15 epochs), whole process"].ratio == 0.8  # slower: more epochs
    reach = rows["training, time to the original's test accuracy (0.9120)"]
    assert reach.ratio == pytest.approx(400 / 110) and reach.met is True
    assert rows["training --epochs 3 (mixed_bfloat16), test accuracy"].met is True
    assert not any("validation accuracy after" in what for what in rows)  # not comparable: other held-out sets


def test_data_flags_and_epoch_lists():
    import argparse

    real = argparse.Namespace(dataset="fashion_mnist", train_images=60000, test_images=10000)
    assert data_flags(real) == []
    assert data_flags(argparse.Namespace(**{**vars(real), "train_images": 6000})) == ["--train-size", 6000]
    synthetic = argparse.Namespace(dataset="synthetic", train_images=600, test_images=300)
    assert data_flags(synthetic) == ["--dataset", "synthetic", "--train-size", 600, "--test-size", 300]
    assert epoch_list("3, 5") == [3, 5] and epoch_list("") == []
    with pytest.raises(argparse.ArgumentTypeError):
        epoch_list("0")


def test_speeds_leave_out_the_first_epoch_when_there_are_more():
    assert _speeds(1000, [4.0, 1.0, 1.0]) == {"train_images": 1000, "seconds_per_epoch_each": [4.0, 1.0, 1.0],
                                              "images_per_second": 500.0, "images_per_second_after_first": 1000.0}
    assert _speeds(1000, [2.0])["images_per_second_after_first"] is None


def test_find_scripts_lists_modules_with_a_main_block(tmp_path):
    (tmp_path / "tool.py").write_text('import sys\nif __name__ == "__main__":\n    sys.exit(0)\n')
    (tmp_path / "helper.py").write_text("X = 1\n")
    assert find_scripts(tmp_path) == ["tool"]
    assert {"train", "classify", "evaluate", "compare", "tensorboard_visualise"} <= set(find_scripts())


def test_precision_list_keeps_order_and_refuses_unknown_names():
    import argparse

    assert precision_list("auto, float32,auto") == ["auto", "float32"]
    with pytest.raises(argparse.ArgumentTypeError, match="float8"):
        precision_list("float32,float8")


def test_run_measured_reports_the_child_and_its_status(tmp_path):
    ok = run_measured([sys.executable, "-c", "b = bytearray(50 * 2**20); print('hi')"], tmp_path / "log")
    assert ok.returncode == 0 and ok.peak_rss_mb >= 50 and ok.wall_s > 0
    assert "hi" in (tmp_path / "log").read_text()
    failed = run_measured([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "log", check=False)
    assert failed.returncode == 3
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f").write_bytes(b"x" * 10)
    assert folder_bytes(tmp_path / "sub") == 10 and folder_bytes(tmp_path / "missing") == 0


@pytest.mark.slow
def test_quick_suite_writes_every_section(tmp_path):
    output = tmp_path / "benchmark.json"
    result = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--output", str(output)],
                            cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    results = json.loads(output.read_text())
    assert {"machine", "settings", "training", "classify", "export", "help", "explain", "summary"} <= set(results)
    assert results["explain"]["methods"]["gradcam"]["images"] == 2
    assert results["training"]["original"]["parameters"] == results["training"]["ours"]["float32"]["parameters"]
    assert results["training"]["original"]["recipe"]["batch_norm_momentum"] == 0.99
    ours = results["training"]["ours"]["float32"]  # scored as its report scores it: averaged with the mirror
    assert ours["mirror_average"] is True and 0 <= ours["test_accuracy_alone"] <= 1
    assert results["export"]["original"]["bytes"] > results["export"]["ours_default"]["bytes"] > 0
    assert results["classify"]["plots_written"]["ours"] > 10 and results["classify"]["plots_written"]["original"] > 10
    assert "train" in results["help"]["ours"]
    assert "| what | unit | ours | original |" in result.stdout
    assert not list(tmp_path.glob("work-*"))  # the models and exports are cleaned up


def test_explain_figures_table_gives_milliseconds_and_reasons():
    from benchmarks.explain_timing import format_figures

    table = format_figures({"gradcam": {"median_s": 0.01234, "mean_s": 0.015, "first_call_s": 0.9, "build_s": 0.25},
                            "cam": {"skipped": "no global average pooling"}}).splitlines()
    assert table[2] == "| gradcam | 12.3 | 15.0 | 900 | 250 |"
    assert table[3] == "| cam | not applicable: no global average pooling | | | |"


def test_explain_timing_times_every_applicable_method_on_a_tiny_model():
    from classify_helpers import trained_model_path

    from benchmarks.explain_timing import load_test_images, time_methods
    from fashion_mnist_vis.models.model_handle import open_model

    images, labels, source = load_test_images("synthetic", 2)
    assert images.shape == (2, 28, 28, 1) and images.dtype == np.float32 and "ynthetic" in source
    assert labels.shape == (2,) and set(labels) <= set(range(10))
    figures = time_methods(open_model(trained_model_path("tinyvgg"), "keras"), images, labels, "cam,gradcam")
    assert "skipped" in figures["cam"]  # tinyvgg has no global average pooling
    assert figures["gradcam"]["images"] == 2 and figures["gradcam"]["median_s"] > 0


def test_atlas_benchmark_times_every_step_on_a_tiny_model():
    from benchmarks import atlas
    from classify_helpers import trained_model_path

    args = atlas.build_parser().parse_args(["--saved-model", str(trained_model_path("tinyvgg")), "--dataset",
                                            "synthetic", "--images", "60", "--steps", "2"])
    figures = atlas.measure(args)
    assert figures["training_images"] == 60 and figures["layers"] == 3 and figures["channels"] == 30
    assert list(figures["channels_ascent_per_layer_s"]) == ["conv2d", "conv2d_1", "conv2d_2"]
    # index.html, classes.png, concepts.png, the first layer's weights, and per layer its page, grid and 10 cards
    assert figures["files"] == 4 + 3 * (2 + 10)
    lines = atlas.format_lines(figures)
    assert any(line.startswith("search for the strongest images") and "images/s" in line for line in lines)
    assert lines[-1].startswith("the whole atlas")


@pytest.mark.parametrize("script", ["run", "train_ab", "neighbours", "explain_timing", "export_extras", "atlas",
                                    "photos", "explore", "unfamiliarity_cost"])
@pytest.mark.parametrize("as_module", [False, True], ids=["file", "module"])
def test_benchmark_help_does_not_import_tensorflow(script, as_module):
    target = f"benchmarks.{script}" if as_module else f"benchmarks/{script}.py"
    run = "runpy.run_module" if as_module else "runpy.run_path"
    code = ("import runpy, sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None; "
            f"sys.argv = [{target!r}, '--help']; {run}({target!r}, run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert {"run": "--quick", "train_ab": "--variants", "neighbours": "--query-engine",
            "explain_timing": "--saved-model", "export_extras": "--umap-points", "atlas": "--images",
            "photos": "--neighbour-index", "explore": "--strokes", "unfamiliarity_cost": "--repeats"}[script] \
        in result.stdout


@pytest.mark.parametrize("script", ["neighbours", "explain_timing", "export_extras", "atlas", "photos", "explore",
                                    "unfamiliarity_cost"])
def test_a_missing_model_is_one_line_and_status_2_for_every_benchmark(script, tmp_path, capsys):
    import importlib

    from benchmarks.entry import run_script

    module = importlib.import_module(f"benchmarks.{script}")
    missing = tmp_path / "missing.keras"
    assert run_script(module.main, f"python -m benchmarks.{script}", ["--saved-model", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"python -m benchmarks.{script}: error: model file {str(missing)!r} does not exist\n"


def test_a_benchmark_run_as_a_process_ends_a_users_mistake_without_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "benchmarks.photos", "--saved-model", str(tmp_path / "no.keras")],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("python -m benchmarks.photos: error: model file")


def test_run_script_turns_ctrl_c_into_status_130(capsys):
    from benchmarks.entry import run_script

    def interrupted(argv):
        raise KeyboardInterrupt

    assert run_script(interrupted, "python -m benchmarks.photos", []) == 130
    assert capsys.readouterr().err == "python -m benchmarks.photos: interrupted\n"


def test_sections_are_kept_in_the_suites_order_and_classify_needs_training(capsys):
    assert section_list("help, training") == ["training", "help"]
    with pytest.raises(Exception, match="unknown section"):
        section_list("training,plots")
    with pytest.raises(SystemExit):
        main(["--sections", "export,help"])
    assert "classify, export and explain need training" in capsys.readouterr().err


def test_xplique_agreement_says_in_one_line_when_xplique_is_missing(capsys, monkeypatch):
    from benchmarks.xplique_agreement import main as xplique_agreement

    monkeypatch.setitem(sys.modules, "xplique", None)  # import xplique raises ImportError
    assert xplique_agreement(["--saved-model", "model.keras"]) == 2
    assert capsys.readouterr().err.startswith("xplique_agreement: Xplique cannot be imported")


@pytest.mark.slow
def test_the_held_out_non_garments_are_the_same_on_every_run():
    """scikit-image draws its binary blobs at random unless seeded: the benchmark seeds them (and the noise)."""
    pytest.importorskip("skimage")
    from benchmarks.photos import held_out_non_garments

    first, again, other = held_out_non_garments(4), held_out_non_garments(4), held_out_non_garments(4, seed=2)
    assert list(first) == list(again)
    assert all(np.array_equal(first[name], again[name]) for name in first)
    assert not np.array_equal(first["skimage binary_blobs"], other["skimage binary_blobs"])


def test_photo_benchmark_measures_every_rendering_on_a_tiny_model(idx_dir, tmp_path, monkeypatch):
    """benchmarks.photos end to end on conftest's striped items (600 training, 200 test images) and a tiny
    trained model: every rendering is written as files, classified, and scored by both unfamiliarity scores."""
    pytest.importorskip("skimage")
    from benchmarks import photos
    from classify_helpers import trained_model_path
    from fashion_mnist_vis.data.fashion_mnist import CACHE_ENV
    from fashion_mnist_vis.data.photo_render import STYLES

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "user-cache"))
    model = tmp_path / "tiny.keras"
    model.write_bytes(trained_model_path("tinyvgg").read_bytes())
    args = photos.build_parser().parse_args(["--saved-model", str(model), "--data-dir", str(idx_dir), "--count", "20",
                                             "--neighbour-index", "--photo-dir", str(tmp_path / "photos")])
    monkeypatch.setattr(photos, "CALIBRATION_COUNT", 50)
    figures = photos.measure(args)
    assert list(figures["kinds"]) == ["arrays", "arrays, mirrored", *STYLES]
    assert set(figures["thresholds"]) == {"energy", "nearest", "nearest (with the input checks)",
                                          "lit_share (input check)", "dimness (input check)",
                                          "mahalanobis (with the distance)", "busy_background (photo check, fixed)"}
    assert figures["thresholds"]["busy_background (photo check, fixed)"] == 20.0
    for kind in figures["kinds"].values():
        assert 0 <= kind["accuracy"] <= 1 and 0 <= kind["flagged_nearest"] <= 1 and len(kind["per_class"]) == 10
        assert 0 <= kind["flagged_combined"] <= 1
    assert figures["test_half"]["count"] == 100 and 0 <= figures["test_half"]["flagged_combined"] <= 1
    assert len(list((tmp_path / "photos" / "as_taken_mirrored").glob("*.jpg"))) == 20
    assert len(figures["not_garments"]) == len(list((tmp_path / "photos" / "not_garments").iterdir())) >= 18
    assert figures["held_out_summary"]["digits"]["images"] == 40
    assert figures["held_out_summary"]["photos"]["images"] == len(photos.HELD_OUT_SKIMAGE) + 5
    item = figures["not_garments"]["skimage grass"]
    assert item["flagged_combined"] == (item["nearest"] > figures["thresholds"]["nearest (with the input checks)"]
                                        or item["lit_share"] > figures["thresholds"]["lit_share (input check)"]
                                        or item["dimness"] > figures["thresholds"]["dimness (input check)"]
                                        or item["mahalanobis"] > figures["thresholds"]["mahalanobis (with the distance)"]
                                        or item["busy_background"] > 20.0)
    assert figures["not_garments"]["skimage astronaut"]["busy_background"] > 20.0  # a portrait before a flag
    lines = photos.format_lines(figures)
    assert lines[2].startswith("arrays") and any(line.startswith("not garments") for line in lines)
    assert any(line.startswith("held-out digits (40)") for line in lines)


@pytest.mark.slow
def test_photo_benchmark_measures_only_the_renderings_asked_for(idx_dir, tmp_path, monkeypatch):
    """--renderings picks renderings by name (for many images in less time); the round trip line
    compares "as taken" with the arrays, scored the same way."""
    pytest.importorskip("skimage")
    from benchmarks import photos
    from classify_helpers import trained_model_path
    from fashion_mnist_vis.data.fashion_mnist import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "user-cache"))
    model = tmp_path / "tiny.keras"
    model.write_bytes(trained_model_path("tinyvgg").read_bytes())
    monkeypatch.setattr(photos, "CALIBRATION_COUNT", 50)
    args = photos.build_parser().parse_args(["--saved-model", str(model), "--data-dir", str(idx_dir), "--count", "10",
                                             "--renderings", "product", "as taken"])
    figures = photos.measure(args)
    assert list(figures["kinds"]) == ["arrays", "arrays, mirrored", "product", "as taken"]
    arrays, taken = figures["kinds"]["arrays"], figures["kinds"]["as taken"]
    expected = f"round trip (as taken - arrays): {100 * (taken['accuracy'] - arrays['accuracy']):+.2f} points alone"
    assert any(line.startswith(expected) for line in photos.format_lines(figures))
    with pytest.raises(SystemExit):
        photos.build_parser().parse_args(["--renderings", "polaroid"])
