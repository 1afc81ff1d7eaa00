"""Even light for photos (fashion_mnist_vis.data.even_light) and mirror averaging, with hand-computed cases."""

import numpy as np
from PIL import Image

from fashion_mnist_vis.data.even_light import flatten_background
from fashion_mnist_vis.data.preprocess import preprocess


def test_a_linear_ramp_becomes_its_border_median():
    ramp = np.tile(np.array([10, 20, 30, 40], dtype=np.uint8), (4, 1))
    np.testing.assert_array_equal(flatten_background(ramp), np.full((4, 4), 25, np.uint8))


def test_an_even_border_leaves_the_image_unchanged():
    pixels = np.full((6, 6), 17, np.uint8)
    pixels[2:4, 2:4] = 200
    np.testing.assert_array_equal(flatten_background(pixels), pixels)


def test_the_object_keeps_its_contrast_above_a_flattened_background():
    rows, cols = np.mgrid[0:40, 0:40]
    pixels = (20 + 2 * cols).astype(np.uint8)  # a background rising from 20 to 98 left to right
    pixels[15:25, 15:25] = 250
    flat = flatten_background(pixels)
    border = np.concatenate([flat[0], flat[-1], flat[:, 0], flat[:, -1]])
    assert border.max() - border.min() <= 1
    assert flat[20, 20] - flat[0, 20] == 250 - pixels[0, 20]  # the plane is subtracted, not the object


def test_preprocess_evens_out_a_background_gradient_unless_told_not_to():
    """A grey square on a background darkening from white (255) to 120 left to right: evened out, the
    background is black everywhere and the square alone is bright; without, a bright wedge stays."""
    cols = np.arange(120)
    pixels = np.tile(255 - (135 * cols / 119), (120, 1)).astype(np.uint8)
    pixels[40:80, 40:80] = 60
    image = Image.fromarray(pixels)
    even = preprocess(image, (28, 28, 1)).model_input[:, :, 0]
    plain = preprocess(image, (28, 28, 1), flatten=False).model_input[:, :, 0]
    assert max(even[0].max(), even[-1].max(), even[:, 0].max(), even[:, -1].max()) < 0.02 and even[14, 14] > 0.6
    assert plain[:, -1].max() > 0.1  # the darker side, inverted, stays brighter than black: a wedge
    array = np.zeros((28, 28), np.uint8)
    array[10:18, 10:18] = 100  # an array of the model's size is passed through untouched either way
    np.testing.assert_array_equal(preprocess(Image.fromarray(array), (28, 28, 1)).model_input[:, :, 0],
                                  array / np.float32(255))


def test_mirror_average_by_hand():
    from fashion_mnist_vis.explain.analysis import mirror_averaged

    np.testing.assert_allclose(mirror_averaged(np.array([0.2, 0.8]), np.array([0.6, 0.4])), [0.4, 0.6])
