"""Shared fixtures: small generated IDX datasets and a local HTTP file server."""

import http.server
import signal
import threading
from pathlib import Path
from typing import Dict

import numpy as np
import pytest

from fashion_mnist_vis.data.fashion_mnist import CACHE_ENV, SYSTEM_ENV, IdxFile, content_md5
from fashion_mnist_vis.data.idx import write_idx

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def make_striped_items(count: int, seed: int, label_noise: float = 0.0):
    """A trivially learnable 10-class set: class c is a bright bar at row 2 + 2c.

    ``label_noise`` is the fraction of labels replaced by the next class, so
    a perfect model still makes that many "mistakes" (for reports to show).
    Returns uint8 images (count, 28, 28) and uint8 labels (count,).
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.uint8) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(count, 28, 28), dtype=np.uint8)
    for index, label in enumerate(labels):
        images[index, 2 + 2 * label : 5 + 2 * label, 4:24] = 220
    noisy = rng.random(count) < label_noise
    labels[noisy] = (labels[noisy] + 1) % 10
    return images, labels


@pytest.fixture(scope="session")
def idx_dir(tmp_path_factory) -> Path:
    """A folder with the four official file names: 600 train / 200 test generated items (5% test label noise)."""
    folder = tmp_path_factory.mktemp("idx")
    x_train, y_train = make_striped_items(600, seed=1)
    x_test, y_test = make_striped_items(200, seed=2, label_noise=0.05)
    for key, array in (("train_images", x_train), ("train_labels", y_train),
                       ("test_images", x_test), ("test_labels", y_test)):
        write_idx(folder / IDX_NAMES[key], array)
    return folder


@pytest.fixture(scope="session")
def idx_specs(idx_dir) -> Dict[str, IdxFile]:
    """The generated files' names with the MD5s of their decompressed content (stand-ins for the official ones)."""
    return {key: IdxFile(name, content_md5(idx_dir / name)) for key, name in IDX_NAMES.items()}


@pytest.fixture(autouse=True)
def no_system_dataset(tmp_path_factory, monkeypatch):
    """Every test sees no system-wide Fashion-MNIST (Debian's /usr/share/datasets/fashion-mnist).

    Otherwise a machine with the package would load the real files wherever a test expects
    the cache, a download or an error. tests/test_real_data.py removes this setting.
    """
    monkeypatch.setenv(SYSTEM_ENV, str(tmp_path_factory.getbasetemp() / "no-system-dataset"))
    # nor a user's cached copy (~/.keras/datasets/fashion-mnist): classify and the other commands would
    # otherwise build a model's unfamiliarity index from 60,000 real images. Tests that want a cache set their own.
    monkeypatch.setenv(CACHE_ENV, str(tmp_path_factory.getbasetemp() / "no-cached-dataset"))



class FileServer:
    """A threaded HTTP server on 127.0.0.1 serving a folder, with scripted faults.

    ``faults`` maps a URL path to "404", "truncate" (announce the full length,
    send half, close) or "garbage" (serve other bytes of the same length).
    ``requests`` records every path asked for.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.faults: Dict[str, str] = {}
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                server.requests.append(self.path)
                fault = server.faults.get(self.path)
                target = server.folder / self.path.lstrip("/").split("/")[-1]
                if fault == "404" or not target.is_file():
                    self.send_error(404)
                    return
                body = target.read_bytes()
                if fault == "garbage":
                    body = bytes(len(body))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if fault == "truncate" else body)
                if fault == "truncate":
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server(idx_dir):
    server = FileServer(idx_dir)
    yield server
    server.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process(process, timeout: float = 20, group: bool = False) -> None:
    """Ask a subprocess to end (SIGTERM; with ``group``, its whole session), then kill it if it lingers."""
    import contextlib
    import os
    import subprocess

    def send(sig):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig) if group else process.send_signal(sig)

    send(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait()


def png_pixels(figure) -> np.ndarray:
    """A matplotlib figure rendered as a greyscale uint8 PNG at 60 dpi, read back as (H, W)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60)
    with Image.open(buffer) as image:
        return np.asarray(image.convert("L"))


def single_error_line(capsys) -> str:
    """The one line a command printed on stderr; fails if it printed none or several."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def default_sigint() -> None:
    """``preexec_fn`` for a child a test stops with SIGINT: the default SIGINT handling.

    A shell's background job (a CI runner, ``cmd &``) starts with SIGINT
    ignored, children inherit that, and Python then installs no
    KeyboardInterrupt handler, so the signal would do nothing.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler for the test (a CI runner may start the suite with SIGINT ignored:
    a shell's background job inherits SIGINT ignored, and Python then installs no handler of its own)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
