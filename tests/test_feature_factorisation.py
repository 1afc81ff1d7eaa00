"""Deep Feature Factorisation: two concepts built by hand are found again, exactly."""

import numpy as np
import pytest

from fashion_mnist_vis.explain.feature_factorisation import factorise


def test_two_hand_made_concepts_are_recovered():
    # concept "stripe" uses channels 0 and 1 (1 : 3), concept "blob" channels 2 and 3 (2 : 2)
    stripe, blob = np.array([0.25, 0.75, 0, 0]), np.array([0, 0, 0.5, 0.5])
    where_stripe = np.array([[[2.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [4.0, 0.0]]])  # (N=2, h=2, w=2)
    where_blob = np.array([[[0.0, 3.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]]])
    activations = where_stripe[..., None] * stripe + where_blob[..., None] * blob  # (2, 2, 2, 4)
    found = factorise(activations, 2)
    assert found.relative_error < 1e-4
    assert found.heatmaps.shape == (2, 2, 2, 2) and found.channels.shape == (2, 4)
    order = np.argsort(found.channels[:, 0])[::-1]  # the concept loading channel 0 is the stripe
    np.testing.assert_allclose(found.channels[order], [stripe, blob], atol=1e-3)
    # rows sum to 1, so the heatmaps are the hand-made amounts themselves
    np.testing.assert_allclose(found.heatmaps[..., order[0]], where_stripe, atol=1e-3)
    np.testing.assert_allclose(found.heatmaps[..., order[1]], where_blob, atol=1e-3)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="non-negative"):
        factorise(-np.ones((1, 2, 2, 3)), 2)
    with pytest.raises(ValueError, match="between 1 and"):
        factorise(np.ones((1, 2, 2, 3)), 4)
