"""A description of the machine a benchmark ran on, for the JSON and the README table."""

import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Dict, Optional

from fashion_mnist_vis.models.precision import BF16_CPU_FLAGS, CPUINFO, parse_cpu_flags

INTERESTING_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", *BF16_CPU_FLAGS, "amx_tile", "amx_int8")


def cpu_model(cpuinfo: str) -> Optional[str]:
    """The ``model name`` (x86), else ``Hardware``/``Model`` (ARM) in /proc/cpuinfo text.

    x86 also has a numeric ``model`` line, which is skipped.
    """
    entries = [(key.strip().lower(), value.strip()) for key, _, value in
               (line.partition(":") for line in cpuinfo.splitlines())]
    for wanted in ("model name", "hardware", "model"):
        for key, value in entries:
            if key == wanted and value and not value.isdigit():
                return value
    return None


def memory_gib(meminfo: str) -> Optional[float]:
    """MemTotal of /proc/meminfo text, in GiB."""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 ** 2, 1)
    return None


def describe_machine() -> Dict[str, object]:
    """CPU model, cores, memory, the CPU flags that matter for bf16, library versions and the date."""
    cpuinfo = _read(CPUINFO)
    flags = parse_cpu_flags(cpuinfo)
    return {
        "cpu": cpu_model(cpuinfo) or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": memory_gib(_read(Path("/proc/meminfo"))),
        "cpu_flags": {flag: flag in flags for flag in INTERESTING_FLAGS},
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in ("tensorflow", "keras", "tf_keras", "numpy", "matplotlib")},
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _read(path: Path) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _version(name: str) -> Optional[str]:
    """The installed version of ``name`` (TensorFlow may be installed as tensorflow-cpu), else None."""
    for distribution in (name, f"{name}-cpu") if name == "tensorflow" else (name,):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return None
