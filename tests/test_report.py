"""training/report.py pieces that train.py's end-to-end tests do not reach."""

import json

import numpy as np
import pytest

from fashion_mnist_vis.training.report import (
    comparison_row, comparison_table, evaluate, mirror_note, save_model_diagram, write_report)


def test_report_without_history_has_no_curves_but_has_calibration(tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    labels = np.arange(40) % 10
    report = write_report(model, tmp_path, images, labels, bins=4)
    assert "training_curves.png" not in report["files"] and "reliability_diagram.png" in report["files"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert sum(metrics["calibration"]["bin_counts"]) == 40 and len(metrics["calibration"]["bin_counts"]) == 4
    assert metrics["expected_calibration_error"] == report["expected_calibration_error"]
    # float model inputs (preprocessed photos) give the same scores as the uint8 images
    floats = evaluate(model, images[..., None].astype(np.float32) / 255, labels)
    assert round(floats.accuracy, 5) == report["test_accuracy"]
    assert round(floats.loss, 5) == pytest.approx(report["test_loss"], abs=1e-5)


def test_a_mirror_averaged_report_scores_the_average_and_keeps_the_images_alone(tmp_path):
    """A model that sees only the left half: an image and its mirror get different scores, and
    metrics.json holds the averaged accuracy as test_accuracy and the images' own as test_accuracy_alone."""
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Cropping2D(((0, 0), (0, 14))),
                              keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (200, 28, 28), dtype=np.uint8)
    labels = evaluate(model, images, np.zeros(200, int)).predictions  # the model's own answers: alone, all right
    alone = evaluate(model, images, labels)
    averaged = evaluate(model, images, labels, mirror_average=True)
    assert alone.accuracy == 1.0 and alone.accuracy_alone is None
    assert averaged.accuracy < 1.0 and averaged.accuracy_alone == 1.0
    report = write_report(model, tmp_path, images, labels, mirror_average=True)
    assert report["mirror_average"] is True
    assert report["test_accuracy"] == round(averaged.accuracy, 5) and report["test_accuracy_alone"] == 1.0
    assert mirror_note(report) == " (each image averaged with its mirror image; alone 1.0000)"
    plain = write_report(model, tmp_path / "plain", images, labels)
    assert plain["mirror_average"] is False and "test_accuracy_alone" not in plain and mirror_note(plain) == ""


def test_a_graphviz_crash_skips_the_diagram_instead_of_failing(tmp_path, capsys, monkeypatch):
    import keras

    def crashing_plot_model(model, to_file, **kwargs):  # what pydot does when graphviz's `dot` aborts
        print('Error: trouble in init_rank\n\tTrapezoid dot: maze.c:312: chkSgraph: Assertion failed')
        with open(to_file, "wb") as half_written:
            half_written.write(b"\x89PNG")
        raise AssertionError('"dot" with args [\'-Tpng\'] returned code: -6\n\nstdout, stderr:\n b\'\'')

    monkeypatch.setattr(keras.utils, "plot_model", crashing_plot_model)
    why = save_model_diagram(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), tmp_path / "model.png")
    assert why == """graphviz failed: "dot" with args ['-Tpng'] returned code: -6"""
    assert "Trapezoid" not in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # neither the diagram nor its temporary file


def test_comparison_table_by_hand():
    metrics = {"model": "dense", "parameters": 101770, "test_accuracy": 0.91234, "test_loss": 0.25, "epochs_run": 2,
               "seconds_per_epoch": 3.26, "train_images_per_second": 1656.4, "seconds_per_epoch_each": [3.5, 3.02]}
    row = comparison_row(metrics)
    assert row["training_seconds"] == pytest.approx(6.52)
    assert comparison_table([row]).splitlines()[2] == "| dense | 101,770 | 0.9123 | 0.2500 | 3.3 | 1,656 | 2 |"
