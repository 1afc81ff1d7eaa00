"""Finding and downloading the real files, against a local HTTP server serving generated IDX files."""

import gzip
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import FileServer, free_port
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.data.fashion_mnist import (
    CACHE_ENV,
    MIRRORS,
    MIRRORS_ENV,
    OFFICIAL_FILES,
    SYSTEM_ENV,
    TIMEOUT_ENV,
    configured_mirrors,
    content_md5,
    default_cache_dir,
    default_system_dir,
    download_timeout,
    load_fashion_mnist,
)
from fashion_mnist_vis.data.idx import read_idx


def _load(cache, mirrors, specs, progress=None, system=None):
    return load_fashion_mnist(cache_dir=cache, mirrors=mirrors, files=specs, progress=progress, system_dir=system)


def test_download_fills_cache_and_loads(tmp_path, file_server, idx_specs, idx_dir):
    progress = io.StringIO()
    data = _load(tmp_path / "cache", [file_server.url], idx_specs, progress)
    assert data.x_train.shape == (600, 28, 28) and data.x_test.shape == (200, 28, 28)
    np.testing.assert_array_equal(data.y_train, read_idx(idx_dir / "train-labels-idx1-ubyte.gz"))
    for spec in idx_specs.values():
        assert content_md5(tmp_path / "cache" / spec.name) == spec.md5
        assert data.checksums[spec.name] == {
            "path": str(tmp_path / "cache" / spec.name), "decompressed_md5": spec.md5, "verified": True}
    assert data.source == f"Fashion-MNIST downloaded from {file_server.url} into {tmp_path / 'cache'}"
    assert "train-images-idx3-ubyte.gz [" in progress.getvalue()
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]


def test_cached_files_are_not_downloaded_again(tmp_path, file_server, idx_specs):
    _load(tmp_path, [file_server.url], idx_specs)
    count = len(file_server.requests)
    data = _load(tmp_path, [file_server.url], idx_specs)
    assert len(file_server.requests) == count == 4
    assert data.source == f"Fashion-MNIST from the cache {tmp_path}"


def test_corrupt_cache_entry_is_downloaded_again(tmp_path, file_server, idx_specs):
    _load(tmp_path, [file_server.url], idx_specs)
    target = tmp_path / idx_specs["test_labels"].name
    target.write_bytes(b"corrupt")
    progress = io.StringIO()
    _load(tmp_path, [file_server.url], idx_specs, progress)
    assert content_md5(target) == idx_specs["test_labels"].md5
    assert f"{target} is corrupt (MD5 " in progress.getvalue()
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
        assert content_md5(tmp_path / name) == idx_specs["train_images"].md5
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
    assert "train on generated data (the synthetic dataset)" in message and "--" not in message
    assert error.value.settings == ("data_dir", "dataset=synthetic")  # train adds its flags: test_train.py
    assert "apt-get install dataset-fashion-mnist" in message and "\n" not in message
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
    with pytest.raises(UserError, match="does not match the official f4a8712d7a061bf5bd6d2ca38dc4d50a"):
        _load(tmp_path, [file_server.url], OFFICIAL_FILES)
    assert not (tmp_path / "train-images-idx3-ubyte.gz").exists()


def test_data_dir_accepts_gzip_or_plain_and_never_downloads(tmp_path, idx_dir):
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
    from fashion_mnist_vis.data.idx import write_idx

    for path in idx_dir.iterdir():
        shutil.copy(path, tmp_path / path.name)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(150, np.uint8))
    with pytest.raises(UserError, match="200 images but t10k-labels-idx1-ubyte.gz has 150 labels"):
        load_fashion_mnist(data_dir=tmp_path)


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(MIRRORS_ENV, "http://a.example/x, http://b.example/y/")
    monkeypatch.setenv(SYSTEM_ENV, str(tmp_path / "system"))
    assert default_cache_dir() == tmp_path
    assert configured_mirrors() == ["http://a.example/x/", "http://b.example/y/"]
    assert default_system_dir() == tmp_path / "system"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.delenv(MIRRORS_ENV)
    monkeypatch.delenv(SYSTEM_ENV)
    assert str(default_cache_dir()).endswith(".keras/datasets/fashion-mnist")
    assert configured_mirrors() == list(MIRRORS)
    assert default_system_dir() == Path("/usr/share/datasets/fashion-mnist")


# -- the system-wide copy (Debian's dataset-fashion-mnist) and the decompressed-MD5 rule ------


def _recompressed(idx_dir, folder, names=None, plain=False):
    """Copies of the generated files in ``folder``, recompressed (other .gz bytes, same content) or uncompressed."""
    folder.mkdir(exist_ok=True)
    for path in idx_dir.iterdir():
        if names is None or path.name in names:
            content = gzip.decompress(path.read_bytes())
            if plain:
                (folder / path.name[: -len(".gz")]).write_bytes(content)
            else:
                (folder / path.name).write_bytes(gzip.compress(content, compresslevel=1, mtime=12345))
    return folder


def _unreachable():
    return [f"http://127.0.0.1:{free_port()}/"]


def test_system_copy_is_read_in_place_when_the_cache_is_empty(tmp_path, idx_dir, idx_specs):
    system = _recompressed(idx_dir, tmp_path / "system")
    name = idx_specs["train_images"].name
    assert (system / name).read_bytes() != (idx_dir / name).read_bytes(), "not a recompressed copy"
    data = _load(tmp_path / "cache", _unreachable(), idx_specs, system=system)
    assert data.source == f"Fashion-MNIST from {system}"
    assert data.x_train.shape == (600, 28, 28) and len(data.y_test) == 200
    assert data.checksums[name] == {"path": str(system / name), "decompressed_md5": idx_specs["train_images"].md5,
                                    "verified": True}
    assert not (tmp_path / "cache").exists(), "nothing is copied or downloaded"


def test_uncompressed_system_copy_is_accepted(tmp_path, idx_dir, idx_specs):
    system = _recompressed(idx_dir, tmp_path / "system", plain=True)
    data = _load(tmp_path / "cache", _unreachable(), idx_specs, system=system)
    assert data.source == f"Fashion-MNIST from {system}" and len(data.y_train) == 600


def test_cache_comes_before_the_system_copy(tmp_path, idx_dir, idx_specs):
    cache = _recompressed(idx_dir, tmp_path / "cache")
    system = _recompressed(idx_dir, tmp_path / "system")
    assert _load(cache, _unreachable(), idx_specs, system=system).source == f"Fashion-MNIST from the cache {cache}"


def test_each_file_comes_from_the_first_place_that_has_a_good_copy(tmp_path, idx_dir, idx_specs, file_server):
    test_names = [idx_specs["test_images"].name, idx_specs["test_labels"].name]
    train_names = [idx_specs["train_images"].name, idx_specs["train_labels"].name]
    system = _recompressed(idx_dir, tmp_path / "system", names=test_names)
    data = _load(tmp_path / "cache", [file_server.url], idx_specs, system=system)
    assert data.source == (f"Fashion-MNIST: {', '.join(train_names)} downloaded from {file_server.url} into "
                           f"{tmp_path / 'cache'}; {', '.join(test_names)} from {system}")
    assert sorted(file_server.requests) == sorted("/" + name for name in train_names)


def test_a_recompressed_download_is_accepted(tmp_path, idx_dir, idx_specs):
    mirror = FileServer(_recompressed(idx_dir, tmp_path / "mirror"))
    try:
        data = _load(tmp_path / "cache", [mirror.url], idx_specs)
    finally:
        mirror.close()
    assert all(record["verified"] for record in data.checksums.values()) and len(data.y_train) == 600


@pytest.mark.parametrize("damage, reason", [
    (lambda raw: raw[: len(raw) // 2], "corrupt or truncated gzip data"),
    (lambda raw: gzip.compress(gzip.decompress(raw)[:-1] + b"x"), "does not match the official"),
    (lambda raw: b"", "does not match the official"),
])
def test_a_bad_system_copy_is_refused_with_one_line(tmp_path, idx_dir, idx_specs, damage, reason):
    system = _recompressed(idx_dir, tmp_path / "system")
    bad = system / idx_specs["train_images"].name
    bad.write_bytes(damage(bad.read_bytes()))
    with pytest.raises(UserError) as error:
        _load(tmp_path / "cache", _unreachable(), idx_specs, system=system)
    message = str(error.value)
    assert "\n" not in message and f"The system copy {bad} is corrupt: " in message and reason in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_a_bad_system_copy_is_replaced_by_a_download(tmp_path, idx_dir, idx_specs, file_server):
    system = _recompressed(idx_dir, tmp_path / "system")
    bad = system / idx_specs["test_labels"].name
    bad.write_bytes(b"wrong")
    progress = io.StringIO()
    data = _load(tmp_path / "cache", [file_server.url], idx_specs, progress, system=system)
    assert f"{bad} is corrupt (MD5 " in progress.getvalue()
    assert file_server.requests == ["/" + bad.name] and len(data.y_test) == 200
    assert data.checksums[bad.name]["path"] == str(tmp_path / "cache" / bad.name)


def test_data_dir_files_are_checked_and_recorded_but_not_refused(idx_dir, idx_specs):
    official = load_fashion_mnist(data_dir=idx_dir)  # the official MD5s: the generated files are not them
    assert official.source == f"Fashion-MNIST from {idx_dir} (4 of 4 files are not the official ones)"
    assert not any(record["verified"] for record in official.checksums.values())
    stand_ins = load_fashion_mnist(data_dir=idx_dir, files=idx_specs)
    assert stand_ins.source == f"Fashion-MNIST from {idx_dir}"
    assert all(record["verified"] for record in stand_ins.checksums.values())


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
    assert f"The cached copy {tmp_path / name} is corrupt: MD5 " in str(error.value)
    assert "refused" in str(error.value).lower()
    assert (tmp_path / name).read_bytes() == b"corrupt"  # not deleted, not replaced by anything partial
    assert _leftovers(tmp_path) == [name]


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_bad_timeout_setting_is_a_user_error(monkeypatch, value):
    monkeypatch.setenv(TIMEOUT_ENV, value)
    with pytest.raises(UserError, match=TIMEOUT_ENV):
        download_timeout()
