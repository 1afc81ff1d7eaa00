import math

import numpy as np
import pytest
import tensorflow as tf

from fashion_mnist_vis.data.photo_augment import (
    SHADOW_KERNEL, PhotoAugmentation, add_soft_shadow, photo_augment_batch, rotate_and_scale,
)
from fashion_mnist_vis.data.pipeline import StatelessDraws


def one_pixel(size, row, col):
    image = np.zeros((1, size, size, 1), np.float32)
    image[0, row, col, 0] = 1.0
    return tf.constant(image)


def test_a_quarter_turn_moves_the_top_centre_pixel_to_the_right_centre():
    turned = rotate_and_scale(one_pixel(5, 0, 2), tf.constant([math.pi / 2]), tf.constant([1.0])).numpy()[0, :, :, 0]
    expected = np.zeros((5, 5), np.float32)
    expected[2, 4] = 1.0  # clockwise as displayed
    np.testing.assert_allclose(turned, expected, atol=1e-6)


def test_a_zoom_of_two_doubles_the_distance_from_the_centre():
    zoomed = rotate_and_scale(one_pixel(5, 1, 2), tf.constant([0.0]), tf.constant([2.0])).numpy()[0, :, :, 0]
    assert zoomed[0, 2] == pytest.approx(1.0)  # one row above the centre -> two rows above
    assert zoomed[1, 2] == pytest.approx(0.5)  # bilinear: halfway between the centre and the pixel


def test_no_turn_and_no_zoom_leave_the_image_unchanged():
    image = tf.constant(np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32))
    same = rotate_and_scale(image, tf.zeros([3]), tf.ones([3])).numpy()
    np.testing.assert_allclose(same, image.numpy(), atol=1e-5)


def test_the_shadow_is_the_blurred_shifted_dimmed_image_behind_it():
    shadowed = add_soft_shadow(one_pixel(9, 3, 3), tf.constant([[1, 2]]), tf.constant([0.5]), max_offset=2)
    shadowed = shadowed.numpy()[0, :, :, 0]
    assert shadowed[3, 3] == 1.0  # the garment stays in front of its shadow
    assert shadowed[4, 5] == pytest.approx(0.5 * 36 / 256)  # the kernel's centre, one row down and two right
    assert shadowed[2, 3] == pytest.approx(0.5 * 1 / 256)  # the kernel's top-left corner
    assert shadowed[:, :3].max() == 0.0  # nothing to the left of the pixel: the shadow falls right
    # the kernel's cell under the pixel itself is hidden behind it
    assert shadowed.sum() == pytest.approx(1.0 + 0.5 * (SHADOW_KERNEL.sum() - SHADOW_KERNEL[1, 0]), abs=1e-5)


def test_batches_keep_shape_range_and_vary_per_image():
    rng = np.random.default_rng(1)
    images = np.zeros((16, 28, 28, 1), np.float32)
    images[:, 6:22, 9:19] = rng.uniform(0.4, 1.0, size=(16, 16, 10, 1))
    same_images = tf.constant(np.repeat(images[:1], 16, axis=0))
    settings = PhotoAugmentation(probability=1.0, shadow_probability=1.0)
    augmented = photo_augment_batch(same_images, StatelessDraws(tf.constant([3, 4], tf.int64)), settings).numpy()
    assert augmented.shape == (16, 28, 28, 1) and augmented.min() >= 0.0 and augmented.max() <= 1.0
    assert len({augmented[i].tobytes() for i in range(16)}) == 16  # each image its own turn, zoom and shadow
    again = photo_augment_batch(same_images, StatelessDraws(tf.constant([3, 4], tf.int64)), settings).numpy()
    np.testing.assert_array_equal(augmented, again)  # reproducible from the seed


def test_only_the_chosen_share_of_images_is_changed():
    images = tf.constant(np.random.default_rng(4).uniform(size=(400, 8, 8, 1)).astype(np.float32))
    changed = photo_augment_batch(images, StatelessDraws(tf.constant([5, 6], tf.int64)), PhotoAugmentation(probability=0.25))
    unchanged = np.all(changed.numpy() == images.numpy(), axis=(1, 2, 3))
    assert 0.65 < unchanged.mean() < 0.85  # 75% expected; 400 draws put 0.65..0.85 beyond 4 standard deviations


def test_all_off_changes_nothing():
    images = tf.constant(np.random.default_rng(2).uniform(size=(4, 28, 28, 1)).astype(np.float32))
    settings = PhotoAugmentation(max_rotation=0.0, max_log_scale=0.0, shadow_probability=0.0)
    unchanged = photo_augment_batch(images, StatelessDraws(tf.constant([0, 0], tf.int64)), settings).numpy()
    np.testing.assert_array_equal(unchanged, images.numpy())


def test_settings_out_of_range_are_refused():
    with pytest.raises(ValueError, match="shadow_probability"):
        PhotoAugmentation(shadow_probability=1.5)
    with pytest.raises(ValueError, match="probability must"):
        PhotoAugmentation(probability=-0.1)
    with pytest.raises(ValueError, match="negative"):
        PhotoAugmentation(max_rotation=-1.0)
