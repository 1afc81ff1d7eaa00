"""compare.py: several models on one budget, resumable, with a table and a plot."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from conftest import single_error_line
from fashion_mnist_vis.commands.compare import main

DATA = ["--dataset", "synthetic", "--train-size", "1000", "--test-size", "200", "--batch-size", "64",
        "--precision", "float32"]


def _compare(out, *flags):
    return main([*DATA, "--epochs", "1", "--output-dir", str(out), *flags])


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "comparison"
    assert _compare(out, "--models", "tinyvgg,dense") == 0
    return out


@pytest.mark.slow
def test_every_model_gets_a_run_folder_and_the_comparison_files(compared):
    for name, parameters in (("tinyvgg", 4430), ("dense", 101770)):
        run_dir = compared / name
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["model"] == name and metrics["parameters"] == parameters
        assert metrics["dataset"]["train_images"] == 900 and metrics["seed"] == 42
        assert (run_dir / "model.keras").stat().st_size > 10_000
        assert (run_dir / "training_curves.png").exists() and (run_dir / "reliability_diagram.png").exists()
    with open(compared / "comparison.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["model"] for row in rows] == ["tinyvgg", "dense"]
    assert set(rows[0]) >= {"parameters", "test_accuracy", "test_loss", "seconds_per_epoch",
                            "images_per_second", "epochs_run"}
    assert rows[1]["parameters"] == "101770" and rows[1]["epochs_run"] == "1"
    markdown = (compared / "comparison.md").read_text()
    assert "| model | parameters | test accuracy | test loss | seconds per epoch | images per second | epochs run |" \
        in markdown
    assert "| dense | 101,770 |" in markdown and "synthetic" in markdown
    assert "AdamW, weight decay 0.05, learning rate 0.001 (cosine schedule), label smoothing 0.1, augmentation shifts, flips, erasing, rotations, zoom, shadows" \
        in markdown  # the recipe every model was trained with
    with Image.open(compared / "comparison.png") as image:
        assert image.width > 600 and np.asarray(image.convert("L")).std() > 10


@pytest.mark.slow
def test_done_models_are_skipped_and_force_trains_again(compared, capsys):
    stamps = {name: (compared / name / "metrics.json").stat().st_mtime_ns for name in ("tinyvgg", "dense")}
    assert _compare(compared, "--models", "tinyvgg,dense") == 0
    out = capsys.readouterr().out
    assert out.count("already done") == 2 and "Epoch 1/1" not in out
    assert all((compared / name / "metrics.json").stat().st_mtime_ns == stamp for name, stamp in stamps.items())

    assert _compare(compared, "--models", "tinyvgg", "--force") == 0
    assert (compared / "tinyvgg" / "metrics.json").stat().st_mtime_ns != stamps["tinyvgg"]
    assert (compared / "dense" / "metrics.json").stat().st_mtime_ns == stamps["dense"]
    with open(compared / "comparison.csv") as handle:
        assert [row["model"] for row in csv.DictReader(handle)] == ["tinyvgg"]


@pytest.mark.slow
def test_other_settings_are_not_mixed_into_a_comparison(compared, capsys):
    assert main([*DATA, "--epochs", "2", "--models", "dense", "--output-dir", str(compared)]) == 2
    line = single_error_line(capsys)
    assert "other settings" in line and "epochs 1, now 2" in line and "--force" in line


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--models", "dense,vgg99,lenet5"], "unknown models 'vgg99', 'lenet5'; choose from: gap_cnn, dense"),
        (["--models", ","], "no model names"),
        (["--epochs", "0"], "must be at least 1"),
        (["--output-dir", "{file}"], "is a file, not a folder"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, flags, message):
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    assert main([*DATA, *[flag.format(file=blocker) for flag in flags]]) == 2
    assert message in single_error_line(capsys)


def test_a_foreign_folder_is_not_deleted(tmp_path, capsys):
    (tmp_path / "dense").mkdir()
    (tmp_path / "dense" / "mine.txt").write_text("keep me")
    assert _compare(tmp_path, "--models", "dense") == 2
    assert "is not a run folder" in single_error_line(capsys)
    assert (tmp_path / "dense" / "mine.txt").read_text() == "keep me"
