"""Unfamiliarity with every prediction by default (fashion_mnist_vis.explain.unfamiliarity_plan and the
commands' --no-unfamiliarity): train.py writes the index, the commands use it without flags, build it
once from the data on this machine, or say in one line why there is no score."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from fashion_mnist_vis.data.fashion_mnist import CACHE_ENV
from fashion_mnist_vis.data.idx import read_idx
from fashion_mnist_vis.explain.index_cache import beside_model
from fashion_mnist_vis.explain.unfamiliarity_plan import rough_build_time

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def no_cached_data(tmp_path, monkeypatch):
    """No Fashion-MNIST on this machine: an empty cache folder (conftest hides the system copy)."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "empty-cache"))


@pytest.fixture(scope="module")
def trained_with_index(tmp_path_factory, idx_dir):
    """tinyvgg trained by train.py for 2 epochs on conftest's 600 striped items; its printed lines."""
    from fashion_mnist_vis.commands.train import main

    folder = tmp_path_factory.mktemp("trained-index")
    model = folder / "model.keras"
    argv = ["--data-dir", str(idx_dir), "--model", "tinyvgg", "--epochs", "2", "--batch-size", "32",
            "--learning-rate", "0.01", "--precision", "float32", "--output", str(model),
            "--logdir", str(folder / "runs")]
    result = subprocess.run([sys.executable, str(REPO / "fashion_mnist_vis" / "train.py"), *argv],
                            capture_output=True, text=True, cwd=folder, timeout=600)
    assert result.returncode == 0, result.stderr
    return model, result.stdout


@pytest.fixture()
def item_photo(tmp_path, idx_dir) -> Path:
    path = tmp_path / "item.png"
    Image.fromarray(read_idx(idx_dir / "t10k-images-idx3-ubyte.gz", (28, 28))[3]).save(path)
    return path


def test_rough_build_time_by_hand():
    assert rough_build_time(70000) == "2 minutes"  # 70,000 / 600 per second = 117 s
    assert rough_build_time(800) == "5 seconds"
    assert rough_build_time(12000) == "20 seconds"


@pytest.mark.slow
def test_train_writes_the_index_and_classify_reports_unfamiliarity_without_flags(
        trained_with_index, item_photo, no_cached_data, capsys):
    """The index is calibrated on the 200 test images at the end of training; classify, given no data
    flags and with no Fashion-MNIST on the machine, reads it and scores the image; --no-unfamiliarity
    leaves the score out."""
    from fashion_mnist_vis.commands.classify import main

    model, train_output = trained_with_index
    (line,) = [line for line in train_output.splitlines() if line.startswith("Unfamiliarity index:")]
    assert "600 training images embedded and the thresholds calibrated on 200 held-out images" in line and " s; cached in " in line
    assert ", Mahalanobis distance " in line
    assert beside_model(model).is_file()
    assert main([str(item_photo), "--saved-model", str(model), "--json"]) == 0
    out, err = capsys.readouterr()
    found = json.loads(out)["unfamiliarity"]
    assert found["score_is"] and found["flagged"] == bool(found["flagged_by"])
    assert ("nearest_training_image" in found["flagged_by"]) == (found["score"] > found["threshold"])
    assert found["mahalanobis"]["threshold"] > 0
    assert found["calibration"].startswith("200 held-out images")
    assert "note:" not in err and "Embedding" not in err
    assert main([str(item_photo), "--saved-model", str(model)]) == 0
    out, _ = capsys.readouterr()
    assert "training image" in out.splitlines()[2] and "threshold" in out.splitlines()[2]
    assert main([str(item_photo), "--saved-model", str(model), "--json", "--no-unfamiliarity"]) == 0
    out, err = capsys.readouterr()
    assert "unfamiliarity" not in json.loads(out) and "unfamiliarity" not in err


@pytest.mark.slow
def test_explain_reports_unfamiliarity_by_default(trained_with_index, item_photo, no_cached_data, tmp_path, capsys):
    from fashion_mnist_vis.commands.explain import main

    model, _ = trained_with_index
    assert main([str(item_photo), "--saved-model", str(model), "--methods", "gradcam", "--json",
                 "--plot-dir", str(tmp_path / "pages")]) == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record["unfamiliarity"]) >= {"score", "threshold", "flagged", "score_is"}


def test_without_an_index_or_data_one_line_says_why_and_the_exit_status_is_0(
        tmp_path, item_photo, no_cached_data, capsys):
    from classify_helpers import save_tiny_model
    from fashion_mnist_vis.commands.classify import main

    model = save_tiny_model(tmp_path / "tiny.keras", seed=4, gap=True)
    assert main([str(item_photo), "--saved-model", str(model), "--json"]) == 0
    out, err = capsys.readouterr()
    notes = [line for line in err.splitlines() if "unfamiliarity" in line]
    assert notes == [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "not computed" in notes[0] and "not on this machine" in notes[0], err
    assert "unfamiliarity" not in json.loads(out) and "Traceback" not in err
    assert not beside_model(model).exists()


def test_with_the_data_at_hand_the_index_is_built_once_and_then_read(tmp_path, item_photo, idx_dir, capsys):
    from classify_helpers import save_tiny_model
    from fashion_mnist_vis.commands.classify import main

    model = save_tiny_model(tmp_path / "tiny.keras", seed=5, gap=True)
    argv = [str(item_photo), "--saved-model", str(model), "--json", "--data-dir", str(idx_dir)]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    (announce,) = [line for line in err.splitlines() if line.startswith("Unfamiliarity: no training index")]
    assert "600 training images" in announce and "roughly 5 seconds" in announce
    assert "Unfamiliarity thresholds calibrated on 200 held-out images" in err
    first = json.loads(out)["unfamiliarity"]
    assert main([str(item_photo), "--saved-model", str(model), "--json"]) == 0  # no data flags: the cache
    out, err = capsys.readouterr()
    assert json.loads(out)["unfamiliarity"] == first and "Unfamiliarity" not in err and "note:" not in err


def test_a_changed_model_file_is_not_scored_with_the_old_index(tmp_path, item_photo, idx_dir, no_cached_data, capsys):
    from classify_helpers import save_tiny_model
    from fashion_mnist_vis.commands.classify import main

    model = save_tiny_model(tmp_path / "tiny.keras", seed=6, gap=True)
    assert main([str(item_photo), "--saved-model", str(model), "--data-dir", str(idx_dir)]) == 0
    save_tiny_model(model, seed=7, gap=True)  # retrained: another file under the same name
    capsys.readouterr()
    assert main([str(item_photo), "--saved-model", str(model), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "unfamiliarity" not in json.loads(out) and "not computed" in err
