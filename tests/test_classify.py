"""classify.py end to end: driven through main(argv), as a subprocess, and in headless Chromium."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser_helpers import CHROMIUM, chromium_flags, loaded_image_widths
from classify_helpers import synthetic_data, trained_model_path
from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.commands.classify import main
from fashion_mnist_vis.models.registry import build_model

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_images"
FIXED = {"input_image.png", "greyscale_input.png", "rescaled_model_input.png", "cam.png", "cam_on_input.png",
         "cam_compare.png", "index.html"}


def _spatial_layers(name):
    return [layer.name for layer in build_model(name).layers
            if len(layer.output.shape) == 4 and "Dropout" not in type(layer).__name__]


def _assert_png(path, min_width=300, min_height=200):
    with Image.open(path) as image:
        image.load()
        assert image.format == "PNG"
        assert image.width >= min_width and image.height >= min_height, (path.name, image.size)
        assert np.asarray(image.convert("L")).std() > 10, f"{path.name} looks blank"


def _error_lines(err):
    return [line for line in err.splitlines() if "error:" in line]


@pytest.fixture(scope="module")
def gap_model():
    return trained_model_path("gap_cnn")


@pytest.fixture(scope="module")
def tiny_model():
    return trained_model_path("tinyvgg")


@pytest.fixture(scope="module")
def gap_plots(gap_model, tmp_path_factory):
    """One --save-plots run of the trained gap_cnn on the sample bag photo: (folder, stdout)."""
    folder = tmp_path_factory.mktemp("plots") / "visualisations"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main([str(SAMPLES / "black_bag.jpg"), "--saved-model", str(gap_model),
                       "--save-plots", "--plot-dir", str(folder)])
    assert status == 0
    return folder, out.getvalue()


# ----------------------------------------------------------------------- plots


def test_every_plot_is_written_and_named_after_its_layer(gap_plots):
    folder, stdout = gap_plots
    layer_files = {f"{name}.png" for name in _spatial_layers("gap_cnn")}
    assert len(layer_files) == 11
    expected = FIXED | layer_files | {"global_average_pooling2d.png", "dense.png"}
    assert {path.name for path in folder.iterdir()} == expected
    for path in folder.glob("*.png"):
        _assert_png(path)
    assert f"plots: {folder / 'index.html'}" in stdout


def test_index_links_every_plot_in_layer_order(gap_plots):
    folder, _ = gap_plots
    page = (folder / "index.html").read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert set(sources) == {path.name for path in folder.glob("*.png")}
    order = ["input_image.png", "greyscale_input.png", "rescaled_model_input.png",
             *[f"{name}.png" for name in _spatial_layers("gap_cnn")],
             "global_average_pooling2d.png", "dense.png", "cam.png", "cam_on_input.png", "cam_compare.png"]
    assert sources == order
    assert "Zhou et al. 2016" in page and "Selvaraju et al. 2017" in page and "dropout" in page
    assert "http" not in page


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_index_renders_in_headless_chromium_with_every_image(gap_plots, tmp_path):
    folder, _ = gap_plots
    loaded = loaded_image_widths(folder / "index.html", tmp_path / "profile")
    assert set(loaded) == {path.name for path in folder.glob("*.png")}
    assert all(width > 0 for width in loaded.values()), loaded
    screenshot = tmp_path / "page.png"
    subprocess.run([*chromium_flags(tmp_path / "profile"), f"--screenshot={screenshot}", (folder / "index.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    _assert_png(screenshot, 1200, 3000)


# -------------------------------------------------------------- text and JSON


def test_json_output_one_object_per_image(tiny_model, capsys):
    status = main([str(SAMPLES / "dress.jpg"), str(SAMPLES / "sneaker.jpg"), "--saved-model", str(tiny_model),
                   "--json", "--top-k", "4"])
    assert status == 0
    lines = capsys.readouterr().out.strip().splitlines()
    records = [json.loads(line) for line in lines]
    assert [Path(record["path"]).name for record in records] == ["dress.jpg", "sneaker.jpg"]
    for record in records:
        assert record["prediction"] in CLASS_NAMES and record["plots"] is None
        assert CLASS_NAMES[record["class_index"]] == record["prediction"]
        scores = [entry["score"] for entry in record["top_k"]]
        assert len(scores) == 4 and scores == sorted(scores, reverse=True)
        assert record["top_k"][0]["class"] == record["prediction"] and scores[0] == record["score"]


def test_text_output_and_top_k_is_capped_at_ten(tiny_model, capsys):
    assert main([str(SAMPLES / "tshirt.jpg"), "--saved-model", str(tiny_model), "--top-k", "25"]) == 0
    out, err = capsys.readouterr()
    first, second = out.splitlines()
    assert re.fullmatch(r".*tshirt\.jpg: .+ \(\d+\.\d%\)", first)
    assert second.startswith("  top 10: ") and second.count("%") == 10
    # without the training data on this machine (conftest hides it), one note says why unfamiliarity is left out
    assert err.splitlines()[0].startswith("note: unfamiliarity not computed: ") and "Traceback" not in err
    assert err.splitlines()[1].startswith("Model: ")


def test_png_arrays_classify_like_the_arrays_themselves(tiny_model, tmp_path, capsys):
    """Fashion-MNIST-style 28x28 arrays saved as PNGs pass through preprocessing unchanged."""
    from fashion_mnist_vis.models.model_io import load_model
    from fashion_mnist_vis.data.pipeline import to_model_input

    images, _ = synthetic_data()
    images = images[:12]
    for index, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"item_{index:02d}.png")
    assert main([str(tmp_path), "--saved-model", str(tiny_model), "--json", "--top-k", "10"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    model = load_model(tiny_model)
    inputs = to_model_input(images)
    # classify averages each image's probabilities with its mirror image's (--no-mirror-average: not)
    expected = (model.predict(inputs, verbose=0) + model.predict(inputs[:, :, ::-1], verbose=0)) / 2
    assert [record["class_index"] for record in records] == list(expected.argmax(axis=1))
    for record, probabilities in zip(records, expected):
        got = {entry["class_index"]: entry["score"] for entry in record["top_k"]}
        np.testing.assert_allclose([got[index] for index in range(10)], probabilities, atol=1e-5)


# ---------------------------------------------------------- models and CAM


def test_cam_class_is_matched_case_insensitively(tiny_model, tmp_path, capsys):
    folder = tmp_path / "plots"
    assert main([str(SAMPLES / "trousers.jpg"), "--saved-model", str(tiny_model), "--save-plots",
                 "--plot-dir", str(folder), "--cam-class", "ankle BOOT", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["cam"] == {"class": "Ankle boot", "methods": ["Grad-CAM on conv2d_2"]}
    assert record["plots"] == str(folder)
    files = {path.name for path in folder.iterdir()}
    assert {"cam.png", "cam_on_input.png"} <= files and "cam_compare.png" not in files  # no GAP: Grad-CAM only
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "Ankle boot" in page and "chosen with --cam-class" in page


def test_cam_class_accepts_what_evaluate_folders_accept():
    """One matcher: --cam-class takes the spellings evaluate accepts for class folders."""
    from fashion_mnist_vis.explain.analysis import find_class

    for spelling, index in (("tshirt", 0), ("T-shirt_top", 0), ("sneakers", 7), ("ankle-boot", 9), ("3", 3)):
        assert find_class(spelling) == index


def test_unknown_cam_class_lists_the_classes(capsys):
    assert main([str(SAMPLES / "dress.jpg"), "--saved-model", "/no/such/model.h5", "--cam-class", "hat"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "unknown class 'hat'" in line and "'Ankle boot'" in line and "'T-shirt/top'" in line


def test_dense_model_gets_no_cam_but_does_not_fail(tmp_path, capsys):
    from fashion_mnist_vis.models.model_io import save_model_atomic

    model = save_model_atomic(build_model("dense"), tmp_path / "dense.keras")
    folder = tmp_path / "plots"
    assert main([str(SAMPLES / "dress.jpg"), "--saved-model", str(model), "--save-plots",
                 "--plot-dir", str(folder)]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note:") and "unfamiliarity" not in line]
    assert len(notes) == 1 and "no convolutional layer" in notes[0]
    assert {path.name for path in folder.iterdir()} == {
        "input_image.png", "greyscale_input.png", "rescaled_model_input.png", "dense.png", "dense_1.png",
        "index.html"}
    assert "No class activation map" in (folder / "index.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def legacy_model(tmp_path_factory):
    """A Keras 2 (TensorFlow 2.1-style) HDF5 file like the original demo's model.h5."""
    tf_keras = pytest.importorskip("tf_keras")
    from test_model_io import write_legacy_demo_model

    return write_legacy_demo_model(tf_keras, tmp_path_factory.mktemp("legacy"))


def test_legacy_keras2_model_classifies_with_plots(legacy_model, tmp_path, capsys):
    path, written_by = legacy_model
    folder = tmp_path / "visualisations"
    assert main([str(SAMPLES / "black_bag.jpg"), "--saved_model", str(path), "--save_plots",
                 "--plot_dir", str(folder)]) == 0
    files = {file.name for file in folder.iterdir()}
    assert FIXED <= files
    # conv, batch norm, conv, GAP, dense: every layer is plotted. Their names come from tf_keras's
    # process-wide counters (conv2d, or conv2d_4 after other tests built Keras 2 models).
    layer_names = [layer.name for layer in written_by.layers]
    assert len(layer_names) == 5 and {f"{name}.png" for name in layer_names} <= files
    for name in ("cam.png", "cam_on_input.png", "cam_compare.png", f"{layer_names[0]}.png"):
        _assert_png(folder / name)
    assert "black_bag.jpg: " in capsys.readouterr().out


# --------------------------------------------------------------- batch mode


def test_batch_with_good_and_bad_files(tiny_model, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(SAMPLES / "sneaker.jpg", other / "sneaker.jpg")  # same stem twice: folders sneaker, sneaker_2
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is not a photo\n")
    folder = tmp_path / "plots"
    status = main([str(SAMPLES / "sneaker.jpg"), str(fake), str(tmp_path / "missing.png"), str(other / "sneaker.jpg"),
                   "--saved-model", str(tiny_model), "--save-plots", "--plot-dir", str(folder)])
    assert status == 1
    out, err = capsys.readouterr()
    errors = _error_lines(err)
    assert len(errors) == 2 and "Traceback" not in err
    assert "notes.jpg" in errors[1] and "not an image file" in errors[1]
    assert "missing.png" in errors[0] and "no such file" in errors[0]
    assert out.count("top 3:") == 2
    assert {path.name for path in folder.iterdir()} == {"sneaker", "sneaker_2", "index.html"}
    assert (folder / "sneaker_2" / "cam.png").is_file()
    batch_page = (folder / "index.html").read_text(encoding="utf-8")
    assert 'href="sneaker/index.html"' in batch_page and "not classified" in batch_page


def test_all_inputs_bad_exits_2(tiny_model, tmp_path, capsys):
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert main([str(fake), str(empty), "--saved-model", str(tiny_model)]) == 2
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 2 and "fake.jpg" in errors[0] and "empty" in errors[1]


def test_missing_images_only_exit_2_before_loading_the_model(capsys):
    assert main(["/no/such/photo.jpg", "--saved-model", "/no/such/model.h5"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("classify.py: error: no such file or folder: '/no/such/photo.jpg'")


# ------------------------------------------------------------- bad models, flags


@pytest.mark.parametrize("make, message", [
    (lambda folder: folder / "missing.h5", "does not exist"),
    (lambda folder: _write(folder / "notes.h5", b"just some text\n"), "not a Keras model"),
    (lambda folder: _vector_model(folder), "does not take images"),
    (lambda folder: _five_class_model(folder), "expected one score for each of the 10"),
])
def test_bad_model_gives_one_line_and_exit_2(tmp_path, capsys, make, message):
    model = make(tmp_path)
    assert main([str(SAMPLES / "dress.jpg"), "--saved-model", str(model)]) == 2
    err = capsys.readouterr().err
    (line,) = _error_lines(err)
    assert message in line and "Traceback" not in err


def _write(path, data):
    path.write_bytes(data)
    return path


def _vector_model(folder):
    import keras

    from fashion_mnist_vis.models.model_io import save_model_atomic

    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(10)])
    return save_model_atomic(model, folder / "vector.keras")


def _five_class_model(folder):
    import keras

    from fashion_mnist_vis.models.model_io import save_model_atomic

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    return save_model_atomic(model, folder / "five.keras")


@pytest.mark.parametrize("flags, message", [
    (["--top-k", "0"], "must be at least 1"),
    (["--invert", "sometimes"], "invalid choice: 'sometimes'"),
    (["--preprocess", "fancy"], "invalid choice: 'fancy'"),
    (["--no-such-flag"], "unrecognized arguments"),
])
def test_bad_flags_give_one_line_and_exit_2(capsys, flags, message):
    assert main([str(SAMPLES / "dress.jpg"), *flags]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line


def test_plot_dir_that_is_a_file_exits_2(tmp_path, capsys):
    target = tmp_path / "plots"
    target.write_text("mine\n")
    assert main([str(SAMPLES / "dress.jpg"), "--save-plots", "--plot-dir", str(target)]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert target.read_text() == "mine\n"


def test_user_files_are_never_overwritten(tiny_model, tmp_path, capsys):
    """Inside the plot folder only our own names are written; a link there is replaced, not followed."""
    outside = tmp_path / "precious.png"
    outside.write_bytes(b"the user's own file")
    folder = tmp_path / "plots"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    os.symlink(outside, folder / "conv2d.png")
    assert main([str(SAMPLES / "ankle_boot.jpg"), "--saved-model", str(tiny_model), "--save-plots",
                 "--plot-dir", str(folder)]) == 0
    assert outside.read_bytes() == b"the user's own file"
    assert not (folder / "conv2d.png").is_symlink()
    _assert_png(folder / "conv2d.png")
    assert (folder / "notes.txt").read_text() == "keep me"
    assert not [path for path in folder.iterdir() if path.name.startswith(".")]  # no temporary files left


def test_preprocess_flags_reach_the_plots(tiny_model, tmp_path, capsys):
    folder = tmp_path / "plots"
    assert main([str(SAMPLES / "dress.jpg"), "--saved-model", str(tiny_model), "--preprocess", "original",
                 "--save-plots", "--plot-dir", str(folder)]) == 0
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "original demo" in page


# ---------------------------------------------------------------- subprocess


@pytest.mark.slow
def test_the_original_demo_command_verbatim(tiny_model, tmp_path):
    """`python fashion_mnist_vis/classify.py sample_images/black_bag.jpg --saved_model model.h5 --save_plots`."""
    from fashion_mnist_vis.models.model_io import load_model, save_model_atomic

    save_model_atomic(load_model(tiny_model), tmp_path / "model.h5")
    shutil.copytree(SAMPLES, tmp_path / "sample_images")
    shutil.copytree(REPO / "fashion_mnist_vis", tmp_path / "fashion_mnist_vis",
                    ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [sys.executable, "fashion_mnist_vis/classify.py", "sample_images/black_bag.jpg",
         "--saved_model", "model.h5", "--save_plots"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sample_images/black_bag.jpg: ")
    assert "plots: visualisations/index.html" in result.stdout
    note, model_line = result.stderr.splitlines()  # no training data on this machine: no unfamiliarity score
    assert note.startswith("note: unfamiliarity not computed: the model has no calibrated training index yet")
    assert model_line == "Model: model.h5 (tinyvgg, input 28 \u00d7 28 \u00d7 1, 4,430 parameters), run by NumPy"
    files = {path.name for path in (tmp_path / "visualisations").iterdir()}
    assert files == FIXED - {"cam_compare.png"} | {f"{name}.png" for name in _spatial_layers("tinyvgg")} | {
        "dense.png"}


@pytest.mark.slow
def test_without_plots_neither_matplotlib_nor_sklearn_is_imported(tiny_model):
    code = (
        "import sys\n"
        "from fashion_mnist_vis.classify import main\n"
        f"status = main([{str(SAMPLES / 'sneaker.jpg')!r}, '--saved-model', {str(tiny_model)!r}])\n"
        "print(status, sorted(name for name in ('matplotlib', 'sklearn') if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "0 []"


def test_a_reader_that_goes_away_ends_classify_quietly(tmp_path):
    """``classify.py ... | head -1``: when stdout's reader has gone, classify stops with status 141
    (what a shell reports for a broken pipe) and no traceback."""
    process = subprocess.Popen(
        [sys.executable, "fashion_mnist_vis/classify.py", str(SAMPLES), "--saved_model",
         str(trained_model_path("gap_cnn")), "--json"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    process.stdout.close()  # the reader is gone before the first result is written
    _, err = process.communicate(timeout=300)
    assert process.returncode == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err
