"""projector/served_files.py: which request targets the Projector server may answer with a file, and as what."""

import os
from http import HTTPStatus

import pytest

from fashion_mnist_vis.projector.served_files import Refused, content_type_for, resolve_target


def test_content_types_are_fixed_for_the_export_and_guessed_for_the_rest():
    assert content_type_for("vectors.bytes") == "application/octet-stream"
    assert content_type_for("META.TSV") == "text/tab-separated-values; charset=utf-8"  # suffix case ignored
    assert content_type_for("archive.tar.gz") == "application/octet-stream"  # an encoding: sent as it is
    assert content_type_for("notes.xml") in ("text/xml; charset=utf-8", "application/xml")


@pytest.fixture
def root(tmp_path):
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "config.json").write_text("{}")
    (tmp_path / "served" / "sub").mkdir()
    (tmp_path / "served" / "sub" / "a b.tsv").write_text("x")
    (tmp_path / "served" / ".hidden").write_text("secret")
    (tmp_path / "outside.txt").write_text("secret")
    os.symlink(tmp_path / "outside.txt", tmp_path / "served" / "link.txt")
    return os.path.realpath(tmp_path / "served")


def test_files_inside_the_folder_resolve_to_their_real_paths(root):
    assert resolve_target(root, "/config.json?x=1#top") == os.path.join(root, "config.json")
    assert resolve_target(root, "/sub%2fa%20b.tsv") == os.path.join(root, "sub", "a b.tsv")  # %2f is a separator
    assert resolve_target(root, "http://localhost:8000/config.json") == os.path.join(root, "config.json")


@pytest.mark.parametrize("target, status", [
    ("/../outside.txt", HTTPStatus.FORBIDDEN),
    ("/%2e%2e/outside.txt", HTTPStatus.FORBIDDEN),
    ("/sub\\..\\config.json", HTTPStatus.FORBIDDEN),
    ("/config.json%00.png", HTTPStatus.FORBIDDEN),
    ("/link.txt", HTTPStatus.NOT_FOUND),  # a symlink that leads outside
    ("/.hidden", HTTPStatus.NOT_FOUND),
    ("/", HTTPStatus.NOT_FOUND),
    ("/sub", HTTPStatus.NOT_FOUND),  # no directory listings
    ("/missing.json", HTTPStatus.NOT_FOUND),
    ("/%ff", HTTPStatus.NOT_FOUND),  # not UTF-8
])
def test_targets_that_leave_the_folder_or_name_no_file_are_refused(root, target, status):
    with pytest.raises(Refused) as refused:
        resolve_target(root, target)
    assert refused.value.status == status
