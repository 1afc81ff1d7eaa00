"""Finding and downloading the real files, against a local HTTP server serving generated IDX files."""

import io

import numpy as np
import pytest

from conftest import FileServer, free_port
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.fashion_mnist import (
    CACHE_ENV,
    MIRRORS,
    MIRRORS_ENV,
    OFFICIAL_FILES,
    TIMEOUT_ENV,
    configured_mirrors,
    default_cache_dir,
    download_timeout,
    load_fashion_mnist,
    md5_of,
)
from fashion_mnist_vis.idx import read_idx


def _load(cache, mirrors, specs, progress=None):
    return load_fashion_mnist(cache_dir=cache, mirrors=mirrors, files=specs, progress=progress)


def test_download_fills_cache_and_loads(tmp_path, file_server, idx_specs, idx_dir):
    progress = io.StringIO()
    data = _load(tmp_path / "cache", [file_server.url], idx_specs, progress)
    assert data.x_train.shape == (600, 28, 28) and data.x_test.shape == (200, 28, 28)
    np.testing.assert_array_equal(data.y_train, read_idx(idx_dir / "train-labels-idx1-ubyte.gz"))
    for spec in idx_specs.values():
        assert md5_of(tmp_path / "cache" / spec.name) == spec.md5
        assert data.checksums[spec.name] == spec.md5
    assert "train-images-idx3-ubyte.gz [" in progress.getvalue()
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]


def test_cached_files_are_not_downloaded_again(tmp_path, file_server, idx_specs):
    _load(tmp_path, [file_server.url], idx_specs)
    count = len(file_server.requests)
    _load(tmp_path, [file_server.url], idx_specs)
    assert len(file_server.requests) == count == 4


def test_corrupt_cache_entry_is_downloaded_again(tmp_path, file_server, idx_specs):
    _load(tmp_path, [file_server.url], idx_specs)
    target = tmp_path / idx_specs["test_labels"].name
    target.write_bytes(b"corrupt")
    progress = io.StringIO()
    _load(tmp_path, [file_server.url], idx_specs, progress)
    assert md5_of(target) == idx_specs["test_labels"].md5
    assert "corrupt (MD5 mismatch)" in progress.getvalue()
    assert file_server.requests[-1] == "/" + target.name


@pytest.mark.parametrize("fault", ["404", "truncate", "garbage"])
def test_bad_mirror_falls_through_to_the_next(tmp_path, idx_dir, idx_specs, fault):
    bad, good = FileServer(idx_dir), FileServer(idx_dir)
    try:
        name = idx_specs["train_images"].name
        bad.faults["/" + name] = fault
        progress = io.StringIO()
        data = _load(tmp_path, [bad.url, good.url], idx_specs, progress)
        assert data.x_train.shape == (600, 28, 28)
        assert f"download failed: {bad.url}{name}" in progress.getvalue()
        assert md5_of(tmp_path / name) == idx_specs["train_images"].md5
    finally:
        bad.close()
        good.close()


@pytest.mark.parametrize(
    "fault, reason",
    [("404", "HTTP 404"), ("truncate", "truncated"), ("garbage", "does not match the official")],
)
def test_every_mirror_failing_gives_one_clear_error_and_no_partial_file(
    tmp_path, file_server, idx_specs, fault, reason
):
    name = idx_specs["test_images"].name
    file_server.faults["/" + name] = fault
    with pytest.raises(UserError) as error:
        _load(tmp_path, [file_server.url], idx_specs)
    message = str(error.value)
    assert reason in message
    assert "--dataset synthetic" in message and "--data-dir" in message
    assert str(tmp_path) in message
    assert not (tmp_path / name).exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "partial file left behind"


def test_no_server_names_all_four_files(tmp_path, idx_specs):
    with pytest.raises(UserError) as error:
        _load(tmp_path, [f"http://127.0.0.1:{free_port()}/"], idx_specs)
    message = str(error.value)
    for spec in idx_specs.values():
        assert spec.name in message
    assert "refused" in message.lower()
    assert list(tmp_path.iterdir()) == []


def test_official_checksums_reject_generated_files(tmp_path, file_server):
    """With the real MD5 list, our generated stand-ins must be refused, not cached."""
    with pytest.raises(UserError, match="does not match the official 8d4fb7e6c68d591d4c3dfef9ec88bf0d"):
        _load(tmp_path, [file_server.url], OFFICIAL_FILES)
    assert not (tmp_path / "train-images-idx3-ubyte.gz").exists()


def test_data_dir_accepts_gzip_or_plain_and_never_downloads(tmp_path, idx_dir):
    import gzip
    import shutil

    for path in idx_dir.iterdir():
        if "t10k" in path.name:  # test files uncompressed, training files gzipped
            (tmp_path / path.name[:-3]).write_bytes(gzip.decompress(path.read_bytes()))
        else:
            shutil.copy(path, tmp_path / path.name)
    data = load_fashion_mnist(data_dir=tmp_path, mirrors=["http://127.0.0.1:9/"])
    assert len(data.y_test) == 200 and len(data.y_train) == 600


def test_data_dir_missing_file(tmp_path):
    with pytest.raises(UserError, match="train-images-idx3-ubyte.gz .or train-images-idx3-ubyte. not found"):
        load_fashion_mnist(data_dir=tmp_path)


def test_image_label_count_mismatch(tmp_path, idx_dir):
    import shutil

    from fashion_mnist_vis.idx import write_idx

    for path in idx_dir.iterdir():
        shutil.copy(path, tmp_path / path.name)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(150, np.uint8))
    with pytest.raises(UserError, match="200 images but t10k-labels-idx1-ubyte.gz has 150 labels"):
        load_fashion_mnist(data_dir=tmp_path)


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(MIRRORS_ENV, "http://a.example/x, http://b.example/y/")
    assert default_cache_dir() == tmp_path
    assert configured_mirrors() == ["http://a.example/x/", "http://b.example/y/"]
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.delenv(MIRRORS_ENV)
    assert str(default_cache_dir()).endswith(".keras/datasets/fashion-mnist")
    assert configured_mirrors() == list(MIRRORS)


# -- every mirror fault, alone and all at once -------------------------------------------


class StallingServer:
    """Accepts connections on 127.0.0.1 and never answers (until closed)."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.held = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self):
        self.sock.close()
        for connection in self.held:
            connection.close()


def _mirror(kind, idx_dir, name, opened):
    """A base URL whose server does ``kind`` for ``name``; servers are added to ``opened`` to close."""
    if kind == "refused":
        return f"http://127.0.0.1:{free_port()}/"
    if kind == "stall":
        server = StallingServer()
    else:
        server = FileServer(idx_dir)
        if kind != "good":
            server.faults["/" + name] = {"checksum": "garbage"}.get(kind, kind)
    opened.append(server)
    return server.url


FAULTS = {"refused": "refused", "404": "HTTP 404", "truncate": "truncated",
          "checksum": "does not match the official", "stall": "timed out"}


@pytest.fixture
def quick_timeout(monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, "1")


def _leftovers(cache):
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_falls_through_to_the_next_mirror(tmp_path, idx_dir, idx_specs, quick_timeout, fault):
    name = idx_specs["train_images"].name
    opened = []
    try:
        bad = _mirror(fault, idx_dir, name, opened)
        good = _mirror("good", idx_dir, name, opened)
        progress = io.StringIO()
        data = _load(tmp_path, [bad, good], idx_specs, progress)
    finally:
        for server in opened:
            server.close()
    assert data.x_train.shape == (600, 28, 28)
    assert f"download failed: {bad}{name}: " in progress.getvalue()
    assert FAULTS[fault].lower() in progress.getvalue().lower()
    assert _leftovers(tmp_path) == sorted(spec.name for spec in idx_specs.values())


def test_all_mirrors_failing_lists_each_and_leaves_no_partial_file(tmp_path, idx_dir, idx_specs, quick_timeout):
    name = idx_specs["train_images"].name
    opened = []
    try:
        mirrors = [_mirror(fault, idx_dir, name, opened) for fault in FAULTS]
        with pytest.raises(UserError) as error:
            _load(tmp_path / "cache", mirrors, idx_specs, progress=None)
    finally:
        for server in opened:
            server.close()
    message = str(error.value)
    assert "\n" not in message and f"tried {len(FAULTS)} mirrors" in message
    for mirror, reason in zip(mirrors, FAULTS.values()):
        assert f"{mirror}{name}: " in message
        assert reason.lower() in message.lower(), reason
    assert _leftovers(tmp_path / "cache") == [], "a partial or temporary file was left in the cache"


def test_corrupt_cache_and_no_mirror_says_both(tmp_path, idx_specs):
    name = idx_specs["train_images"].name
    (tmp_path / name).write_bytes(b"corrupt")
    with pytest.raises(UserError) as error:
        _load(tmp_path, [f"http://127.0.0.1:{free_port()}/"], idx_specs, progress=None)
    assert "failed its MD5 check" in str(error.value) and "refused" in str(error.value).lower()
    assert (tmp_path / name).read_bytes() == b"corrupt"  # not deleted, not replaced by anything partial
    assert _leftovers(tmp_path) == [name]


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_bad_timeout_setting_is_a_user_error(monkeypatch, value):
    monkeypatch.setenv(TIMEOUT_ENV, value)
    with pytest.raises(UserError, match=TIMEOUT_ENV):
        download_timeout()
