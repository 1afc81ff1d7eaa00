"""Prototypes and atypical training images per class (fashion_mnist_vis.explain.class_examples), by hand."""

import numpy as np
import pytest

from fashion_mnist_vis.explain.class_examples import (
    MISSING, cluster_medoids, farthest_from_centroid, find_class_examples)


def _at(degrees, length=1.0):
    radians = np.radians(degrees)
    return length * np.stack([np.cos(radians), np.sin(radians)], axis=1)


def test_prototypes_are_the_medoids_of_two_clusters_largest_first():
    # Class 0: a small group near 85 degrees and a larger one near 10 degrees (lengths do not matter).
    vectors = np.concatenate([_at([80, 85, 90], 3.0), _at([0, 5, 10, 15, 20], 0.5)])
    labels = np.zeros(len(vectors), dtype=np.uint8)
    found = find_class_examples(vectors, labels, prototypes_per_class=2, atypical_per_class=1)
    # The medoid of each group is its middle direction: 10 degrees (position 5), then 85 (position 1).
    assert found.prototypes_of(0) == [5, 1]
    assert found.prototypes.shape == (10, 2) and found.prototypes.dtype == np.int64
    assert (found.prototypes[1:] == MISSING).all() and found.prototypes_of(3) == []


def test_atypical_images_are_farthest_from_the_class_centroid():
    # Class 7 at positions 2..5: three vectors along x, one along y. Their mean direction is (3, 1) / sqrt(10),
    # so the y vector is at 1 - 1/sqrt(10) = 0.683772 and each x vector at 1 - 3/sqrt(10) = 0.051317.
    vectors = np.array([[0.0, 5.0], [1.0, 1.0], [2.0, 0.0], [1.0, 0.0], [0.0, 4.0], [7.0, 0.0]])
    labels = np.array([1, 1, 7, 7, 7, 7])
    found = find_class_examples(vectors, labels, prototypes_per_class=1, atypical_per_class=2)
    assert found.atypical_of(7) == [4, 2]  # the odd one out, then the lowest position among the tied
    np.testing.assert_allclose(found.atypical_distances[7], [1 - 1 / np.sqrt(10), 1 - 3 / np.sqrt(10)], atol=1e-6)
    # Class 1 holds (0, 5) and (1, 1): mean direction 67.5 degrees, both 1 - cos(22.5 deg) = 0.076120 away.
    assert found.atypical_of(1) == [0, 1]
    np.testing.assert_allclose(found.atypical_distances[1], [1 - np.cos(np.pi / 8)] * 2, atol=1e-6)
    assert np.isnan(found.atypical_distances[0]).all() and found.atypical_of(0) == []


def test_fewer_distinct_vectors_than_prototypes_gives_fewer_prototypes():
    units = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    assert sorted(cluster_medoids(units, 5).tolist()) == [0, 2]
    assert cluster_medoids(units[:2], 3).tolist() == [0]


def test_same_seed_same_prototypes():
    rng = np.random.default_rng(0)
    vectors, labels = rng.normal(size=(300, 8)), rng.integers(0, 10, 300)
    first = find_class_examples(vectors, labels, 3, 4, seed=5)
    second = find_class_examples(vectors, labels, 3, 4, seed=5)
    np.testing.assert_array_equal(first.prototypes, second.prototypes)
    for class_index in range(10):
        members = set(np.flatnonzero(labels == class_index).tolist())
        assert set(first.prototypes_of(class_index)) <= members
        assert set(first.atypical_of(class_index)) <= members


@pytest.mark.parametrize("count", [1, 3])
def test_farthest_from_centroid_is_sorted(count):
    units = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    positions, distances = farthest_from_centroid(units, count)
    assert len(positions) == count and np.all(np.diff(distances) <= 0)
