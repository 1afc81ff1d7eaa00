import gzip
import struct

import numpy as np
import pytest

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.data.idx import read_idx, write_idx


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_round_trip_plain_and_gzip(tmp_path, name):
    images = np.arange(3 * 28 * 28, dtype=np.uint32).reshape(3, 28, 28).astype(np.uint8)
    path = write_idx(tmp_path / name, images)
    loaded = read_idx(path, (28, 28))
    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, images)


def test_header_is_the_documented_layout(tmp_path):
    path = write_idx(tmp_path / "labels", np.array([7, 2, 9], dtype=np.uint8))
    assert path.read_bytes() == b"\x00\x00\x08\x01" + struct.pack(">I", 3) + bytes([7, 2, 9])


def test_gzip_detected_by_content_not_name(tmp_path):
    labels = np.array([1, 2, 3], dtype=np.uint8)
    raw = write_idx(tmp_path / "plain", labels).read_bytes()
    disguised = tmp_path / "labels-without-gz-suffix"
    disguised.write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(disguised), labels)


def _expect_error(path, expected_dims, *fragments):
    with pytest.raises(UserError) as error:
        read_idx(path, expected_dims)
    message = str(error.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_truncated_file_names_file_and_sizes(tmp_path):
    path = write_idx(tmp_path / "images", np.zeros((4, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    _expect_error(path, (28, 28), "truncated", str(16 + 4 * 784))


def test_trailing_bytes_rejected(tmp_path):
    path = write_idx(tmp_path / "labels", np.zeros(5, np.uint8))
    path.write_bytes(path.read_bytes() + b"xx")
    _expect_error(path, (), "trailing")


def test_bad_magic_rejected(tmp_path):
    path = tmp_path / "not-idx"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    _expect_error(path, (), "magic")


def test_wrong_data_type_rejected(tmp_path):
    path = tmp_path / "floats"
    path.write_bytes(b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + bytes(4))
    _expect_error(path, (), "0x0d")


def test_wrong_dimensions_rejected(tmp_path):
    path = write_idx(tmp_path / "images", np.zeros((2, 32, 32), np.uint8))
    _expect_error(path, (28, 28), "2x32x32", "Nx28x28")


def test_labels_file_given_where_images_expected(tmp_path):
    path = write_idx(tmp_path / "labels", np.zeros(10, np.uint8))
    _expect_error(path, (28, 28), "expected Nx28x28")


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(bytes(1000))[:30])
    _expect_error(path, (28, 28), "gzip")


def test_missing_and_empty_files(tmp_path):
    _expect_error(tmp_path / "nope", (), "not found")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    _expect_error(empty, (), "not an IDX file")
