"""The CORS server as users run it (tensorboard_assets/serve_assets.py in its own process), under load.

tests/test_serve.py covers the request handling in depth against an
in-process server (traversal variants, symlinks, NUL bytes, malformed and
long request lines, HEAD, OPTIONS, 20 keep-alive clients). This file adds
what needs the real process: 50 concurrent clients x 40 requests of a large
TSV and the sprite, attacks between and after the load, the default bind
address as the kernel reports it, and the warning for 0.0.0.0. Everything is
on loopback and every loop is bounded.
"""

import concurrent.futures
import hashlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_serve import raw_exchange
from conftest import default_sigint

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = REPO / "tensorboard_assets" / "serve_assets.py"
CLIENTS, REQUESTS_EACH = 50, 40
TSV_BYTES = 6 * 1024 * 1024


@pytest.fixture(scope="module")
def export_folder(tmp_path_factory):
    """A served folder with a ~6 MB metadata.tsv and a noisy (incompressible) sprite.png, and a secret beside it."""
    base = tmp_path_factory.mktemp("load")
    root = base / "export"
    root.mkdir()
    rng = np.random.default_rng(0)
    rows = ["index\tlabel\tpredicted\tscore"]
    size = len(rows[0])
    while size < TSV_BYTES:
        row = f"{len(rows) - 1}\t{rng.integers(10)}\t{rng.integers(10)}\t{rng.random():.6f}"
        rows.append(row)
        size += len(row) + 1
    (root / "metadata.tsv").write_text("\n".join(rows) + "\n")
    Image.fromarray(rng.integers(0, 256, (600, 600, 3), dtype=np.uint8)).save(root / "sprite.png")
    (root / "config.json").write_text('{"embeddings": []}\n')
    (base / "secret.txt").write_text("SECRET-load-test")
    os.symlink(base / "secret.txt", root / "link_out.txt")
    return root


def start(folder: Path, *flags: str):
    """Run the launcher on a free port; return (process, port) once it prints its URL."""
    process = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "--port", "0", "--quiet", "--directory", str(folder), *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_sigint,
    )
    line = process.stdout.readline()
    match = re.search(r":(\d+)/", line)
    assert match, (line, process.stderr.read() if process.poll() is not None else "")
    return process, int(match.group(1))


def stop(process) -> str:
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    return err


@pytest.fixture(scope="module")
def server(export_folder):
    process, port = start(export_folder)
    yield process, port
    stop(process)


def get(port: int, path: str, method: str = "GET", connection=None):
    """(status, headers dict, body) over a new connection, or over ``connection`` (keep-alive)."""
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        if own:
            connection.close()


@pytest.mark.slow
def test_50_clients_x_40_requests_get_every_byte_right(server, export_folder, capsys):
    _, port = server
    files = ["/metadata.tsv", "/sprite.png"]
    expected = {name: hashlib.sha256((export_folder / name[1:]).read_bytes()).hexdigest() for name in files}

    def client(number):
        """Even clients keep one connection alive; odd ones connect anew for every request."""
        served, errors, sent = 0, [], 0
        keep = http.client.HTTPConnection("127.0.0.1", port, timeout=60) if number % 2 == 0 else None
        try:
            for request in range(REQUESTS_EACH):
                name = files[(number + request) % 2]
                try:
                    status, headers, body = get(port, name, connection=keep)
                except (OSError, http.client.HTTPException) as error:
                    errors.append(f"{name}: {error!r}")
                    if keep is not None:
                        keep.close()
                    continue
                if status != 200 or hashlib.sha256(body).hexdigest() != expected[name]:
                    errors.append(f"{name}: status {status}, {len(body)} bytes")
                else:
                    served += 1
                    sent += len(body)
        finally:
            if keep is not None:
                keep.close()
        return served, errors, sent

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(client, range(CLIENTS), timeout=600))
    errors = [error for _, client_errors, _ in results for error in client_errors]
    served = sum(count for count, _, _ in results)
    assert errors == [], errors[:5]
    assert served == CLIENTS * REQUESTS_EACH
    with capsys.disabled():
        print(f"\nserver load: {served} requests served, {sum(s for _, _, s in results) / 1e9:.2f} GB, 0 errors")
    assert get(port, "/config.json")[0] == 200  # and it is still serving


@pytest.mark.slow
def test_attacks_are_refused_and_the_server_keeps_serving(server):
    _, port = server
    attacks = [
        b"GET /../secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /..%2fsecret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /" + str(Path(__file__).resolve()).encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET //etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /link_out.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /config.json%00.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"\x16\x03\x01\x00\xa5garbage\r\n\r\n",
        b"NOT A REQUEST\r\n\r\n",
        b"GET / HTTP/1.1 and more\r\n\r\n",
    ]
    for attack in attacks:
        status, _, _, answer = raw_exchange(port, attack, timeout=20)
        assert answer == b"" or (status and 400 <= status < 500), (attack[:60], answer[:120])
        assert b"SECRET" not in answer and b"root:" not in answer
        assert get(port, "/config.json")[0] == 200, attack[:60]
    status, headers, body = get(port, "/sprite.png", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    status, headers, _ = get(port, "/metadata.tsv", method="OPTIONS")
    assert status in (200, 204) and "GET" in headers["Access-Control-Allow-Methods"]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_default_bind_is_loopback_as_the_kernel_sees_it(server):
    _, port = server
    listening = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if int(port_hex, 16) == port and state == "0A":  # 0A: LISTEN
            listening.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    assert listening == ["127.0.0.1"]


@pytest.mark.slow
def test_all_interfaces_prints_one_warning_line(export_folder):
    process, port = start(export_folder, "--host", "0.0.0.0")
    try:
        assert get(port, "/config.json")[0] == 200
    finally:
        err = stop(process)
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "0.0.0.0" in warnings[0] and "127.0.0.1" in warnings[0], err
