"""Where each task of a training run writes, and how an interrupted run continues from its backup.

:func:`run_place` picks the run folder and model path of this process: the
chief's ``logdir/<model>-<time>`` (or, after a restart, the folder recorded in
its backup), a temporary folder for other workers. Every task backs up its
training state after each epoch (:func:`backup_callback`, Keras's
``BackupAndRestore``) into ``backup_root/<task>``; a restarted run continues
from the last finished epoch (:func:`backup_epochs`), and the history and CSV
log are cut back to it (:func:`truncate_history`, :func:`truncate_csv`).
Strategies themselves are in :mod:`fashion_mnist_vis.training.distribute`.
"""

import contextlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.training.distribute import Distribution

RUN_RECORD = "run.json"  # in a task's backup folder: the chief's run folder and settings, for restarts
KERAS_BACKUP = "keras"  # in a task's backup folder: what keras.callbacks.BackupAndRestore writes
KERAS_BACKUP_METADATA = "training_metadata.json"  # BackupAndRestore's record of the epochs done


@dataclass
class RunPlace:
    """Where this process writes.

    Attributes:
        run_dir: the run folder (a temporary folder on non-chief workers).
        output: the model file (in the temporary folder on non-chief workers).
        backup_dir: this task's BackupAndRestore folder, or None for no backup.
        restarted: True when a backup from an interrupted run was found.
        scratch: the temporary folder to delete at the end (non-chief only).
        completed: set it once training finished, so the backup is removed.
    """

    run_dir: Path
    output: str
    backup_dir: Optional[Path] = None
    restarted: bool = False
    scratch: Optional[Path] = None
    completed: bool = False


@contextlib.contextmanager
def run_place(
    distribution: Distribution, config, logdir: Path, backup_root: Optional[Path], new_run_dir
) -> Iterator[RunPlace]:
    """Choose the run folder and model path of this task; clean up after training.

    The chief creates ``logdir/<model>-<time>`` with ``new_run_dir(logdir,
    model)``, or, restarting after an interruption (a backup is in
    ``backup_root/<task>``), reuses the run folder recorded there. Other
    workers write into a temporary folder, deleted when the block ends. When
    the caller marks the place ``completed``, this task's backup folder (and
    any folder created just to hold it) is removed at the end.

    Raises:
        UserError: if the backup belongs to a run with other settings.
    """
    task_backup = Path(backup_root) / distribution.task_name if backup_root is not None else None
    restarted = task_backup is not None and backup_epochs(task_backup) > 0
    settings = {key: value for key, value in asdict(config).items() if key != "epochs"}
    record = _read_run_record(task_backup) if restarted else {}
    if restarted and record.get("settings") != settings:
        raise UserError(f"the backup in {task_backup} is from a run with other settings; delete that folder to "
                        "start afresh or choose another backup folder", settings=("backup_dir",))
    # Folders made only for the backup (by this run or the interrupted one): removed at the end if empty.
    if restarted:
        created = record.get("created") or []
    elif backup_root is not None:
        created = [str(folder) for folder in (Path(backup_root), Path(backup_root).parent) if not folder.exists()]
    else:
        created = []
    if not distribution.is_chief:
        scratch = Path(tempfile.mkdtemp(prefix=f"fashion-mnist-vis-{distribution.task_name}-"))
        place = RunPlace(scratch / "run", str(scratch / Path(config.output).name), task_backup, restarted, scratch)
        place.run_dir.mkdir()
    elif restarted:
        place = RunPlace(Path(record["run_dir"]), config.output, task_backup, True)
    else:
        place = RunPlace(new_run_dir(logdir, config.model), config.output, task_backup)
    if task_backup is not None and not restarted:
        from fashion_mnist_vis.atomic import write_json_atomic

        run_dir = str(place.run_dir) if distribution.is_chief else None
        write_json_atomic(task_backup / RUN_RECORD, {"run_dir": run_dir, "settings": settings, "created": created})
    try:
        yield place
        if place.completed and task_backup is not None:
            shutil.rmtree(task_backup, ignore_errors=True)
            for folder in [Path(backup_root), *map(Path, created)]:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only if empty: another task's backup or the chief's runs may be there
    finally:
        if place.scratch is not None:
            shutil.rmtree(place.scratch, ignore_errors=True)


def _read_run_record(task_backup: Path) -> dict:
    try:
        record = json.loads((task_backup / RUN_RECORD).read_text())
        if not isinstance(record, dict) or "settings" not in record or "run_dir" not in record:
            raise ValueError(f"{RUN_RECORD} lacks the run's settings or folder")
        return record
    except (OSError, ValueError) as error:
        raise UserError(f"cannot restart from the backup in {task_backup}: {error}; delete that folder to start "
                        "afresh") from None


def backup_callback(task_backup: Path):
    """``keras.callbacks.BackupAndRestore`` writing into ``task_backup/keras``.

    It saves weights, optimizer state and the epoch count after every epoch
    (keeping the previous copy too), restores them when ``fit`` starts, and
    deletes them when ``fit`` finishes.
    """
    import keras

    return keras.callbacks.BackupAndRestore(str(Path(task_backup) / KERAS_BACKUP), double_checkpoint=True)


def backup_epochs(task_backup: Optional[Path]) -> int:
    """Epochs finished according to the backup in ``task_backup`` (0 if there is none)."""
    if task_backup is None:
        return 0
    try:
        return int(json.loads((Path(task_backup) / KERAS_BACKUP / KERAS_BACKUP_METADATA).read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def truncate_history(history: Dict[str, List[float]], epochs: int) -> Dict[str, List[float]]:
    """The first ``epochs`` entries of each metric: drop epochs a restart will train again."""
    return {key: list(values)[:epochs] for key, values in history.items()}


def truncate_csv(path: Path, epochs: int) -> None:
    """Keep the header and the first ``epochs`` rows of the CSV history at ``path`` (if it exists)."""
    from fashion_mnist_vis.atomic import write_text_atomic

    path = Path(path)
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    write_text_atomic(path, "".join(lines[: epochs + 1]))
