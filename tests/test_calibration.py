"""Reliability bins and the expected calibration error (Guo et al. 2017), checked by hand."""

import numpy as np
import pytest

from fashion_mnist_vis.explain.calibration import calibration_of, reliability_bins


def test_ece_by_hand_on_five_predictions():
    # 4 bins: (0, .25], (.25, .5], (.5, .75], (.75, 1]
    confidences = [0.3, 0.45, 0.6, 0.9, 1.0]
    correct = [0, 1, 1, 1, 0]
    bins = reliability_bins(np.array(confidences), np.array(correct), bins=4)
    assert bins.counts.tolist() == [0, 2, 1, 2]
    np.testing.assert_allclose(bins.accuracy[1:], [0.5, 1.0, 0.5])
    np.testing.assert_allclose(bins.confidence[1:], [0.375, 0.6, 0.95])
    assert np.isnan(bins.accuracy[0]) and np.isnan(bins.confidence[0])
    # ECE = 2/5 * |0.5 - 0.375| + 1/5 * |1 - 0.6| + 2/5 * |0.5 - 0.95| = 0.05 + 0.08 + 0.18
    assert bins.expected_calibration_error() == pytest.approx(0.31)


@pytest.mark.parametrize(
    "confidence, expected_bin",
    [(0.0, 0), (1e-9, 0), (0.2, 2), (0.2 + 1e-9, 3), (1 / 15, 0), (14 / 15, 13), (0.999, 14), (1.0, 14)],
)
def test_bins_are_left_open_right_closed(confidence, expected_bin):
    bins = reliability_bins(np.array([confidence]), np.array([1]), bins=15)
    assert bins.counts.tolist() == [1 if i == expected_bin else 0 for i in range(15)]


def test_perfect_calibration_and_total_confidence():
    # 10 predictions at 0.75 confidence, 3 wrong: accuracy 0.7, a gap of 0.05 for all of them
    bins = reliability_bins(np.full(10, 0.75), np.array([1] * 7 + [0] * 3), bins=10)
    assert bins.expected_calibration_error() == pytest.approx(0.05)
    bins = reliability_bins(np.full(4, 1.0), np.ones(4), bins=15)
    assert bins.expected_calibration_error() == 0.0 and bins.total == 4


def test_calibration_of_softmax_outputs_and_json():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    bins = calibration_of(probabilities, np.array([0, 0, 0]), bins=5)
    assert bins.counts.tolist() == [0, 0, 1, 1, 1]  # confidences 0.6, 0.8, 0.9
    data = bins.as_dict()
    assert data["bins"] == 5 and data["bin_counts"] == [0, 0, 1, 1, 1]
    assert data["bin_accuracy"] == [None, None, 1.0, 0.0, 1.0] and len(data["bin_edges"]) == 6


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        reliability_bins(np.ones(3), np.ones(4))
    with pytest.raises(ValueError):
        reliability_bins(np.ones(3), np.ones(3), bins=0)
