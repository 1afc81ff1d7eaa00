import json
import os

import keras
import numpy as np
import pytest

from fashion_mnist_vis.models import model_io
from fashion_mnist_vis.atomic import atomic_path, write_json_atomic, write_text_atomic
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.models.model_io import save_model_atomic


def _tiny_model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="dense")])


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temp:
            temp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_atomic_write_replaces_with_normal_permissions(tmp_path):
    path = write_json_atomic(tmp_path / "m.json", {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert path.stat().st_mode & 0o044, "file should be readable by others like any other file"


def test_text_is_written_as_utf8_in_one_piece(tmp_path):
    path = write_text_atomic(tmp_path / "sub" / "page.html", "\u201cT-shirt\u201d \u00d7 3\n")
    assert path.read_bytes() == b"\xe2\x80\x9cT-shirt\xe2\x80\x9d \xc3\x97 3\n"  # UTF-8 whatever the locale
    assert write_json_atomic(tmp_path / "m.json", {"a": [1]}).read_text() == '{\n  "a": [\n    1\n  ]\n}\n'
    assert sorted(os.listdir(tmp_path)) == ["m.json", "sub"]


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_model_save_failure_keeps_the_previous_model(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"model{suffix}"
    first = _tiny_model(1)
    save_model_atomic(first, path)
    before = path.read_bytes()

    second = _tiny_model(2)
    real_write = model_io._write_model

    def crash_halfway(model, filepath):
        real_write(model, filepath)
        with open(filepath, "r+b") as handle:  # simulate the process dying mid-write
            handle.truncate(100)
        raise KeyboardInterrupt

    monkeypatch.setattr(model_io, "_write_model", crash_halfway)
    with pytest.raises(KeyboardInterrupt):
        save_model_atomic(second, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(reloaded.get_weights()[0], first.get_weights()[0])


def test_unwritable_destination_is_a_user_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")  # fails even for root, unlike chmod
    with pytest.raises(UserError, match="not-a-folder"):
        save_model_atomic(_tiny_model(0), blocker / "m.keras")
    assert blocker.read_text() == "a file where a folder should be"


def test_wrong_suffix_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="must end in .keras or .h5"):
        save_model_atomic(_tiny_model(0), tmp_path / "model.pt")
