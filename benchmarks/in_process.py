"""Benchmarks that time steps inside one process: a step's seconds, and the figures printed for a reader."""

import json
import time
from typing import Callable, Dict, List


def timed(step: Callable[[], object]):
    """Call ``step()``; return (its value, the seconds it took)."""
    started = time.perf_counter()
    value = step()
    return value, time.perf_counter() - started


def print_figures(figures: Dict[str, object], format_lines: Callable[[Dict[str, object]], List[str]],
                  as_json: bool) -> int:
    """Add the machine to ``figures``, print them as JSON or as ``format_lines(figures)``; return 0."""
    from benchmarks.machine import describe_machine

    figures["machine"] = describe_machine()
    if as_json:
        print(json.dumps(figures, indent=2))
        return 0
    print("\n".join(format_lines(figures)))
    machine = figures["machine"]
    print(f"machine: {machine.get('cpu')}, {machine.get('cores')} cores, "
          f"load average at start {machine.get('load_average_at_start')}")
    return 0
