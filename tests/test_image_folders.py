"""Class folder names and labelled image folders (DIR/<class>/*)."""

import numpy as np
import pytest
from PIL import Image

from fashion_mnist_vis.classes import CLASS_NAMES, accepted_class_names, match_class_name
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.data.image_folders import find_class_folders, load_labelled_folder


@pytest.mark.parametrize(
    "folder, label",
    [
        ("T-shirt_top", 0), ("t_shirt_top", 0), ("tshirt", 0), ("T-Shirts", 0), ("top", 0), ("0", 0),
        ("Trouser", 1), ("trousers", 1), ("1", 1),
        ("pullover", 2), ("Pull-Over", 2),
        ("dress", 3), ("Dresses", 3),
        ("COAT", 4), ("coats", 4), ("4", 4),
        ("sandal", 5), ("Sandals", 5),
        ("shirt", 6), ("Shirts", 6), (" shirt ", 6),
        ("sneaker", 7), ("Sneakers", 7),
        ("bag", 8), ("bags", 8),
        ("ankle-boot", 9), ("Ankle boot", 9), ("ankle_boots", 9), ("AnkleBoot", 9), ("9", 9),
        ("10", None), ("-1", None), ("boot", None), ("shoe", None), ("t", None), ("", None), ("s", None),
    ],
)
def test_class_folder_names(folder, label):
    assert match_class_name(folder) == label


def test_every_official_name_matches_its_label_and_is_listed():
    for label, name in enumerate(CLASS_NAMES):
        assert match_class_name(name) == label
    listed = accepted_class_names()
    for spelling in ("tshirt_top", "ankle_boot", "sneaker", "0-9"):
        assert spelling in listed


def _write(folder, count, value=200, size=28):
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        pixels = np.zeros((size, size), dtype=np.uint8)
        pixels[6:22, 8 + index % 4:20] = value
        Image.fromarray(pixels).save(folder / f"item{index}.png")


def test_load_labelled_folder_reads_each_class_folder(tmp_path):
    _write(tmp_path / "Ankle boot", 3)
    _write(tmp_path / "tshirt", 2)
    _write(tmp_path / "7", 1)
    (tmp_path / "empty_bag_folder_is_not_a_class").mkdir()
    with pytest.raises(UserError, match="unknown class folder 'empty_bag_folder_is_not_a_class'"):
        load_labelled_folder(tmp_path, (28, 28, 1))
    (tmp_path / "empty_bag_folder_is_not_a_class").rmdir()
    (tmp_path / "bags").mkdir()
    (tmp_path / ".hidden").mkdir()
    _write(tmp_path, 1)  # a loose image beside the class folders
    loaded = load_labelled_folder(tmp_path, (None, 28, 28, 1))
    assert loaded.inputs.shape == (6, 28, 28, 1) and loaded.inputs.dtype == np.float32
    assert sorted(loaded.labels.tolist()) == [0, 0, 7, 9, 9, 9]
    assert loaded.class_folders == {"7": 7, "Ankle boot": 9, "bags": 8, "tshirt": 0}
    assert any("holds no images" in note for note in loaded.notes)
    assert any("directly in" in note for note in loaded.notes)
    # a 28x28 dark-background PNG is used as it is: exactly pixels / 255
    first = loaded.paths.index(tmp_path / "7" / "item0.png")
    expected = np.asarray(Image.open(loaded.paths[first]), dtype=np.float32) / 255
    np.testing.assert_array_equal(loaded.inputs[first, ..., 0], expected)


@pytest.mark.parametrize(
    "layout, message",
    [
        ("missing", "does not exist"),
        ("file", "is not a folder"),
        ("no_folders", "holds no class folders"),
        ("unknown", "unknown class folders 'boots', 'hats'"),
        ("empty_classes", "hold no image files"),
    ],
)
def test_bad_folders_are_explained(tmp_path, layout, message):
    root = tmp_path / "photos"
    if layout == "file":
        root.write_text("not a folder")
    elif layout != "missing":
        root.mkdir()
    if layout == "unknown":
        for name in ("sneaker", "boots", "hats"):
            (root / name).mkdir()
    if layout == "empty_classes":
        (root / "coat").mkdir()
        (root / "coat" / "notes.txt").write_text("no images here")
    with pytest.raises(UserError, match=message) as error:
        load_labelled_folder(root, (28, 28, 1))
    if layout == "unknown":
        assert "accepted names" in str(error.value) and "ankle_boot" in str(error.value)


def test_find_class_folders_merges_spellings_of_one_class(tmp_path):
    for name in ("coat", "Coats", "4"):
        (tmp_path / name).mkdir()
    assert set(find_class_folders(tmp_path).values()) == {4}
