"""evaluate.py: a saved model on the test set or on class folders of images, with calibration."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import single_error_line
from fashion_mnist_vis.commands.evaluate import main
from fashion_mnist_vis.data.synthetic import load_synthetic

TEST_SIZE = 300
FOLDER_NAMES = ["t_shirt_top", "Trousers", "pull-over", "DRESS", "4", "sandals", "Shirt", "sneaker", "Bag",
                "Ankle boot"]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """tinyvgg trained for 2 epochs on 1000 synthetic images, saved as .keras and .h5."""
    import keras

    from fashion_mnist_vis.models.model_io import save_model_atomic
    from fashion_mnist_vis.models.registry import build_model
    from fashion_mnist_vis.data.pipeline import to_model_input
    from fashion_mnist_vis.training.trainer import compile_model

    folder = tmp_path_factory.mktemp("evaluate")
    (x_train, y_train), _ = load_synthetic(1000, 0, seed=7)
    keras.utils.set_random_seed(0)
    model = build_model("tinyvgg")
    compile_model(model, 0.01)
    model.fit(to_model_input(x_train), y_train, epochs=2, batch_size=32, verbose=0)
    save_model_atomic(model, folder / "model.keras")
    save_model_atomic(model, folder / "model.h5")
    return folder


@pytest.fixture(scope="module")
def class_folders(tmp_path_factory):
    """The synthetic test set (seed 42, as --dataset synthetic gives it) as PNGs in class folders."""
    root = tmp_path_factory.mktemp("photos")
    _, (images, labels) = load_synthetic(0, TEST_SIZE, seed=42)
    for index, (image, label) in enumerate(zip(images, labels)):
        folder = root / FOLDER_NAMES[label]
        folder.mkdir(exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:04d}.png")
    return root


def _evaluate(out, *flags):
    assert main([*flags, "--output-dir", str(out)]) == 0
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_folder_of_pngs_scores_the_same_as_the_arrays(saved_model, class_folders, tmp_path, capsys):
    model = str(saved_model / "model.keras")
    # The tiny model is not mirror-invariant: compare the folder's images alone with the arrays alone.
    arrays = _evaluate(tmp_path / "arrays", "--saved-model", model, "--dataset", "synthetic",
                       "--test-size", str(TEST_SIZE), "--no-mirror-average")
    folder = _evaluate(tmp_path / "folder", "--saved_model", model, "--images", str(class_folders),
                       "--no-mirror-average")
    assert arrays["test_images"] == folder["test_images"] == TEST_SIZE
    assert arrays["test_accuracy"] > 0.5, arrays["test_accuracy"]  # the model learnt something
    assert folder["test_accuracy"] == arrays["test_accuracy"]
    assert folder["test_loss"] == pytest.approx(arrays["test_loss"], abs=1e-4)
    assert folder["expected_calibration_error"] == pytest.approx(arrays["expected_calibration_error"], abs=1e-4)
    assert folder["evaluated_on"]["class_folders"]["Ankle boot"] == 9
    assert folder["evaluated_on"]["preprocessing"]["mirror_average"] is False
    assert sum(folder["evaluated_on"]["images_per_class"].values()) == TEST_SIZE
    assert arrays["evaluated_on"]["source"].startswith("the test set: synthetic (seed 42")
    out = capsys.readouterr().out
    assert "expected calibration error" in out and "Report in" in out


@pytest.mark.slow
def test_report_has_calibration_and_no_training_curves(saved_model, tmp_path):
    metrics = _evaluate(tmp_path, "--saved-model", str(saved_model / "model.h5"), "--dataset", "synthetic",
                        "--test-size", "200", "--bins", "10")
    names = {path.name for path in tmp_path.iterdir()}
    assert {"metrics.json", "confusion_matrix.png", "per_class_f1.png", "misclassified.png",
            "reliability_diagram.png"} <= names
    assert "training_curves.png" not in names
    calibration = metrics["calibration"]
    assert calibration["bins"] == 10 and sum(calibration["bin_counts"]) == 200
    assert 0 <= metrics["expected_calibration_error"] <= 1
    assert metrics["parameters"] == 4430 and metrics["model_file"].endswith("model.h5")
    assert metrics["mirror_average"] is True and 0 <= metrics["test_accuracy_alone"] <= 1  # the default
    with Image.open(tmp_path / "reliability_diagram.png") as image:
        assert image.width > 400 and np.asarray(image.convert("L")).std() > 10


@pytest.mark.slow
def test_a_model_with_another_input_shape_gets_preprocessed_images(tmp_path):
    import keras

    from fashion_mnist_vis.models.model_io import save_model_atomic

    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    save_model_atomic(model, tmp_path / "rgb.keras")
    metrics = _evaluate(tmp_path / "out", "--saved-model", str(tmp_path / "rgb.keras"), "--dataset", "synthetic",
                        "--test-size", "50")
    assert metrics["test_images"] == 50 and metrics["evaluated_on"]["preprocessing"]["crop"] is True


@pytest.mark.slow
def test_explanations_and_sanity_rank_the_methods_and_write_tables(saved_model, tmp_path, capsys):
    _evaluate(tmp_path, "--saved-model", str(saved_model / "model.keras"), "--dataset", "synthetic",
              "--test-size", "100", "--explanations", "20", "--sanity", "3", "--methods", "cam,gradcam")
    with open(tmp_path / "explanations.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["method"] for row in rows] == ["gradcam", "random"]  # tinyvgg has no GAP: no CAM
    assert all(row["images"] == "20" for row in rows)
    assert 0 <= float(rows[0]["deletion_auc"]) <= 1 and 0 <= float(rows[0]["insertion_auc"]) <= 1
    with open(tmp_path / "sanity.csv") as handle:
        layers = [row["layer"] for row in csv.DictReader(handle)]
    assert layers == ["dense", "conv2d_2", "conv2d_1", "conv2d"]  # tinyvgg's weighted layers, top down
    for name in ("explanation_curves.png", "sanity.png"):
        with Image.open(tmp_path / name) as picture:
            assert picture.width > 800
    out = capsys.readouterr().out
    assert "Ranking the explanation methods on 20 test images:" in out
    assert "| 1 | gradcam |" in out and "|  | random |" in out and "cam: not applicable" in out
    assert "Model-randomisation test on 3 test images:" in out and "| gradcam |" in out
    assert out.count(f"Written to {tmp_path} (took ") == 2


def _bad_layout(root: Path, case: str) -> Path:
    if case == "missing folder":
        return root / "nowhere"
    folder = root / "photos"
    folder.mkdir()
    if case == "unknown class folder":
        for name in ("coat", "hats"):
            (folder / name).mkdir()
            Image.fromarray(np.zeros((28, 28), np.uint8)).save(folder / name / "a.png")
    if case == "empty class folders":
        (folder / "coat").mkdir()
    return folder


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing folder", "does not exist"),
        ("unknown class folder", "unknown class folder 'hats'"),
        ("empty folder", "holds no class folders"),
        ("empty class folders", "hold no image files"),
    ],
)
def test_bad_image_folders_exit_2_with_one_line(saved_model, tmp_path, capsys, case, message):
    folder = _bad_layout(tmp_path, case)
    code = main(["--saved-model", str(saved_model / "model.keras"), "--images", str(folder),
                 "--output-dir", str(tmp_path / "out")])
    assert code == 2 and message in single_error_line(capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--saved-model", "{tmp}/missing.keras", "--dataset", "synthetic"], "does not exist"),
        (["--saved-model", "{model}", "--images", "{tmp}", "--dataset", "synthetic"], "--images replaces the test set"),
        (["--saved-model", "{model}", "--output-dir", "{model}"], "is a file, not a folder"),
        (["--saved-model", "{model}", "--bins", "0"], "must be between 1 and 100"),
        (["--saved-model", "{model}", "--invert", "sometimes"], "invalid choice"),
        (["--saved-model", "{model}", "--train-size", "5"], "unrecognized arguments"),
        (["--saved-model", "{model}", "--explanations", "5", "--methods", "gradcam,nope"],
         "unknown explanation method 'nope'"),
        (["--saved-model", "{model}", "--explanations", "5", "--methods", "cam"], "no explanation method applies"),
        (["--saved-model", "{model}", "--sanity", "2", "--engine", "numpy"], "needs --engine keras"),
        (["--saved-model", "{model}", "--explanations", "-1"], "--explanations"),
        (["--saved-model", "{model}", "--explanations", "5", "--methods", ","], "method names separated by commas"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(saved_model, tmp_path, capsys, flags, message):
    argv = [flag.format(tmp=tmp_path, model=saved_model / "model.keras") for flag in flags]
    if "--output-dir" not in argv:
        argv += ["--output-dir", str(tmp_path / "out")]
    assert main(argv) == 2
    assert message in single_error_line(capsys)
