"""classify --neighbours K: explanation by example through main(argv), as a subprocess and in headless Chromium.

The training set is conftest's generated IDX folder (600 striped items, read with --data-dir); the model
is a tiny network with random weights whose embedding is its last Dense layer's input. A 28 x 28 PNG of a training image passes through preprocessing
unchanged, so its nearest training image is itself, at distance 0.
"""

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

from browser_helpers import CHROMIUM, loaded_image_widths
from classify_helpers import save_tiny_model
from conftest import single_error_line
from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.commands.classify import main
from fashion_mnist_vis.data.fashion_mnist import CACHE_ENV
from fashion_mnist_vis.data.idx import read_idx

REPO = Path(__file__).resolve().parents[1]
QUERY = 42  # the training image classified


@pytest.fixture
def setup(tmp_path, idx_dir, monkeypatch):
    """(model path, a PNG of training image QUERY, its label, the data flags)."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "user-cache"))
    model = save_tiny_model(tmp_path / "tiny.keras", seed=3)
    images = read_idx(idx_dir / "train-images-idx3-ubyte.gz", (28, 28))
    labels = read_idx(idx_dir / "train-labels-idx1-ubyte.gz")
    photo = tmp_path / "item.png"
    Image.fromarray(images[QUERY]).save(photo)
    return model, photo, int(labels[QUERY]), ["--data-dir", str(idx_dir)]


def test_json_lists_the_neighbours_and_the_class_examples(setup, idx_dir, capsys):
    model, photo, label, data = setup
    status = main([str(photo), "--saved-model", str(model), "--neighbours", "5", "--json", *data])
    assert status == 0
    out, err = capsys.readouterr()
    record = json.loads(out)
    found = record["neighbours"]
    assert found["k"] == 5 and found["training_images"]["count"] == 600
    assert found["embedding"] == {"layer": "classifier", "role": "input of the last Dense layer"}
    nearest = found["nearest"]
    assert nearest[0]["train_index"] == QUERY and nearest[0]["distance"] == pytest.approx(0.0, abs=1e-5)
    assert nearest[0]["class_index"] == label
    distances = [item["distance"] for item in nearest]
    assert distances == sorted(distances) and len({item["train_index"] for item in nearest}) == 5
    labels = read_idx(idx_dir / "train-labels-idx1-ubyte.gz")
    predicted = record["class_index"]
    for item in nearest + found["prototypes"] + found["atypical"]:
        assert item["class_index"] == int(labels[item["train_index"]])
        assert item["class"] == CLASS_NAMES[item["class_index"]]
        assert item["other_class"] == (item["class_index"] != predicted)
    assert found["class"] == record["prediction"]
    assert len(found["prototypes"]) == 3 and len(found["atypical"]) == 5
    assert all(item["class_index"] == predicted for item in found["prototypes"] + found["atypical"])
    assert found["agreement"] == pytest.approx(sum(not item["other_class"] for item in nearest) / 5)
    assert "Embedding 600 training images" in err and f"cached in {model}.neighbours.npz" in err


def test_the_second_run_reads_the_cache_and_a_new_model_file_rebuilds_it(setup, capsys):
    model, photo, _, data = setup
    assert main([str(photo), "--saved-model", str(model), "--neighbours", "3", *data]) == 0
    first = capsys.readouterr()
    cache = Path(f"{model}.neighbours.npz")
    written = cache.stat().st_mtime_ns
    assert main([str(photo), "--saved-model", str(model), "--neighbours", "3", *data]) == 0
    second = capsys.readouterr()
    assert f"read from {cache}" in second.err and "Embedding" not in second.err
    assert cache.stat().st_mtime_ns == written
    assert second.out == first.out  # the same neighbours from the cache as from the fresh index
    line = next(line for line in second.out.splitlines() if "nearest training images (cosine distance): " in line)
    listed = line.split("nearest training images (cosine distance): ")[1].split(", ")
    assert len(listed) == 3 and all(re.fullmatch(r"[A-Za-z/ -]+ \d\.\d{3}", item) for item in listed), listed
    save_tiny_model(model, seed=4)
    assert main([str(photo), "--saved-model", str(model), "--neighbours", "3", *data]) == 0
    assert "Embedding 600 training images" in capsys.readouterr().err
    assert cache.stat().st_mtime_ns != written


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder on a read-only file system holding a copy of ``tiny.keras`` (a tmpfs mounted, filled and
    remounted read-only; root can write into a chmod 555 folder, not into a read-only mount)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_a_read_only_model_folder_caches_the_index_in_the_user_cache(setup, read_only_folder, tmp_path, capsys):
    model, photo, _, data = setup
    shutil.copy(model, read_only_folder / "tiny.keras")
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_folder)], check=True)
    model = read_only_folder / "tiny.keras"
    assert main([str(photo), "--saved-model", str(model), "--neighbours", "3", *data]) == 0
    err = capsys.readouterr().err
    cached = list((tmp_path / "user-cache" / "neighbours").glob("tiny.keras-*.neighbours.npz"))
    assert len(cached) == 1, err
    assert f"note: cannot write into the model's folder {str(read_only_folder)!r}" in err
    assert f"cached in {str(cached[0])!r} instead" in err
    assert main([str(photo), "--saved-model", str(model), "--neighbours", "3", *data]) == 0
    assert f"read from {cached[0]}" in capsys.readouterr().err


@pytest.mark.parametrize("k, message", [
    ("0", "argument --neighbours/--neighbors: 0 must be at least 1"),
    ("-2", "argument --neighbours/--neighbors: -2 must be at least 1"),
    ("601", "cannot show 601 neighbours: the training set has 600 images"),
])
def test_bad_k_gives_one_line_and_exit_2(setup, capsys, k, message):
    model, photo, _, data = setup
    assert main([str(photo), "--saved-model", str(model), "--neighbours", k, *data]) == 2
    line = single_error_line(capsys)
    assert message in line and "Traceback" not in line
    assert not Path(f"{model}.neighbours.npz").exists()


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_page_shows_the_examples_in_headless_chromium(setup, tmp_path):
    model, photo, _, data = setup
    plots = tmp_path / "plots"
    result = subprocess.run(
        [sys.executable, str(REPO / "fashion_mnist_vis" / "classify.py"), str(photo), "--saved_model", str(model),
         "--neighbours", "4", "--save_plots", "--plot_dir", str(plots), *data],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = (plots / "index.html").read_text(encoding="utf-8")
    assert "Training images it resembles" in page and "Prototypes of" in page and "Atypical training images" in page
    loaded = loaded_image_widths(plots / "index.html", tmp_path / "profile")
    assert set(loaded) == {path.name for path in plots.glob("*.png")}
    for name in ("neighbours.png", "prototypes.png", "atypical.png"):
        assert loaded[name] >= 300, loaded  # three thumbnails or more, 160 px each
        with Image.open(plots / name) as image:
            assert np.asarray(image.convert("L")).std() > 10, f"{name} looks blank"


def test_a_model_for_other_image_sizes_gives_one_line(setup, tmp_path, capsys):
    import keras

    from fashion_mnist_vis.models.model_io import save_model_atomic

    _, photo, _, data = setup
    inputs = keras.Input((32, 32, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(inputs))
    model = save_model_atomic(keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(pooled)),
                              tmp_path / "wide.keras")
    assert main([str(photo), "--saved-model", str(model), "--neighbours", "3", *data]) == 2
    line = single_error_line_after_notes(capsys)
    assert "the model takes 32x32 images but the dataset's are 28x28" in line


def single_error_line_after_notes(capsys) -> str:
    """The one ``error:`` line on stderr (the note that the index is being built comes before it)."""
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1, errors
    return errors[0]
