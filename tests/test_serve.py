"""Tests for the CORS server (fashion_mnist_vis.projector.server, the serve command and tensorboard_assets/serve_assets.py).

Everything talks real HTTP over loopback: urllib and http.client for well-formed
requests, raw sockets for the malformed and hostile ones that clients refuse
to send. Servers run on free ports in daemon threads; one test launches the
launcher script as a subprocess and stops it with SIGINT.
"""

import concurrent.futures
import hashlib
import http.client
import importlib.util
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # also run from elsewhere or as plain `pytest`
    sys.path.insert(0, str(REPO_ROOT))

from fashion_mnist_vis.commands import serve  # noqa: E402
from fashion_mnist_vis.projector import server as projector_server  # noqa: E402
from fashion_mnist_vis.errors import UserError  # noqa: E402
from conftest import default_sigint

LAUNCHER = REPO_ROOT / "tensorboard_assets" / "serve_assets.py"
SECRET = "TOP-SECRET-4f1c9b"  # must never appear in any answer
BIG_SIZE = 2 * 1024 * 1024 + 123

FILES = {
    "config.json": (b'{"embeddings": [{"tensorName": "fashion"}]}\n', "application/json"),
    "metadata.tsv": ("label\tname\n0\tT-shirt/top\n9\tAnkle boot \u00e9\n".encode("utf-8"), "text/tab-separated-values"),
    "sprite.png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image/png"),
    "tensors.bytes": (bytes(range(256)) * 40, "application/octet-stream"),
    "projector_config.pbtxt": (b'embeddings {\n  tensor_name: "x"\n}\n', "text/plain"),
    "history.csv": (b"epoch,loss\n1,0.5\n", "text/csv"),
    "index.html": (b"<!doctype html><title>x</title>\n", "text/html"),
    "sub/inner.json": (b"[1, 2, 3]\n", "application/json"),
}


# -- fixtures and helpers ------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A served folder with the export's file types, plus secrets and symlinks around it."""
    base = tmp_path_factory.mktemp("serve")
    root = base / "site"
    outside = base / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    for name, (content, _) in FILES.items():
        (root / name).write_bytes(content)
    (root / "big.bytes").write_bytes(os.urandom(BIG_SIZE))
    (root / ".hidden").write_bytes(SECRET.encode())
    (base / "secret.txt").write_text(SECRET)
    (outside / "secret.txt").write_text(SECRET)
    if hasattr(os, "symlink"):
        try:
            os.symlink(outside / "secret.txt", root / "link_out.txt")
            os.symlink(outside, root / "link_dir_out", target_is_directory=True)
            os.symlink(root / "config.json", root / "link_in.json")
        except OSError:  # e.g. Windows without the privilege
            pass
    return root


def start_server(directory, **kwargs):
    server = projector_server.make_server(directory, "127.0.0.1", 0, **kwargs)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def stop_server(server, thread):
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def port(site):
    server, thread = start_server(site, quiet=True)
    yield server.server_port
    stop_server(server, thread)


def url(port, path):
    return f"http://127.0.0.1:{port}{path}"


def fetch(port, path, method="GET", headers=None):
    """(status, headers, body) via urllib, error statuses included."""
    request = urllib.request.Request(url(port, path), method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def raw_exchange(port, data, timeout=10.0):
    """Send raw bytes, read until the server closes; return (status or None, headers, body, raw)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    match = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return (int(match.group(1)) if match else None), headers, body, raw


def raw_get(port, target):
    target = target.encode("latin-1") if isinstance(target, str) else target
    return raw_exchange(port, b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")


def assert_serves_normally(port):
    status, headers, body = fetch(port, "/config.json")
    assert status == 200 and body == FILES["config.json"][0]


# -- content, headers, methods -----------------------------------------------------


@pytest.mark.parametrize("name", sorted(FILES))
def test_get_returns_file_with_cors_type_and_length(port, site, name):
    content, content_type = FILES[name]
    status, headers, body = fetch(port, "/" + name, headers={"Origin": "https://projector.tensorflow.org"})
    assert status == 200
    assert body == content
    assert int(headers["Content-Length"]) == (site / name).stat().st_size
    assert headers["Content-Type"].split(";")[0].strip() == content_type
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_head_sends_headers_without_body(port, site):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("HEAD", "/big.bytes")
        response = connection.getresponse()
        assert response.status == 200
        assert response.read() == b""
        assert int(response.getheader("Content-Length")) == BIG_SIZE
        assert response.getheader("Content-Type") == "application/octet-stream"
        assert response.getheader("Access-Control-Allow-Origin") == "*"
        # Same keep-alive connection still works after a HEAD.
        connection.request("GET", "/config.json")
        assert connection.getresponse().read() == FILES["config.json"][0]
    finally:
        connection.close()


def test_query_string_is_ignored(port):
    status, _, body = fetch(port, "/config.json?cachebust=123")
    assert status == 200 and body == FILES["config.json"][0]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_missing_file_is_404_with_cors(port, method):
    status, headers, body = fetch(port, "/no-such-file.json", method=method)
    assert status == 404
    assert headers["Access-Control-Allow-Origin"] == "*"
    if method == "HEAD":
        assert body == b""


def test_options_preflight(port):
    status, headers, body = fetch(
        port,
        "/tensors.bytes",
        method="OPTIONS",
        headers={
            "Origin": "https://projector.tensorflow.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "content-type, x-requested-with",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert status in (200, 204)
    assert body == b""
    assert headers["Access-Control-Allow-Origin"] == "*"
    methods = {m.strip() for m in headers["Access-Control-Allow-Methods"].split(",")}
    assert methods == {"GET", "HEAD", "OPTIONS"}
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "x-requested-with"} <= allowed
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert headers["Access-Control-Allow-Private-Network"] == "true"


def test_options_without_request_headers_allows_content_type(port):
    status, headers, _ = fetch(port, "/config.json", method="OPTIONS")
    assert status in (200, 204)
    assert "content-type" in headers["Access-Control-Allow-Headers"].lower()
    status, headers, _, _ = raw_exchange(port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status in (200, 204) and headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("method,expected", [("POST", 405), ("PUT", 405), ("DELETE", 405), ("PATCH", 405), ("BREW", 501)])
def test_other_methods_refused_with_cors(port, site, method, expected):
    status, headers, _ = fetch(port, "/config.json", method=method)
    assert status == expected
    assert headers["Access-Control-Allow-Origin"] == "*"
    if expected == 405:
        assert "GET" in headers["Allow"]
    assert (site / "config.json").read_bytes() == FILES["config.json"][0]


@pytest.mark.parametrize("path", ["/", "/sub", "/sub/", "/sub/.", "/%2e/"])
def test_directory_listing_disabled(port, path):
    status, headers, body, _ = raw_get(port, path)
    assert status in (403, 404)
    assert headers["access-control-allow-origin"] == "*"
    assert b"inner.json" not in body and b"config.json</a>" not in body


def test_hidden_files_not_served(port):
    status, _, body, _ = raw_get(port, "/.hidden")
    assert status == 404 and SECRET.encode() not in body


# -- path traversal ---------------------------------------------------------------


def traversal_targets(site):
    outside_secret = str(site.parent / "outside" / "secret.txt").replace(os.sep, "/").lstrip("/")
    quoted = urllib.parse.quote(outside_secret)
    return [
        "/../secret.txt",
        "/../outside/secret.txt",
        "/sub/../../secret.txt",
        "/./../secret.txt",
        "/" + "../" * 15 + outside_secret,
        "/%2e%2e/secret.txt",
        "/%2E%2E/outside/secret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/..%2Foutside%2Fsecret.txt",
        "/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/sub%2f..%2f..%2fsecret.txt",
        "/%252e%252e/secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/%2f" + quoted,
        "/%2F" + urllib.parse.quote(outside_secret, safe=""),
        "//" + outside_secret,
        "/" + urllib.parse.quote("/" + outside_secret, safe=""),
        "/..\\secret.txt",
        "/\\..\\secret.txt",
        "/sub\\..\\..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/..%5csecret.txt",
        "/..%5C..%5Csecret.txt",
        "/secret.txt%00",
        "/%00/../secret.txt",
        "/..%00/secret.txt",
        "/config.json%00.png",
        "/../secret.txt\x00",
        "http://localhost/../secret.txt",
        "http://localhost/%2e%2e/outside/secret.txt",
        "/link_out.txt",
        "/link_dir_out/secret.txt",
        "/link_dir_out/../secret.txt",
    ]


def test_traversal_variants_refused(port, site):
    for target in traversal_targets(site):
        status, headers, body, raw = raw_get(port, target)
        assert status in (403, 404), (target, raw[:200])
        assert SECRET.encode() not in raw, target
        assert headers.get("access-control-allow-origin") == "*", target
    assert_serves_normally(port)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlinks_out_refused_but_inside_served(port, site):
    if not (site / "link_out.txt").is_symlink():
        pytest.skip("could not create symlinks here")
    for path in ("/link_out.txt", "/link_dir_out/secret.txt"):
        status, headers, body = fetch(port, path)
        assert status == 404 and SECRET.encode() not in body
        assert headers["Access-Control-Allow-Origin"] == "*"
    status, _, body = fetch(port, "/link_in.json")
    assert status == 200 and body == FILES["config.json"][0]


# -- malformed requests -------------------------------------------------------------


@pytest.mark.parametrize("length", [9 * 1024, 70 * 1024])
def test_long_url_gets_4xx_and_server_keeps_serving(port, length):
    target = "/" + "a" * length
    status, headers, _, raw = raw_get(port, target)
    assert status is not None and 400 <= status < 500, raw[:200]
    assert headers["access-control-allow-origin"] == "*"
    assert_serves_normally(port)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"\x00\xff\xfe junk here\r\n\r\n",
        b"GET /config.json\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\n\r\n",
        b"GET / FTP/1.0\r\n\r\n",
        b"GET /config.json HTTP/x.y\r\nHost: x\r\n\r\n",
        b"GET ../config.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ],
)
def test_garbage_request_line_gets_4xx_and_server_keeps_serving(port, request_bytes):
    status, headers, _, raw = raw_exchange(port, request_bytes)
    assert status is not None and 400 <= status < 500, raw[:200]
    assert headers["access-control-allow-origin"] == "*"
    assert_serves_normally(port)


def test_tls_handshake_is_dropped_quickly(port):
    client_hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64)
    started = time.monotonic()
    status, _, _, raw = raw_exchange(port, client_hello)
    assert raw == b"" and status is None
    assert time.monotonic() - started < 5
    assert_serves_normally(port)


# -- concurrency --------------------------------------------------------------------


def test_concurrent_clients_get_correct_bytes(port, site):
    expected = hashlib.sha256((site / "big.bytes").read_bytes()).hexdigest()
    clients, requests_each = 20, 10

    def client(_):
        digests = []
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        try:
            for _ in range(requests_each):  # keep-alive: one connection, ten requests
                connection.request("GET", "/big.bytes")
                response = connection.getresponse()
                body = response.read()
                assert response.status == 200 and len(body) == BIG_SIZE
                digests.append(hashlib.sha256(body).hexdigest())
        finally:
            connection.close()
        return digests

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, range(clients), timeout=60))
    assert sum(len(d) for d in results) == clients * requests_each
    assert all(digest == expected for digests in results for digest in digests)


# -- make_server and logging ----------------------------------------------------------


def test_make_server_port_zero_and_independent_servers(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "x.json").write_text('"a"')
    (second / "x.json").write_text('"b"')
    servers = [start_server(first, quiet=True), start_server(second, quiet=True)]
    try:
        ports = [server.server_port for server, _ in servers]
        assert all(p > 0 for p in ports) and ports[0] != ports[1]
        assert isinstance(servers[0][0], projector_server.ThreadingHTTPServer)
        assert servers[0][0].daemon_threads
        assert [fetch(p, "/x.json")[2] for p in ports] == [b'"a"', b'"b"']
    finally:
        for server, thread in servers:
            stop_server(server, thread)


def test_make_server_missing_directory(tmp_path):
    with pytest.raises(UserError, match="does not exist; run tensorboard_visualise.py"):
        projector_server.make_server(tmp_path / "missing", port=0)


def test_access_log_one_line_per_request_and_quiet(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")
    server, thread = start_server(tmp_path)
    try:
        fetch(server.server_port, "/config.json")
        fetch(server.server_port, "/nope")
    finally:
        stop_server(server, thread)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert '"GET /config.json HTTP/1.1" 200' in lines[0]
    assert '"GET /nope HTTP/1.1" 404' in lines[1]

    server, thread = start_server(tmp_path, quiet=True)
    try:
        fetch(server.server_port, "/config.json")
    finally:
        stop_server(server, thread)
    assert capsys.readouterr().err == ""


# -- command line -------------------------------------------------------------------


def run_script(args, cwd, timeout=20):
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def test_help_exits_0(capsys):
    assert serve.main(["--help"]) == 0
    assert "--port" in capsys.readouterr().out


def test_missing_directory_exits_2(tmp_path, capsys):
    assert serve.main(["--directory", str(tmp_path / "nope"), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0] and "Traceback" not in err[0]


def test_module_default_directory_is_relative_to_cwd(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "fashion_mnist_vis.serve", "--port", "0"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=20,
    )
    assert result.returncode == 2
    assert "'tensorboard_assets' does not exist" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_port_in_use_exits_2_with_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        busy_port = busy.getsockname()[1]
        result = run_script([str(LAUNCHER), "--port", str(busy_port), "--directory", str(tmp_path)], cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(busy_port) in lines[0] and "--port" in lines[0]
    assert result.stdout == ""


def _stop_at_once(self, poll_interval=0.5):
    raise KeyboardInterrupt


def test_warns_when_listening_on_all_interfaces(tmp_path, capsys, monkeypatch):
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setattr(projector_server.ProjectorServer, "serve_forever", _stop_at_once)
    assert serve.main(["--host", "0.0.0.0", "--port", "0", "--directory", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if "warning" in line] == [
        next(line for line in captured.err.splitlines() if "other machines" in line)
    ]
    assert "server stopped" in captured.err
    assert re.search(r"config=http://localhost:\d+/config\.json", captured.out)
    assert projector_server.url_host("127.0.0.1") == "localhost" and projector_server.url_host("::") == "localhost"
    assert serve.exposure_warning("127.0.0.1") is None
    assert serve.exposure_warning("::") is not None


def test_launcher_defaults_to_its_own_folder(capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("serve_assets_under_test", LAUNCHER)
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    monkeypatch.setattr(projector_server.ProjectorServer, "serve_forever", _stop_at_once)
    assert launcher.main(["--port", "0", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"Serving {os.path.realpath(LAUNCHER.parent)} at http://localhost:" in out


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _read_lines(stream, count, deadline):
    """Read ``count`` lines from a subprocess pipe without blocking past ``deadline``."""
    data = b""
    while data.count(b"\n") < count and time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                break
            data += chunk
    return data.decode("utf-8", "replace").splitlines()


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery to a child needs POSIX")
def test_launcher_subprocess_serves_and_stops_cleanly_on_sigint(tmp_path):
    (tmp_path / "config.json").write_bytes(FILES["config.json"][0])
    (tmp_path / "metadata.tsv").write_bytes(FILES["metadata.tsv"][0])
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "tensorboard_assets/serve_assets.py", "--port", str(port), "--directory", str(tmp_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=default_sigint,
    )
    try:
        deadline = time.monotonic() + 15
        lines = _read_lines(process.stdout, 2, deadline)
        assert len(lines) == 2, lines
        served = re.search(r"(http://\S+:(\d+)/)", lines[0])
        assert served, lines
        assert int(served.group(2)) == port
        assert f"https://projector.tensorflow.org/?config=http://localhost:{port}/config.json" in lines[1]
        base = served.group(1).replace("localhost", "127.0.0.1")
        with urllib.request.urlopen(base + "metadata.tsv", timeout=10) as response:
            assert response.read() == FILES["metadata.tsv"][0]
            assert response.headers["Access-Control-Allow-Origin"] == "*"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10)
        stderr = stderr.decode("utf-8", "replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "server stopped" in stderr
    assert '"GET /metadata.tsv HTTP/1.1" 200' in stderr
