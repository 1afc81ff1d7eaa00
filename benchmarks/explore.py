"""Time the interactive explorer: its start-up, and from a finished stroke to the updated result.

Run from the repository root, on a quiet machine::

    python -m benchmarks.explore --saved-model model.keras          # gap_cnn trained on the real data
    python -m benchmarks.explore --saved-model model.keras --json   # the figures as one JSON object

* start-up: ``python -m fashion_mnist_vis.explore --engine numpy --no-browser`` as a new process,
  from launch to the "Explorer ready" line and to the first answer of ``/api/info``
  (median of ``--starts``);
* stroke to result: the page's request after each stroke, replayed through HTTP: a 280x280 canvas
  (as the page's) gets one more stroke at a time, is PNG-encoded and POSTed to ``/api/classify``
  with ``--method`` (default: the explorer's own, CAM for gap_cnn); the round trip until the whole
  JSON (probabilities, class map, every layer's feature maps) is read, median and 90th percentile
  of ``--strokes`` (the first request, which builds the explainer, is timed apart).

Prints one line per figure (or JSON) and the machine; asserts nothing.
"""

import argparse
import http.client
import io
import json
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

REPO = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/explore.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Time the explorer's start-up (NumPy engine) and its stroke-to-result latency.")
    parser.add_argument("--saved-model", type=Path, default=Path("model.keras"), help="the model file")
    parser.add_argument("--starts", type=int, default=3, help="start-ups timed (the median is reported)")
    parser.add_argument("--strokes", type=int, default=40, help="strokes replayed (median and p90 reported)")
    parser.add_argument("--method", default="", help="the class map's method (empty: the explorer's default)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    return parser


def start_explorer(model: Path):
    """A running explorer process, its port, seconds to the ready line and to the first /api/info answer."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "fashion_mnist_vis.explore", "--saved_model", str(model), "--engine", "numpy",
         "--no-browser", "--port", "0", "--quiet"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    ready = time.perf_counter() - started
    if not line.startswith("Explorer ready at http://localhost:"):
        process.kill()
        raise SystemExit(f"the explorer did not start: {line!r}")
    port = int(line.split("localhost:")[1].split("/")[0])
    post(port, "GET", "/api/info")
    return process, port, ready, time.perf_counter() - started


def stop_explorer(process) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def post(port: int, method: str, path: str, body: Optional[bytes] = None) -> Dict[str, object]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(method, path, body=body)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def stroke_canvases(count: int) -> List[bytes]:
    """PNGs of a 280x280 black canvas drawn stroke by stroke (white, 22 px, as the page's brush)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    canvas = Image.new("L", (280, 280), 0)
    pen = ImageDraw.Draw(canvas)
    frames = []
    for _ in range(count):
        points = [tuple(int(v) for v in rng.integers(40, 240, size=2)) for _ in range(4)]
        pen.line(points, fill=255, width=22, joint="curve")
        buffer = io.BytesIO()
        canvas.save(buffer, format="PNG")
        frames.append(buffer.getvalue())
    return frames


def measure(args: argparse.Namespace) -> Dict[str, object]:
    """Every figure of the benchmark, in seconds unless named otherwise."""
    from fashion_mnist_vis.models.model_io import check_model_file

    check_model_file(args.saved_model)  # one line from run_script, not a traceback mid-way
    readies, firsts = [], []
    for _ in range(max(0, args.starts - 1)):
        process, _, ready, first = start_explorer(args.saved_model)
        stop_explorer(process)
        readies.append(ready)
        firsts.append(first)
    process, port, ready, first = start_explorer(args.saved_model)
    readies.append(ready)
    firsts.append(first)
    try:
        path = "/api/classify" + (f"?method={args.method}" if args.method else "")
        frames = stroke_canvases(args.strokes + 1)
        started = time.perf_counter()
        record = post(port, "POST", path, frames[0])
        first_request = time.perf_counter() - started
        round_trips, server_ms = [], []
        for frame in frames[1:]:
            started = time.perf_counter()
            record = post(port, "POST", path, frame)
            round_trips.append(time.perf_counter() - started)
            server_ms.append(record["milliseconds"])
        info = post(port, "GET", "/api/info")
    finally:
        stop_explorer(process)
    round_trips.sort()
    return {"model": info["model"], "engine": info["engine"], "method": record["map"].get("method"),
            "starts": len(readies), "ready_median_s": statistics.median(readies),
            "first_answer_median_s": statistics.median(firsts), "strokes": len(round_trips),
            "first_request_s": first_request, "stroke_to_result_median_s": statistics.median(round_trips),
            "stroke_to_result_p90_s": round_trips[int(0.9 * (len(round_trips) - 1))],
            "server_compute_median_s": statistics.median(server_ms) / 1000,
            "answer_bytes": len(json.dumps(record))}


def format_lines(figures: Dict[str, object]) -> List[str]:
    """The figures as lines for a reader."""
    return [
        f"model {figures['model']}, run by {figures['engine']}, class map {figures['method']}",
        f"start-up to 'Explorer ready'       {figures['ready_median_s']:8.2f} s (median of {figures['starts']})",
        f"start-up to the first API answer   {figures['first_answer_median_s']:8.2f} s",
        f"first request (builds the map)     {1000 * figures['first_request_s']:8.1f} ms",
        f"stroke to result, median           {1000 * figures['stroke_to_result_median_s']:8.1f} ms "
        f"(p90 {1000 * figures['stroke_to_result_p90_s']:.1f} ms, {figures['strokes']} strokes)",
        f"  of which computing on the server {1000 * figures['server_compute_median_s']:8.1f} ms (median)",
        f"answer size                        {figures['answer_bytes'] / 1024:8.0f} KiB",
    ]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from benchmarks.in_process import print_figures

    return print_figures(measure(args), format_lines, args.json)


if __name__ == "__main__":
    from benchmarks.entry import run_script

    sys.exit(run_script(main, "python -m benchmarks.explore"))
