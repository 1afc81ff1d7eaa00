"""Activation maximisation on a tiny model with hand-set weights: deterministic, and it climbs."""

import numpy as np
import pytest

from fashion_mnist_vis.explain.feature_visualisation import (
    AscentSettings, ImagePrior, channel_score, logit_score, maximise)
from fashion_mnist_vis.models.model_handle import keras_handle

VERTICAL_EDGE = np.array([[-1, 0, 1]] * 3, np.float32)  # dark left, bright right
HORIZONTAL_EDGE = VERTICAL_EDGE.T.copy()  # dark top, bright bottom


@pytest.fixture(scope="module")
def edge_model():
    """8 x 8 input -> Conv2D(2 edge filters, relu) -> GAP -> Dense(identity): class c is channel c."""
    import keras
    from keras import layers

    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(2, 3, activation="relu", name="conv"),
        layers.GlobalAveragePooling2D(name="gap"),
        layers.Dense(2, activation="softmax", name="dense"),
    ])
    model.get_layer("conv").set_weights([np.stack([VERTICAL_EDGE, HORIZONTAL_EDGE], -1)[:, :, None, :],
                                         np.zeros(2, np.float32)])
    model.get_layer("dense").set_weights([np.eye(2, dtype=np.float32), np.zeros(2, np.float32)])
    return model


SETTINGS = AscentSettings(steps=40, jitter=0, step_size=0.05)


def test_channels_climb_and_find_their_edge(edge_model):
    graph = keras_handle(edge_model).graph
    result = maximise(channel_score(graph, edge_model.get_layer("conv")), np.array([0, 1]), 2, (8, 8, 1), SETTINGS)
    assert result.images.shape == (2, 8, 8) and result.images.dtype == np.float32
    assert result.images.min() >= 0.0 and result.images.max() <= 1.0
    # the centre unit (3, 3) of the 6 x 6 output sees input rows and columns 3..5; its best input is
    # the filter itself: 0 where the weight is -1, 1 where it is +1, so the unit reaches 3 (from about 0)
    assert np.all(result.scores > result.start_scores + 2.0)
    assert result.scores == pytest.approx([3.0, 3.0], abs=0.35)
    vertical, horizontal = result.images
    assert vertical[3:6, 5].mean() - vertical[3:6, 3].mean() > 0.8
    assert horizontal[5, 3:6].mean() - horizontal[3, 3:6].mean() > 0.8


def test_classes_climb_their_logit(edge_model):
    graph = keras_handle(edge_model).graph
    result = maximise(logit_score(graph, edge_model.get_layer("dense")), np.array([0, 1]), 2, (8, 8, 1),
                      AscentSettings(steps=40, jitter=1, step_size=0.05))
    assert np.all(result.scores > result.start_scores + 0.5)
    # the logit of class 0 is the mean vertical-edge response over all 36 positions, so the picture
    # has more left-to-right rises than top-to-bottom ones
    vertical = result.images[0]
    assert np.clip(np.diff(vertical, axis=1), 0, None).sum() > np.clip(np.diff(vertical, axis=0), 0, None).sum()


def test_the_same_seed_gives_the_same_pictures_and_another_seed_others(edge_model):
    graph = keras_handle(edge_model).graph
    score = channel_score(graph, edge_model.get_layer("conv"))
    settings = AscentSettings(steps=15, jitter=1, batch_size=1)
    first = maximise(score, np.array([0, 1]), 2, (8, 8, 1), settings)
    again = maximise(score, np.array([0, 1]), 2, (8, 8, 1), settings)
    other = maximise(score, np.array([0, 1]), 2, (8, 8, 1), AscentSettings(steps=15, jitter=1, seed=1))
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.scores, again.scores)
    assert not np.array_equal(first.images, other.images)


def test_scales_keep_the_regularisers_in_proportion(edge_model):
    """Scaled by 100 (a layer whose outputs are tiny), the objective no longer outweighs the decay."""
    graph = keras_handle(edge_model).graph
    score = channel_score(graph, edge_model.get_layer("conv"))
    settings = AscentSettings(steps=40, jitter=0, decay=1.0, step_size=0.05)
    plain = maximise(score, np.array([0]), 2, (8, 8, 1), settings)
    scaled = maximise(score, np.array([0]), 2, (8, 8, 1), settings, scales=np.array([100.0]))
    assert scaled.scores[0] < plain.scores[0] - 1.0


def test_image_prior_by_hand_and_pictures_in_its_span(edge_model):
    # two 2 x 2 images, black and white: mean 0.5; one axis (0.5, 0.5, 0.5, 0.5) (unit length), along
    # which the images sit at -1 and +1, standard deviation 1, so the scaled axis is the same
    prior = ImagePrior.from_images(np.array([np.zeros((2, 2)), np.full((2, 2), 255)], np.uint8), 1)
    np.testing.assert_allclose(prior.mean, [0.5] * 4)
    np.testing.assert_allclose(prior.axes, [[0.5] * 4], atol=1e-6)

    images = np.random.default_rng(0).integers(0, 256, (30, 8, 8), dtype=np.uint8)
    prior = ImagePrior.from_images(images, 3)
    graph = keras_handle(edge_model).graph
    result = maximise(logit_score(graph, edge_model.get_layer("dense")), np.array([0, 1]), 2, (8, 8, 1),
                      SETTINGS, prior)
    assert np.all(result.scores > result.start_scores)
    for image in result.images.reshape(2, -1):  # the pixels clipping left alone are mean + axes' combination
        inside = (image > 0.0) & (image < 1.0)
        assert inside.sum() > 20
        coefficients = np.linalg.lstsq(prior.axes[:, inside].T, image[inside] - prior.mean[inside], rcond=None)[0]
        np.testing.assert_allclose(prior.mean[inside] + coefficients @ prior.axes[:, inside], image[inside], atol=1e-4)
