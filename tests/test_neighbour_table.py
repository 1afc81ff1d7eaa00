"""projector.neighbour_table: each point's nearest neighbours, checked by hand and by brute force, and its CSV."""

import csv

import numpy as np
import pytest

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.projector.neighbour_table import NEIGHBOURS_COLUMNS, each_points_neighbours, write_neighbours_csv

# Four 2-D points: east, north, north-east and west.
HAND_POINTS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]], dtype=np.float32)
DIAGONAL = 1 - 1 / np.sqrt(2)  # cosine distance between an axis and the diagonal: 0.2929


def test_neighbours_by_hand():
    found = each_points_neighbours(HAND_POINTS, 3)
    # east: north-east (0.29), north (1), west (2); north-east: east and north tie at 0.29 (lower index first)
    assert found.indices.tolist() == [[2, 1, 3], [2, 0, 3], [0, 1, 3], [1, 2, 0]]
    np.testing.assert_allclose(found.distances[0], [DIAGONAL, 1.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(found.distances[3], [1.0, 1 + 1 / np.sqrt(2), 2.0], atol=1e-6)


def test_neighbours_match_a_brute_force_search():
    points = np.random.default_rng(3).normal(size=(300, 16)).astype(np.float32)
    found = each_points_neighbours(points, 7)
    units = points / np.linalg.norm(points, axis=1, keepdims=True)
    distances = 1.0 - units.astype(np.float64) @ units.T.astype(np.float64)
    np.fill_diagonal(distances, np.inf)  # a point is never its own neighbour
    expected = np.argsort(distances, axis=1, kind="stable")[:, :7]
    np.testing.assert_array_equal(found.indices, expected)
    np.testing.assert_allclose(found.distances, np.take_along_axis(distances, expected, axis=1), atol=1e-5)


@pytest.mark.parametrize("k", [0, 4, 10])
def test_k_must_leave_a_neighbour_out(k):
    with pytest.raises(UserError, match="choose between 1 and 3"):
        each_points_neighbours(HAND_POINTS, k)


def test_csv_has_one_row_per_point_and_rank_with_split_positions_and_class_names(tmp_path):
    found = each_points_neighbours(HAND_POINTS, 2)
    path = tmp_path / "neighbors.csv"
    write_neighbours_csv(path, found, indices=np.array([10, 11, 12, 13]), labels=np.array([0, 1, 1, 9]),
                         predictions=np.array([0, 1, 3, 9]))
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == NEIGHBOURS_COLUMNS
    assert len(rows) == 1 + 4 * 2
    assert rows[1] == ["10", "T-shirt/top", "T-shirt/top", "1", "12", "Trouser", "0.2929"]
    assert rows[2] == ["10", "T-shirt/top", "T-shirt/top", "2", "11", "Trouser", "1.0000"]
    assert rows[5] == ["12", "Trouser", "Dress", "1", "10", "T-shirt/top", "0.2929"]
    assert rows[8] == ["13", "Ankle boot", "Ankle boot", "2", "12", "Trouser", "1.7071"]
