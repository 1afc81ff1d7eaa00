"""Exact cosine nearest neighbours (fashion_mnist_vis.explain.neighbours) against brute force."""

import numpy as np
import pytest

from fashion_mnist_vis.explain.neighbours import NeighbourIndex, medoid, unit_rows


def brute_force(queries, base, k, exclude_self=False):
    """Every pair's cosine distance by the definition, then a full stable sort per query."""
    result_indices, result_distances = [], []
    for i, query in enumerate(queries):
        distances = []
        for j, vector in enumerate(base):
            norms = np.linalg.norm(query) * np.linalg.norm(vector)
            cosine = float(np.dot(query, vector) / norms) if norms > 0 else 0.0
            distances.append((1.0 - cosine, j))
        if exclude_self:
            distances = [d for d in distances if d[1] != i]
        distances.sort()
        result_indices.append([j for _, j in distances[:k]])
        result_distances.append([d for d, _ in distances[:k]])
    return np.array(result_indices), np.array(result_distances)


@pytest.mark.parametrize("chunk_size", [1, 7, 512])
def test_search_matches_brute_force(chunk_size):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(60, 5))
    queries = rng.normal(size=(13, 5))
    found = NeighbourIndex(base, chunk_size=chunk_size).search(queries, k=6)
    indices, distances = brute_force(queries, base, 6)
    np.testing.assert_array_equal(found.indices, indices)
    np.testing.assert_allclose(found.distances, distances, atol=1e-6)
    assert found.indices.dtype == np.int64 and found.distances.dtype == np.float32


def test_exclude_self_leaves_each_vector_out_of_its_own_neighbours():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(30, 4))
    found = NeighbourIndex(base, chunk_size=8).search(base, k=5, exclude_self=True)
    indices, distances = brute_force(base, base, 5, exclude_self=True)
    np.testing.assert_array_equal(found.indices, indices)
    np.testing.assert_allclose(found.distances, distances, atol=1e-6)
    assert not np.any(found.indices == np.arange(30)[:, None])


def test_ties_go_to_the_lower_index_and_zero_vectors_are_at_distance_one():
    base = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 0.0], [0.0, 3.0], [5.0, 0.0]])
    found = NeighbourIndex(base).search(np.array([1.0, 0.0]), k=3)
    np.testing.assert_array_equal(found.indices, [[0, 2, 5]])  # three identical directions, by position
    np.testing.assert_allclose(found.distances, [[0.0, 0.0, 0.0]], atol=1e-6)
    found = NeighbourIndex(base).search(np.array([0.0, 0.0]), k=2)
    np.testing.assert_allclose(found.distances, [[1.0, 1.0]])
    np.testing.assert_array_equal(found.indices, [[0, 1]])
    assert np.all(unit_rows(base)[3] == 0)


def test_bad_k_and_dimensions_are_refused():
    index = NeighbourIndex(np.eye(3))
    with pytest.raises(ValueError, match="between 1 and 3"):
        index.search(np.ones(3), k=4)
    with pytest.raises(ValueError, match="between 1 and 2"):
        index.search(np.eye(3), k=3, exclude_self=True)
    with pytest.raises(ValueError, match="dimensions"):
        index.search(np.ones(2), k=1)


def test_medoid_minimises_the_summed_cosine_distance():
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(25, 3)) + np.array([3.0, 0.0, 0.0])
    _, distances = brute_force(vectors, vectors, 25)
    expected = int(np.argmin(distances.sum(axis=1)))
    assert medoid(vectors) == expected
    assert medoid(vectors, sample=np.array([expected, 0])) == expected
