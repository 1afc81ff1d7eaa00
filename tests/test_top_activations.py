"""The strongest images per channel: streamed in batches, checked against a brute-force sort."""

import numpy as np
import pytest

from fashion_mnist_vis.explain.top_activations import TopActivationFinder, find_top_images, strongest_units


def test_strongest_units_by_hand():
    activations = np.zeros((1, 2, 3, 2), np.float32)
    activations[0, 1, 2, 0] = 5.0  # channel 0: bottom right
    activations[0, 0, 1, 1] = activations[0, 1, 0, 1] = 2.0  # channel 1: a tie, the first in row-major order wins
    maxima, where = strongest_units(activations)
    assert maxima.tolist() == [[5.0, 2.0]]
    assert where.tolist() == [[[1, 2], [0, 1]]]


@pytest.mark.parametrize("batch_size", [1, 7, 50])
def test_streamed_top_images_equal_brute_force(batch_size):
    rng = np.random.default_rng(4)
    activations = rng.normal(size=(50, 4, 5, 6)).astype(np.float32)
    activations[10] = activations[3]  # exact ties: the lower index comes first
    finder = TopActivationFinder({"layer": 6}, k=5)
    for start in range(0, 50, batch_size):
        finder.add(start, {"layer": activations[start:start + batch_size]})
    top = finder.result()["layer"]
    flat = activations.reshape(50, 20, 6)
    for channel in range(6):
        maxima = flat[:, :, channel].max(axis=1)
        expected = sorted(range(50), key=lambda index: (-maxima[index], index))[:5]
        assert top.indices[channel].tolist() == expected
        np.testing.assert_array_equal(top.scores[channel], maxima[expected])
        for index, (row, column) in zip(expected, top.positions[channel]):
            assert activations[index, row, column, channel] == maxima[index]


def test_find_top_images_runs_a_probe_over_batches():
    def probe(batch):  # two "layers": the image itself and its negative
        return [batch, -batch]

    images = np.zeros((6, 3, 3, 1), np.float32)
    images[4, 2, 1, 0] = 1.0
    images[2, 0, 0, 0] = 0.5
    top = find_top_images(probe, ["same", "negated"], ((start, images[start:start + 4]) for start in (0, 4)), k=2)
    assert top["same"].indices.tolist() == [[4, 2]]
    assert top["same"].positions[0, 0].tolist() == [2, 1]
    assert top["negated"].indices.tolist() == [[0, 1]]  # all zero maxima: ties go to the lowest indices
