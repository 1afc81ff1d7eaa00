"""Run one command as a child process and measure it: wall time, peak memory, exit status.

Peak memory is the child's own maximum resident set size, from ``os.wait4``
(per child, unlike ``getrusage(RUSAGE_CHILDREN)``, which keeps the largest
of all children so far).
"""

import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Measurement:
    """One process run: ``wall_s`` seconds from start to exit, ``peak_rss_mb`` (MiB), ``returncode``."""

    wall_s: float
    peak_rss_mb: float
    returncode: int

    def as_dict(self) -> Dict[str, float]:
        return asdict(self)


class CommandFailed(RuntimeError):
    """A benchmarked command exited with a non-zero status; the message names its log."""


def run_measured(command: Sequence[str], log: Path, cwd: Path = REPO, env: Optional[Dict[str, str]] = None,
                 check: bool = True) -> Measurement:
    """Run ``command`` (stdout and stderr appended to ``log``) and measure it.

    Raises:
        CommandFailed: if ``check`` and the command exits with a non-zero status.
    """
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": python_path, **(env or {})}
    with open(log, "a") as handle:
        handle.write(f"$ {' '.join(map(str, command))}\n")
        handle.flush()
        start = time.perf_counter()
        process = subprocess.Popen([str(part) for part in command], cwd=cwd, env=environment,
                                   stdout=handle, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    peak = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    if check and process.returncode != 0:
        raise CommandFailed(f"{' '.join(map(str, command))} exited with status {process.returncode}; see {log}")
    return Measurement(round(wall, 3), round(peak, 1), process.returncode)


def repeated(command: Sequence[str], times: int, log: Path, **kwargs) -> Dict[str, object]:
    """Run ``command`` ``times`` times: median wall time, largest peak memory, every run."""
    runs: List[Measurement] = [run_measured(command, log, **kwargs) for _ in range(times)]
    return {
        "wall_s": round(statistics.median(run.wall_s for run in runs), 3),
        "peak_rss_mb": max(run.peak_rss_mb for run in runs),
        "runs": [run.as_dict() for run in runs],
    }


def folder_bytes(folder: Path) -> int:
    """Total size in bytes of the files under ``folder`` (0 if it does not exist)."""
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
