"""Distributed training: strategy choice, TF_CONFIG, batch arithmetic, and real tf.distribute runs on CPU.

The end-to-end tests run train.py as subprocesses: MirroredStrategy over two
logical CPU devices, and MultiWorkerMirroredStrategy with two worker
processes on 127.0.0.1 that are killed after their first backed-up epoch and
restarted, as a cluster scheduler would.
"""

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import free_port, single_error_line
from fashion_mnist_vis.training.backup_restore import backup_epochs, run_place, truncate_csv, truncate_history
from fashion_mnist_vis.training.distribute import (
    CPU_DEVICES_ENV,
    Distribution,
    global_batch_size,
    parse_tf_config,
    resolve_strategy,
)
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.commands.train import device_list, main
from fashion_mnist_vis.training.trainer import TrainConfig

REPO = Path(__file__).resolve().parents[1]
# --schedule plateau: a constant rate; the default cosine schedule would spend a one-epoch run warming up,
# leaving its model near chance
TINY_RUN = ["--dataset", "synthetic", "--train-size", "400", "--test-size", "100", "--model", "tinyvgg",
            "--batch-size", "16", "--learning-rate", "0.01", "--precision", "float32", "--schedule", "plateau"]
CLUSTER_TIMEOUT = 300  # seconds for one launch of the two-worker cluster; killed after that


# --------------------------------------------------------------------------
# Units: no strategy is created


@pytest.mark.parametrize("requested, gpus, expected", [
    ("auto", [], "one"),
    ("auto", ["GPU:0"], "one"),
    ("auto", ["GPU:0", "GPU:1"], "mirrored"),
    ("one", ["GPU:0", "GPU:1"], "one"),
    ("mirrored", [], "mirrored"),
    ("multiworker", ["GPU:0"], "multiworker"),
])
def test_auto_picks_mirrored_only_with_several_gpus(requested, gpus, expected):
    assert resolve_strategy(requested, gpus) == expected


def test_unknown_strategy_is_refused():
    with pytest.raises(UserError, match="unknown strategy 'tpu'"):
        resolve_strategy("tpu", [])


def test_global_batch_is_per_replica_batch_times_replicas():
    assert global_batch_size(32, 1) == 32
    assert global_batch_size(32, 2) == 64
    assert global_batch_size(128, 8) == 1024
    with pytest.raises(ValueError):
        global_batch_size(0, 2)
    distribution = Distribution("mirrored", replicas=4, devices=("GPU:0", "GPU:1", "GPU:2", "GPU:3"))
    assert distribution.settings(16)["global_batch_size"] == 64
    assert distribution.describe(16) == "mirrored, 4 replicas (GPU:0, GPU:1, GPU:2, GPU:3), global batch 64 = 16 x 4"


def test_device_list_normalises_names_and_refuses_junk():
    assert device_list("gpu:0, GPU:1") == ("GPU:0", "GPU:1")
    assert device_list("/device:CPU:0,cpu:1") == ("CPU:0", "CPU:1")
    for bad in ("GPU", "TPU:0", "GPU:0,GPU:0", "GPU:x", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            device_list(bad)


def _tf_config(cluster, task_type, index):
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


def test_tf_config_worker_zero_is_chief_without_a_chief_task():
    cluster = {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}
    first, second = parse_tf_config(_tf_config(cluster, "worker", 0)), parse_tf_config(_tf_config(cluster, "worker", 1))
    assert first.is_chief and not second.is_chief
    assert (second.task_type, second.index, second.workers, second.name) == ("worker", 1, 2, "worker-1")


def test_tf_config_chief_task_is_chief_and_worker_zero_is_not():
    cluster = {"chief": ["10.0.0.1:2222"], "worker": ["10.0.0.2:2222", "10.0.0.3:2222"]}
    assert parse_tf_config(_tf_config(cluster, "chief", 0)).is_chief
    worker = parse_tf_config(_tf_config(cluster, "worker", 0))
    assert not worker.is_chief and worker.workers == 3


@pytest.mark.parametrize("text, message", [
    (None, "needs the TF_CONFIG environment variable"),
    ("", "needs the TF_CONFIG environment variable"),
    ("{cluster", "not valid JSON"),
    ("[]", "must be a JSON object"),
    ('{"cluster": {"worker": ["a:1"]}}', "must be a JSON object"),
    ('{"cluster": {"ps": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": 0}}', "'ps' tasks"),
    ('{"cluster": {"worker": ["no-port"]}, "task": {"type": "worker", "index": 0}}', "host:port"),
    ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "host:port"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', "not in the cluster"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}', "between 0 and 1"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "0"}}', "between 0 and 0"),
    ('{"cluster": {"chief": ["a:1", "b:1"]}, "task": {"type": "chief", "index": 0}}', "at most one"),
])
def test_bad_tf_config_is_one_clear_error(text, message):
    with pytest.raises(UserError, match=message) as error:
        parse_tf_config(text)
    assert "\n" not in str(error.value)


def test_history_and_csv_are_cut_back_to_the_backed_up_epochs(tmp_path):
    assert truncate_history({"loss": [3.0, 2.0, 1.0], "val_loss": [2.5]}, 2) == {"loss": [3.0, 2.0], "val_loss": [2.5]}
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0,3.0\n1,2.0\n2,1.0\n")
    truncate_csv(path, 2)
    assert path.read_text() == "epoch,loss\n0,3.0\n1,2.0\n"
    truncate_csv(tmp_path / "absent.csv", 1)  # nothing to cut, no error
    assert not (tmp_path / "absent.csv").exists()


def _fake_backup(task_backup: Path, epochs: int) -> None:
    (task_backup / "keras").mkdir(parents=True, exist_ok=True)
    (task_backup / "keras" / "training_metadata.json").write_text(json.dumps({"epoch": epochs, "batch": 0}))


def test_run_place_non_chief_writes_only_to_a_temporary_folder(tmp_path):
    from fashion_mnist_vis.training.trainer import new_run_dir

    task = parse_tf_config(_tf_config({"worker": ["a:1", "b:1"]}, "worker", 1))
    distribution = Distribution("multiworker", replicas=2, task=task)
    config = TrainConfig(model="tinyvgg", output=str(tmp_path / "out" / "model.keras"))
    logdir = tmp_path / "runs"
    with run_place(distribution, config, logdir, logdir / "backup", new_run_dir) as place:
        assert place.scratch.is_dir() and place.run_dir.is_dir() and not place.restarted
        assert Path(place.output).parent == place.scratch and place.backup_dir == logdir / "backup" / "worker-1"
        _fake_backup(place.backup_dir, 1)  # what BackupAndRestore writes after an epoch
        place.completed = True
    assert not place.scratch.exists()
    assert sorted(tmp_path.iterdir()) == []  # no run folder, no model, no backup left


def test_run_place_chief_restarts_into_its_run_folder_and_checks_the_settings(tmp_path):
    from fashion_mnist_vis.training.trainer import new_run_dir

    config = TrainConfig(model="tinyvgg", output=str(tmp_path / "model.keras"))
    logdir, backup_root = tmp_path / "runs", tmp_path / "backup"
    with run_place(Distribution(), config, logdir, backup_root, new_run_dir) as first:
        _fake_backup(first.backup_dir, 2)  # then the process dies: not completed
    assert backup_epochs(first.backup_dir) == 2 and first.run_dir.parent == logdir
    config.epochs = 30  # a larger --epochs is still the same run
    with run_place(Distribution(), config, logdir, backup_root, new_run_dir) as second:
        assert second.restarted and second.run_dir == first.run_dir
        second.completed = True
    assert not backup_root.exists() and first.run_dir.is_dir()

    with run_place(Distribution(), config, logdir, backup_root, new_run_dir) as third:
        _fake_backup(third.backup_dir, 1)
    assert backup_root.is_dir()  # kept: training did not complete
    other = TrainConfig(model="dense", output=config.output)
    with pytest.raises(UserError, match="from a run with other settings"):
        with run_place(Distribution(), other, logdir, backup_root, new_run_dir):
            pass


@pytest.mark.parametrize("flags, env, message", [
    (["--strategy", "multiworker"], {}, "needs the TF_CONFIG environment variable (see the README), e.g. "),
    (["--strategy", "multiworker"], {"TF_CONFIG": "{oops"}, "TF_CONFIG is not valid JSON"),
    (["--strategy", "one", "--devices", "CPU:0"], {}, "devices is for the mirrored strategy, not one (--devices, --strategy mirrored)"),
    (["--strategy", "mirrored", "--devices", "GPU:7"], {}, "no device GPU:7 here"),
    (["--strategy", "mirrored", "--lr-find"], {}, "range test runs on one device"),
    (["--learning-rate", "auto", "--backup-dir", "b"], {}, "range test runs on one device"),
    (["--strategy", "multiworker", "--resume", "r"], {}, "continues by itself"),
    (["--strategy", "two"], {}, "invalid choice: 'two'"),
    (["--devices", "GPU"], {}, "is not a device"),
])
def test_bad_distribution_flags_give_one_line_and_exit_2(tmp_path, monkeypatch, capsys, flags, env, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    assert main([*TINY_RUN, "--output", str(tmp_path / "m.keras"), "--logdir", str(tmp_path / "runs"), *flags]) == 2
    assert message in single_error_line(capsys)
    assert not list(tmp_path.iterdir())


def test_bad_cpu_device_count_is_refused(monkeypatch):
    from fashion_mnist_vis.training.distribute import split_cpu_from_environment

    with pytest.raises(UserError, match=CPU_DEVICES_ENV):
        split_cpu_from_environment({CPU_DEVICES_ENV: "two"})
    assert split_cpu_from_environment({}) == 1


# --------------------------------------------------------------------------
# End to end: real strategies in subprocesses


def _environment(**extra):
    env = {key: value for key, value in os.environ.items() if key not in ("TF_CONFIG", CPU_DEVICES_ENV)}
    env.update(extra)
    return env


def _history(run_dir: Path):
    with open(run_dir / "history.csv") as handle:
        return list(csv.DictReader(handle))


def _check_model_predicts(path: Path):
    from fashion_mnist_vis.models.model_io import load_model
    from fashion_mnist_vis.data.pipeline import to_model_input
    from fashion_mnist_vis.data.synthetic import generate_synthetic

    images, labels = generate_synthetic(200, seed=7)
    probabilities = load_model(path).predict(to_model_input(images), verbose=0)
    assert probabilities.shape == (200, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)
    return (probabilities.argmax(axis=1) == labels).mean()


@pytest.fixture(scope="module")
def mirrored_run(tmp_path_factory):
    """train.py with MirroredStrategy over two logical CPU devices: 1 epoch, 16 images per replica."""
    tmp_path = tmp_path_factory.mktemp("mirrored")
    command = [sys.executable, "-m", "fashion_mnist_vis.train", *TINY_RUN, "--epochs", "1", "--strategy", "mirrored",
               "--devices", "CPU:0,CPU:1", "--output", str(tmp_path / "model.keras"),
               "--logdir", str(tmp_path / "runs")]
    result = subprocess.run(command, cwd=REPO, env=_environment(**{CPU_DEVICES_ENV: "2"}), capture_output=True,
                            text=True, timeout=CLUSTER_TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    return tmp_path, run_dir, result.stdout


@pytest.mark.slow
def test_mirrored_over_two_cpu_devices_trains_and_the_model_predicts(mirrored_run):
    tmp_path, run_dir, stdout = mirrored_run
    assert "Strategy: mirrored, 2 replicas (CPU:0, CPU:1), global batch 32 = 16 x 2" in stdout
    assert "12/12" in stdout  # 360 training images in global batches of 32
    settings = json.loads((run_dir / "metrics.json").read_text())["settings"]
    assert settings["batch_size"] == 16 and settings["distribution"]["global_batch_size"] == 32
    assert json.loads((run_dir / "run_config.json").read_text())["distribution"]["replicas"] == 2
    assert len(_history(run_dir)) == 1
    assert _check_model_predicts(tmp_path / "model.keras") > 0.3  # chance is 0.1


def _launch_cluster(roots, extra, deadline_s=CLUSTER_TIMEOUT):
    """Start one train.py per entry of ``roots`` (task i writes under roots[i]) as a cluster on 127.0.0.1."""
    ports = set()
    while len(ports) < len(roots):  # free now; another process may take one before TF binds it (see _start)
        ports.add(free_port())
    cluster = {"worker": [f"127.0.0.1:{port}" for port in sorted(ports)]}
    processes = []
    for index, root in enumerate(roots):
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        env = _environment(TF_CONFIG=_tf_config(cluster, "worker", index), TMPDIR=str(root / "tmp"))
        command = [sys.executable, "-m", "fashion_mnist_vis.train", *TINY_RUN, "--strategy", "multiworker",
                   "--output", str(root / "out" / "model.keras"), "--logdir", str(root / "runs"), *extra]
        log = open(root / f"log-{time.monotonic_ns()}.txt", "w")
        processes.append((subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    return processes


def _finish(processes, timeout):
    """Wait for every process (killing all of them past ``timeout``); return the exit codes."""
    deadline = time.monotonic() + timeout
    codes = []
    for process, log in processes:
        try:
            codes.append(process.wait(timeout=max(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            for other, _ in processes:
                other.kill()
            codes.append("timeout")
        log.close()
    for process, _ in processes:
        process.wait()
    return codes


def _port_taken(roots) -> bool:
    """Whether a task of the last launch failed because its port was taken meanwhile."""
    last_logs = [sorted(root.glob("log-*.txt"))[-1].read_text() for root in roots]
    return any("Address already in use" in text or "Failed to add port" in text for text in last_logs)


def _start(roots, extra):
    """Launch the cluster; once more on new ports if a port was taken between choosing and binding it."""
    processes = _launch_cluster(roots, extra)
    time.sleep(5)
    if any(process.poll() not in (None, 0) for process, _ in processes) and _port_taken(roots):
        _finish(processes, 60)
        processes = _launch_cluster(roots, extra)
    return processes


def _log_tail(root: Path) -> str:
    logs = sorted(root.glob("log-*.txt"))
    return "".join(f"--- {log}\n{log.read_text()[-2500:]}" for log in logs)


@pytest.mark.slow
def test_multiworker_cluster_restarts_from_its_backup_and_the_chief_keeps_the_model(tmp_path, mirrored_run):
    chief, worker = tmp_path / "chief", tmp_path / "worker"
    epochs = ["--epochs", "2"]

    # 1. Start both workers; kill both once each has backed up epoch 1 (a preempted cluster).
    processes = _start([chief, worker], epochs)
    backups = [chief / "runs" / "backup" / "worker-0", worker / "runs" / "backup" / "worker-1"]
    deadline = time.monotonic() + CLUSTER_TIMEOUT
    while time.monotonic() < deadline and all(process.poll() is None for process, _ in processes):
        if all(backup_epochs(backup) >= 1 for backup in backups):
            break
        time.sleep(0.2)
    for process, _ in processes:
        process.send_signal(signal.SIGKILL)
    codes = _finish(processes, 60)
    assert codes == [-signal.SIGKILL] * 2, f"the cluster ended before it was killed: {codes}\n{_log_tail(chief)}"
    done = [backup_epochs(backup) for backup in backups]
    assert done == [1, 1], done

    # 2. Run the same commands again (new ports): both continue from the backup and finish.
    codes = _finish(_start([chief, worker], epochs), CLUSTER_TIMEOUT)
    assert codes == [0, 0], f"{codes}\n{_log_tail(chief)}\n{_log_tail(worker)}"
    assert "Restarting from the backup" in _log_tail(chief)

    (run_dir,) = (chief / "runs").iterdir()  # the restart reused the chief's run folder; the backup is gone
    rows = _history(run_dir)
    assert [row["epoch"] for row in rows] == ["0", "1"]  # every epoch counted once
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and metrics["settings"]["distribution"]["workers"] == 2
    assert metrics["settings"]["distribution"]["global_batch_size"] == 32
    assert len(json.loads((run_dir / "resume" / "state.json").read_text())["history"]["loss"]) == 2
    assert _check_model_predicts(chief / "out" / "model.keras") > 0.4

    # Same global batches, same seed: the first epoch is the same computation as mirrored over two devices.
    _, mirrored_dir, _ = mirrored_run
    assert float(rows[0]["loss"]) == pytest.approx(float(_history(mirrored_dir)[0]["loss"]), rel=1e-3)

    # The worker left nothing in its output paths: no model, no run folder, no backup. Of its temporary
    # folders only the killed process's remains (SIGKILL leaves no time to clean up). TensorFlow's
    # autograph also writes __autograph_generated_file*.py there; those are not ours.
    assert sorted(path.name for path in worker.iterdir() if not path.name.startswith("log-")) == ["tmp"]
    assert len(list((worker / "tmp").glob("fashion-mnist-vis-worker-*"))) == 1
