"""Tests for the synthetic Fashion-MNIST look-alike (fashion_mnist_vis.data.synthetic)."""

import inspect
import warnings

import numpy as np
import pytest

from fashion_mnist_vis.classes import IMAGE_SIZE, NUM_CLASSES
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.data.synthetic import generate_synthetic, load_synthetic


@pytest.fixture(scope="module")
def sample():
    """2,000 images and labels from seed 0."""
    return generate_synthetic(2000, seed=0)


@pytest.fixture(scope="module")
def split():
    """A small train/test split: 3,000 training and 2,000 test images."""
    return load_synthetic(train_size=3000, test_size=2000, seed=0)


# ----------------------------------------------------------------------------
# Conventions: shapes, dtypes, values, labels


def test_shapes_dtypes_and_value_range(sample):
    images, labels = sample
    assert images.shape == (2000, IMAGE_SIZE, IMAGE_SIZE)
    assert images.dtype == np.uint8
    assert labels.shape == (2000,)
    assert labels.dtype == np.uint8
    assert labels.min() == 0 and labels.max() == NUM_CLASSES - 1
    # uint8 is 0..255 by construction; the range is actually used
    assert images.min() == 0
    assert images.max() >= 250


def test_zero_images():
    images, labels = generate_synthetic(0, seed=0)
    assert images.shape == (0, IMAGE_SIZE, IMAGE_SIZE) and images.dtype == np.uint8
    assert labels.shape == (0,) and labels.dtype == np.uint8


@pytest.mark.parametrize("num_images", [2000, 2003, 17])
def test_labels_balanced(num_images):
    _, labels = generate_synthetic(num_images, seed=3)
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    assert counts.sum() == num_images
    assert counts.min() >= num_images // NUM_CLASSES
    assert counts.max() <= num_images // NUM_CLASSES + 1


def test_labels_in_random_order(sample):
    _, labels = sample
    assert not np.array_equal(labels, np.sort(labels))
    assert not np.array_equal(labels, np.arange(len(labels)) % NUM_CLASSES)
    # runs of one class are short, as in a shuffled set
    assert (labels[1:] != labels[:-1]).mean() > 0.8


def test_light_items_on_black_background_filling_the_frame(sample):
    images, _ = sample
    border = np.concatenate(
        [images[:, 0, :], images[:, -1, :], images[:, :, 0], images[:, :, -1]], axis=1
    )
    assert (border == 0).mean() > 0.8  # the frame's edge is mostly background
    assert (images == 0).mean() > 0.3  # so is a good part of every image
    lit = images > 0
    rows, cols = lit.any(axis=2), lit.any(axis=1)  # (n, 28) each: which rows / columns hold the item
    # each item's longer side spans most of the frame
    longer_side = np.maximum(rows.sum(axis=1), cols.sum(axis=1))
    assert np.median(longer_side) >= 23
    assert longer_side.min() >= 16
    # and items are centred: their bounding box's centre is within a few pixels of the middle

    def box_centre(occupied):
        first = occupied.argmax(axis=1)
        last = IMAGE_SIZE - 1 - occupied[:, ::-1].argmax(axis=1)
        return (first + last) / 2

    middle = (IMAGE_SIZE - 1) / 2
    for centre in (box_centre(rows), box_centre(cols)):
        assert np.abs(centre - middle).max() <= 4
        assert abs(np.median(centre) - middle) <= 1


# ----------------------------------------------------------------------------
# Determinism and streams


def test_same_seed_gives_identical_arrays():
    first = generate_synthetic(300, seed=42)
    second = generate_synthetic(300, seed=42)
    assert first[0].tobytes() == second[0].tobytes()
    assert first[1].tobytes() == second[1].tobytes()


def test_different_seeds_give_different_arrays():
    images_a, labels_a = generate_synthetic(300, seed=1)
    images_b, labels_b = generate_synthetic(300, seed=2)
    assert not np.array_equal(labels_a, labels_b)
    assert not np.array_equal(images_a, images_b)


def test_load_synthetic_shapes_and_defaults(split):
    (x_train, y_train), (x_test, y_test) = split
    assert x_train.shape == (3000, IMAGE_SIZE, IMAGE_SIZE) and x_train.dtype == np.uint8
    assert y_train.shape == (3000,) and y_train.dtype == np.uint8
    assert x_test.shape == (2000, IMAGE_SIZE, IMAGE_SIZE) and x_test.dtype == np.uint8
    assert y_test.shape == (2000,) and y_test.dtype == np.uint8
    defaults = inspect.signature(load_synthetic).parameters
    assert defaults["train_size"].default == 60000
    assert defaults["test_size"].default == 10000
    assert defaults["seed"].default == 0


def test_train_set_does_not_depend_on_test_size(split):
    (x_train, y_train), (x_test, y_test) = split
    (x_train_2, y_train_2), (x_test_2, y_test_2) = load_synthetic(train_size=3000, test_size=500, seed=0)
    assert x_train.tobytes() == x_train_2.tobytes()
    assert y_train.tobytes() == y_train_2.tobytes()
    assert len(x_test_2) == 500
    # and the test set does not depend on the training set's size
    (_, _), (x_test_3, y_test_3) = load_synthetic(train_size=100, test_size=2000, seed=0)
    assert x_test.tobytes() == x_test_3.tobytes()
    assert y_test.tobytes() == y_test_3.tobytes()


def test_train_and_test_are_different_streams(split):
    (x_train, _), (x_test, _) = split
    assert not np.array_equal(x_train[:2000], x_test)
    # neither equals generate_synthetic with the same seed
    images, _ = generate_synthetic(2000, seed=0)
    assert not np.array_equal(images, x_train[:2000])
    assert not np.array_equal(images, x_test)


def test_load_synthetic_seed_changes_both_sets(split):
    (x_train, _), (x_test, _) = split
    (x_train_1, _), (x_test_1, _) = load_synthetic(train_size=3000, test_size=2000, seed=1)
    assert not np.array_equal(x_train, x_train_1)
    assert not np.array_equal(x_test, x_test_1)


@pytest.mark.parametrize(
    "call",
    [
        lambda: generate_synthetic(-1, seed=0),
        lambda: generate_synthetic(10.5, seed=0),
        lambda: generate_synthetic(10, seed=-1),
        lambda: generate_synthetic(10, seed="zero"),
        lambda: load_synthetic(train_size=-5),
        lambda: load_synthetic(train_size=10, test_size=-5),
        lambda: load_synthetic(train_size=10, test_size=10, seed=-3),
    ],
)
def test_bad_arguments_raise_user_error(call):
    with pytest.raises(UserError):
        call()


# ----------------------------------------------------------------------------
# Learnable, but not by brightness alone


def _mean_brightness(images):
    return images.reshape(len(images), -1).mean(axis=1)


def test_mean_brightness_is_a_poor_classifier(split):
    """The best 1-D rule on mean brightness (majority class per brightness bin) stays weak."""
    (x_train, y_train), (x_test, y_test) = split
    train_feature, test_feature = _mean_brightness(x_train), _mean_brightness(x_test)
    bins = 20
    edges = np.quantile(train_feature, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    train_bin = np.searchsorted(edges, train_feature)
    test_bin = np.searchsorted(edges, test_feature)
    majority = np.array(
        [np.bincount(y_train[train_bin == b], minlength=NUM_CLASSES).argmax() for b in range(bins)]
    )
    assert (majority[test_bin] == y_test).mean() < 0.45
    # and a nearest-class-mean rule on the same feature
    class_means = np.array([train_feature[y_train == c].mean() for c in range(NUM_CLASSES)])
    predicted = np.abs(test_feature[:, None] - class_means[None, :]).argmin(axis=1)
    assert (predicted == y_test).mean() < 0.45


def test_shade_distribution_is_the_same_for_every_class(sample):
    """The brightest pixel of an item (its shade) has a similar spread in every class."""
    images, labels = sample
    peak = images.reshape(len(images), -1).max(axis=1).astype(np.float64)
    medians = np.array([np.median(peak[labels == c]) for c in range(NUM_CLASSES)])
    spreads = np.array([np.subtract(*np.percentile(peak[labels == c], [90, 10])) for c in range(NUM_CLASSES)])
    assert medians.max() - medians.min() < 40
    assert spreads.min() > 80  # dark and light items in every class


def test_nearest_centroid_on_raw_pixels_beats_chance(split):
    (x_train, y_train), (x_test, y_test) = split
    train = x_train.reshape(len(x_train), -1).astype(np.float32)
    test = x_test.reshape(len(x_test), -1).astype(np.float32)
    centroids = np.stack([train[y_train == c].mean(axis=0) for c in range(NUM_CLASSES)])
    distances = (test**2).sum(1)[:, None] - 2 * test @ centroids.T + (centroids**2).sum(1)[None, :]
    assert (distances.argmin(axis=1) == y_test).mean() > 0.6


def test_logistic_regression_on_pixels_learns_the_classes(split):
    """A linear classifier on raw pixels, trained on 3,000 images, does well on held-out ones."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    (x_train, y_train), (x_test, y_test) = split
    # One BLAS thread: on small machines, threads fighting over cores make this fit 5-10x slower.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier = linear_model.LogisticRegression(max_iter=200)
        classifier.fit(x_train.reshape(len(x_train), -1) / 255.0, y_train)
        predicted = classifier.predict(x_test.reshape(len(x_test), -1) / 255.0)
    assert (predicted == y_test).mean() > 0.8
    # every class is learned, not just the easy ones
    recalls = [(predicted[y_test == c] == c).mean() for c in range(NUM_CLASSES)]
    assert min(recalls) > 0.5


def test_class_mean_images_are_pairwise_distinct(sample):
    """For every pair of classes some pixel's mean differs far beyond sampling noise (|t| > 6)."""
    images, labels = sample
    pixels = images.reshape(len(images), -1).astype(np.float64)
    means = np.stack([pixels[labels == c].mean(axis=0) for c in range(NUM_CLASSES)])
    variances = np.stack(
        [pixels[labels == c].var(axis=0, ddof=1) / (labels == c).sum() for c in range(NUM_CLASSES)]
    )
    for a in range(NUM_CLASSES):
        for b in range(a + 1, NUM_CLASSES):
            t = np.abs(means[a] - means[b]) / np.sqrt(variances[a] + variances[b] + 1e-6)
            assert t.max() > 6, (a, b)
            assert np.sqrt(((means[a] - means[b]) ** 2).mean()) > 3, (a, b)
