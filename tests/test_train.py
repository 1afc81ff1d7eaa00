"""train.py end to end: driven through main(argv) and as a subprocess."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import default_sigint, free_port, single_error_line
from fashion_mnist_vis.commands.train import main

REPO = Path(__file__).resolve().parents[1]
FLOAT32 = ["--precision", "float32"]  # tests that check what training reaches ask for one precision on every CPU
REPORT_IMAGES = ["training_curves.png", "confusion_matrix.png", "per_class_f1.png", "misclassified.png", "model.png"]


def _train(tmp_path, *extra, data=None):
    argv = [*(data or []), "--model", "tinyvgg", "--batch-size", "32", "--learning-rate", "0.01", *FLOAT32,
            "--output", str(tmp_path / "model.keras"), "--logdir", str(tmp_path / "runs"), *extra]
    return main(argv)


def _run_dir(tmp_path):
    (run_dir,) = (tmp_path / "runs").iterdir()
    return run_dir


@pytest.fixture(scope="module")
def trained(tmp_path_factory, idx_dir):
    """One real training run shared by the report checks: 4 epochs of tinyvgg on generated IDX files."""
    tmp_path = tmp_path_factory.mktemp("trained")
    assert _train(tmp_path, "--epochs", "4", data=["--data-dir", str(idx_dir)]) == 0
    return tmp_path, _run_dir(tmp_path)


def test_training_learns_and_writes_every_report_file(trained):
    tmp_path, run_dir = trained
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.9, metrics["test_accuracy"]  # the bars are trivially learnable
    assert metrics["parameters"] == 4430 and metrics["model"] == "tinyvgg"
    # trained with flips (the default augmentation): scored as classify predicts, with the mirror images
    assert metrics["mirror_average"] is True and 0.9 < metrics["test_accuracy_alone"] <= 1
    assert metrics["epochs_run"] == 4 and len(metrics["seconds_per_epoch_each"]) == 4
    assert metrics["train_images_per_second"] > 0
    assert set(metrics["per_class"]["Bag"]) == {"precision", "recall", "f1", "support"}
    assert metrics["dataset"]["train_images"] == 540 and metrics["dataset"]["validation_images"] == 60
    assert len(metrics["dataset"]["checksums"]) == 4 and metrics["seed"] == 42
    assert {"tensorflow", "keras", "numpy"} <= set(metrics["versions"])
    for name in REPORT_IMAGES:
        with Image.open(run_dir / name) as image:
            image.load()
            assert image.width > 300 and image.height > 150, name
            pixels = np.asarray(image.convert("L"))
            assert pixels.std() > 10, f"{name} looks blank"
    history = (run_dir / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch") and len(history) == 5


def test_best_model_is_saved_and_reloads(trained):
    import keras

    from conftest import make_striped_items
    from fashion_mnist_vis.data.pipeline import to_model_input

    tmp_path, _ = trained
    model = keras.models.load_model(tmp_path / "model.keras")
    images, labels = make_striped_items(100, seed=9)
    accuracy = (model.predict(to_model_input(images), verbose=0).argmax(axis=1) == labels).mean()
    assert accuracy > 0.9


def test_tensorboard_logs_hold_scalars_histograms_and_images(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run_dir = trained
    images = EventAccumulator(str(run_dir / "tensorboard" / "images")).Reload()
    assert {"sample_inputs", "confusion_matrix"} <= set(images.Tags()["tensors"]) | set(images.Tags()["images"])
    train_log = EventAccumulator(str(run_dir / "tensorboard" / "train"), size_guidance={"tensors": 0}).Reload()
    tags = set(train_log.Tags()["tensors"])
    assert "epoch_loss" in tags and any("histogram" in tag or "kernel" in tag for tag in tags), tags


def test_resume_continues_to_more_epochs(trained, idx_dir):
    tmp_path, run_dir = trained
    assert main(["--resume", str(run_dir), "--epochs", "5"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_run"] == 5
    assert len((run_dir / "history.csv").read_text().splitlines()) == 6
    state = json.loads((run_dir / "resume" / "state.json").read_text())
    assert state["epochs_done"] == 5 and len(state["history"]["loss"]) == 5


def test_resume_without_more_epochs_says_which_flag_to_raise(trained, capsys):
    _, run_dir = trained
    capsys.readouterr()
    assert main(["--resume", str(run_dir), "--epochs", "3"]) == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(r"train\.py: error: this run already did [45] epochs; ask for more epochs to continue "
                        r"\(--epochs\)", last_line), last_line


def test_target_accuracy_stops_early(tmp_path, idx_dir):
    assert _train(tmp_path, "--epochs", "10", "--target-accuracy", "0.5", data=["--data-dir", str(idx_dir)]) == 0
    metrics = json.loads((_run_dir(tmp_path) / "metrics.json").read_text())
    assert metrics["epochs_run"] < 10 and "reached" in metrics["stopped_because"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--epochs", "-1"], "must be at least 1"),
        (["--batch-size", "0"], "must be at least 1"),
        (["--val-split", "1.5"], "between 0 and 1"),
        (["--model", "vgg99"], "invalid choice: 'vgg99'"),
        (["--learning-rate", "zero"], "not a number"),
        (["--output", "model.pt"], "must end in .keras or .h5"),
        (["--resume", "/nonexistent/run"], "not a run folder"),
        (["--no-such-flag"], "unrecognized arguments"),
    ],
)
def test_bad_flags_give_one_line_and_exit_2(tmp_path, capsys, flags, message):
    assert main(["--dataset", "synthetic", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.iterdir())


def test_no_data_and_no_network_explains_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FASHION_MNIST_VIS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FASHION_MNIST_VIS_MIRRORS", f"http://127.0.0.1:{free_port()}/")
    assert _train(tmp_path) == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "train-images-idx3-ubyte.gz" in last_line and last_line.endswith("(--data-dir, --dataset synthetic)")
    assert "Traceback" not in last_line


@pytest.mark.slow
def test_synthetic_training_as_a_subprocess_reaches_a_real_accuracy_bar(tmp_path):
    command = [sys.executable, "fashion_mnist_vis/train.py", "--dataset", "synthetic", "--train-size", "4000",
               "--test-size", "1000", "--model", "tinyvgg", "--epochs", "4", "--learning-rate", "0.01", *FLOAT32,
               "--output", str(tmp_path / "model.h5"), "--logdir", str(tmp_path / "runs")]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Test accuracy" in result.stdout and "Traceback" not in result.stderr
    metrics = json.loads((_run_dir(tmp_path) / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.8, metrics["test_accuracy"]
    assert metrics["dataset"]["source"].startswith("synthetic")
    assert (tmp_path / "model.h5").stat().st_size > 10_000


@pytest.mark.slow
def test_ctrl_c_mid_training_keeps_the_best_model_and_explains_resume(tmp_path):
    import signal
    import time

    command = [sys.executable, "-m", "fashion_mnist_vis.train", "--dataset", "synthetic", "--train-size", "20000",
               "--test-size", "500", "--model", "tinyvgg", "--epochs", "50", "--batch-size", "16", *FLOAT32,
               "--output", str(tmp_path / "model.keras"), "--logdir", str(tmp_path / "runs")]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=default_sigint)
    deadline = time.monotonic() + 300
    while not (tmp_path / "model.keras").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)
    time.sleep(1.0)  # now inside epoch 2
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert "--resume" in err and "interrupted" in err
    from fashion_mnist_vis.models.model_io import load_model

    assert load_model(tmp_path / "model.keras").count_params() == 4430
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary file left behind"


def test_logdir_that_is_a_file_is_refused(tmp_path, idx_dir, capsys):
    blocker = tmp_path / "runs"
    blocker.write_text("mine")
    assert main(["--data-dir", str(idx_dir), "--logdir", str(blocker), "--output", str(tmp_path / "m.keras")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert blocker.read_text() == "mine"


SYNTHETIC = ["--dataset", "synthetic", "--train-size", "1000", "--test-size", "200"]


@pytest.mark.slow
def test_lr_find_plots_and_suggests_but_keeps_no_model(tmp_path, capsys):
    assert _train(tmp_path, "--lr-find", "--lr-find-steps", "40", data=SYNTHETIC) == 0
    out = capsys.readouterr().out
    assert "Suggested learning rate (min/10):" in out
    run_dir = _run_dir(tmp_path)
    assert sorted(p.name for p in run_dir.iterdir()) == ["lr_finder.csv", "lr_finder.png"]
    assert not (tmp_path / "model.keras").exists()
    rows = (run_dir / "lr_finder.csv").read_text().splitlines()
    assert rows[0] == "step,learning_rate,loss,smoothed_loss" and 10 < len(rows) <= 41
    assert float(rows[1].split(",")[1]) == pytest.approx(1e-6)


@pytest.mark.slow
def test_auto_learning_rate_and_embedding_snapshots(tmp_path):
    assert _train(tmp_path, "--learning-rate", "auto", "--lr-find-steps", "40", "--epochs", "2",
                  "--embedding-snapshots", "1", data=SYNTHETIC) == 0
    run_dir = _run_dir(tmp_path)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    finder = metrics["learning_rate_finder"]
    assert metrics["learning_rate"] == pytest.approx(finder["suggested_learning_rate"], rel=1e-2)
    assert metrics["settings"]["learning_rate"] == metrics["learning_rate"] and finder["rule"].startswith("min/10")
    assert json.loads((run_dir / "run_config.json").read_text())["learning_rate"] == metrics["learning_rate"]
    with Image.open(run_dir / "embedding_snapshots.gif") as gif:
        assert gif.n_frames == 3  # before training, after epochs 1 and 2
    snapshots = np.load(run_dir / "embedding_snapshots.npz")
    assert snapshots["epochs"].tolist() == [0, 1, 2]
    assert snapshots["embeddings"].shape == (3, 100, 250)  # all 100 validation images; tinyvgg's flatten is 250-d
    with Image.open(run_dir / "embedding_snapshots.png") as grid:
        assert grid.width > 600


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--learning-rate", "fast"], "'fast' is not a number"),
        (["--lr-find-steps", "3"], "must be at least 10"),
        (["--lr-find", "--resume", "/tmp"], "leave out --lr-find"),
        (["--embedding-snapshots", "0"], "must be at least 1"),
    ],
)
def test_bad_experiment_flags_exit_2(tmp_path, capsys, flags, message):
    assert main(["--dataset", "synthetic", *flags]) == 2
    assert message in single_error_line(capsys)


@pytest.mark.slow
def test_the_quick_preset_sets_the_epoch_budget_and_epochs_overrides_it(tmp_path, capsys):
    data = ["--dataset", "synthetic", "--train-size", "100", "--test-size", "40"]
    assert _train(tmp_path / "quick", "--preset", "quick", data=data) == 0
    out = capsys.readouterr().out
    assert "Epoch 4/5 took" in out and "left, until" in out  # the ETA line after each epoch but the last
    assert json.loads((_run_dir(tmp_path / "quick") / "run_config.json").read_text())["epochs"] == 5
    assert _train(tmp_path / "two", "--preset", "quick", "--epochs", "2", data=data) == 0
    assert json.loads((_run_dir(tmp_path / "two") / "run_config.json").read_text())["epochs"] == 2


def test_a_model_trained_without_flips_is_scored_on_the_images_alone(tmp_path, capsys):
    data = ["--dataset", "synthetic", "--train-size", "100", "--test-size", "40"]
    assert _train(tmp_path, "--epochs", "1", "--no-augment", "--no-unfamiliarity", data=data) == 0
    metrics = json.loads((_run_dir(tmp_path) / "metrics.json").read_text())
    assert metrics["mirror_average"] is False and "test_accuracy_alone" not in metrics
    assert re.search(r"^Test accuracy [01]\.\d{4}, loss", capsys.readouterr().out, re.MULTILINE)


@pytest.mark.slow
def test_the_auto_preset_says_what_it_chose_for_this_precision(tmp_path, capsys):
    data = ["--dataset", "synthetic", "--train-size", "100", "--test-size", "20"]
    assert _train(tmp_path / "auto", data=data) == 0  # FLOAT32: training computes in float32, so auto = full
    assert "Epochs: 15 (--preset auto: full, as training computes in float32 here" in capsys.readouterr().out
    assert json.loads((_run_dir(tmp_path / "auto") / "run_config.json").read_text())["epochs"] == 15
