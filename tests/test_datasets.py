import json
from pathlib import Path

import numpy as np
import pytest

from fashion_mnist_vis.data.datasets import (
    DataSettings,
    describe_counts,
    load_splits,
    stratified_split,
    stratified_subset,
)
from fashion_mnist_vis.errors import UserError


def _labels(count=1000):
    return np.repeat(np.arange(10, dtype=np.uint8), count // 10)


def test_split_is_stratified_and_disjoint():
    labels = _labels()
    images = np.arange(len(labels))  # stand-in "images": their own index
    (kept_x, kept_y), (out_x, out_y) = stratified_split(images, labels, 0.1, seed=3)
    assert np.bincount(out_y).tolist() == [10] * 10
    assert np.bincount(kept_y).tolist() == [90] * 10
    assert set(kept_x).isdisjoint(out_x) and len(kept_x) + len(out_x) == 1000
    np.testing.assert_array_equal(labels[out_x], out_y)


def test_split_is_reproducible_by_seed():
    labels = _labels()
    images = np.arange(len(labels))
    first = stratified_split(images, labels, 0.2, seed=7)[1][0]
    again = stratified_split(images, labels, 0.2, seed=7)[1][0]
    other = stratified_split(images, labels, 0.2, seed=8)[1][0]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(np.sort(first), np.sort(other))


def test_split_too_small_is_a_user_error():
    with pytest.raises(UserError, match="cannot hold out"):
        stratified_split(np.arange(20), _labels(20), 0.1, seed=0)


def test_subset_is_balanced():
    labels = _labels()
    images, subset_labels = stratified_subset(np.arange(1000), labels, 200, seed=0)
    assert np.bincount(subset_labels).tolist() == [20] * 10
    assert stratified_subset(np.arange(1000), labels, 5000, seed=0)[0].shape == (1000,)


def test_subset_smaller_than_the_classes_is_one_clear_user_error():
    # --num 5 / --images 5 used to surface scikit-learn's "The test_size = 5 should be greater or equal..."
    labels = _labels()
    with pytest.raises(UserError, match=r"^a class-balanced sample of 5 images is too small: it needs at least 10, one per class$"):
        stratified_subset(np.arange(1000), labels, 5, seed=0)
    assert np.bincount(stratified_subset(np.arange(1000), labels, 10, seed=0)[1]).tolist() == [1] * 10


def test_validation_comes_from_training_set_only(idx_dir):
    splits = load_splits(DataSettings(data_dir=idx_dir, val_split=0.25), seed=0)
    assert len(splits.y_train) == 450 and len(splits.y_val) == 150 and len(splits.y_test) == 200
    train_rows = {row.tobytes() for row in splits.x_train}
    assert not any(row.tobytes() in train_rows for row in splits.x_val)
    assert splits.x_train.dtype == np.uint8 and splits.x_val.shape[1:] == (28, 28)
    assert set(splits.checksums) == {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                     "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}


def test_sizes_subsample_real_data(idx_dir):
    splits = load_splits(DataSettings(data_dir=idx_dir, train_size=300, test_size=100), seed=0)
    assert len(splits.y_train) + len(splits.y_val) == 300 and len(splits.y_test) == 100


def test_data_dir_with_synthetic_is_refused(tmp_path):
    with pytest.raises(UserError, match="a data folder is for the real dataset") as refused:
        DataSettings(dataset="synthetic", data_dir=tmp_path)
    assert "--" not in str(refused.value)  # flags are the command layer's business


def test_data_settings_survive_json():
    settings = DataSettings(data_dir=Path("/data/fashion"), train_size=300, val_split=0.2)
    assert DataSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings


def test_describe_counts():
    assert describe_counts(_labels()) == "1000 images, 100 per class"
