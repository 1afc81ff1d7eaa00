"""The class-conditional Mahalanobis distance (fashion_mnist_vis.explain.mahalanobis)."""

import numpy as np
import pytest

from fashion_mnist_vis.explain.mahalanobis import fit_class_gaussians
from fashion_mnist_vis.explain.neighbours import NeighbourIndex
from fashion_mnist_vis.explain.unfamiliarity import nearest_distances


def test_fit_and_distance_by_hand():
    # Class 0 at (+-1, 0) and (0, +-1) around (0, 0), class 1 the same around (4, 0): the pooled
    # within-class covariance is diag(0.5, 0.5), so the precision is 2 I.
    square = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    gaussians = fit_class_gaussians(np.concatenate([square, square + [4.0, 0.0]]), np.repeat([0, 1], 4))
    np.testing.assert_allclose(gaussians.means, [[0.0, 0.0], [4.0, 0.0]])
    np.testing.assert_allclose(gaussians.precision, 2 * np.eye(2), atol=1e-12)
    # (1, 1): 2 * (1 + 1) = 4 from class 0, 2 * (9 + 1) = 20 from class 1; the nearest class counts.
    np.testing.assert_allclose(gaussians.distances(np.array([[1.0, 1.0], [4.0, 0.0]])), [4.0, 0.0], atol=1e-12)


def test_a_step_along_a_direction_the_training_images_hardly_vary_in_counts_most():
    """What the cosine distance cannot see: two embeddings pointing the same way as training images, one
    longer along the direction in which the training images vary least."""
    rng = np.random.default_rng(0)
    training = rng.normal(size=(2000, 2)) * [3.0, 0.1] + [10.0, 10.0]
    gaussians = fit_class_gaussians(training, np.zeros(2000, dtype=int))
    along_wide, along_narrow = np.array([[11.0, 10.0]]), np.array([[10.0, 11.0]])
    assert gaussians.distances(along_narrow)[0] > 50 * gaussians.distances(along_wide)[0]
    # The same step scaled along the mean direction (12, 12) is 0 away by cosine from (10, 10) training images.
    index = NeighbourIndex(np.array([[10.0, 10.0]]))
    assert nearest_distances(index, np.array([[12.0, 12.0]]))[0] == pytest.approx(0.0, abs=1e-6)
    assert gaussians.distances(np.array([[12.0, 12.0]]))[0] > 0.5


def test_a_channel_no_training_image_varies_in_is_ignored():
    rng = np.random.default_rng(1)
    training = np.column_stack([rng.normal(size=500), np.zeros(500)])  # a dead channel
    gaussians = fit_class_gaussians(training, rng.integers(0, 3, 500))
    assert np.isfinite(gaussians.precision).all()
    np.testing.assert_allclose(gaussians.distances(np.array([[0.0, 5.0]])), gaussians.distances(np.array([[0.0, 0.0]])))


def test_only_the_classes_present_get_a_mean():
    gaussians = fit_class_gaussians(np.arange(12.0).reshape(6, 2), np.array([2, 2, 7, 7, 7, 2]))
    assert gaussians.means.shape == (2, 2)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        fit_class_gaussians(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError):
        fit_class_gaussians(np.zeros((0, 2)), np.zeros(0))
    gaussians = fit_class_gaussians(np.eye(2), np.array([0, 1]))
    with pytest.raises(ValueError):
        gaussians.distances(np.zeros((1, 3)))
