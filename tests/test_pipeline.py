import numpy as np
import tensorflow as tf

from fashion_mnist_vis.data.pipeline import augment_batch, make_dataset, to_model_input


def test_to_model_input_scales_to_unit_range_with_channel():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    converted = to_model_input(images)
    assert converted.shape == (1, 2, 2, 1) and converted.dtype == np.float32
    np.testing.assert_allclose(converted[0, :, :, 0], [[0.0, 1.0], [0.2, 0.4]])


def test_dataset_batches_every_image_once_per_epoch():
    images = np.arange(50, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    labels = np.arange(50) % 10
    dataset = make_dataset(images, labels, batch_size=16, training=True, seed=1)
    seen = []
    for x, y in dataset:
        assert x.dtype == tf.float32 and x.shape[1:] == (28, 28, 1)
        seen.extend(np.round(x.numpy()[:, 0, 0, 0] * 255).astype(int).tolist())
        np.testing.assert_array_equal(np.round(x.numpy()[:, 0, 0, 0] * 255).astype(int) % 10, y.numpy())
    assert sorted(seen) == list(range(50)) and seen != list(range(50))


def test_shifts_and_flips_move_the_item_without_losing_it():
    rng = np.random.default_rng(0)
    images = np.zeros((64, 28, 28, 1), np.float32)
    images[:, 8:20, 4:12] = rng.uniform(0.5, 1.0, size=(64, 12, 8, 1))  # left of centre
    augmented = augment_batch(tf.constant(images), tf.random.Generator.from_seed(1), erase_probability=0.0).numpy()
    assert augmented.shape == images.shape
    # The item has a margin of 4+ pixels and shifts are at most 2, so nothing falls off.
    np.testing.assert_allclose(augmented.sum(axis=(1, 2, 3)), images.sum(axis=(1, 2, 3)), rtol=1e-5)
    rows = np.nonzero(augmented.sum(axis=(2, 3)))[1]
    assert rows.min() >= 6 and rows.max() <= 21
    flipped = augmented[:, :, 14:].sum(axis=(1, 2, 3)) > augmented[:, :, :14].sum(axis=(1, 2, 3))
    assert 10 < flipped.sum() < 54, "about half the batch should be mirrored"
    assert not np.array_equal(augmented, images)


def test_random_erasing_zeroes_one_rectangle_of_2_to_25_percent():
    images = tf.ones((200, 28, 28, 1))
    augmented = augment_batch(images, tf.random.Generator.from_seed(2), max_shift=0, erase_probability=1.0)
    zeroed = (augmented.numpy()[..., 0] == 0)
    fractions = zeroed.mean(axis=(1, 2))
    assert fractions.min() > 0.0 and fractions.max() <= 0.25 + 2 * 29 / 784  # + rounding to whole pixels
    for mask in zeroed[:20]:  # each erased area is one axis-aligned rectangle
        rows, cols = np.nonzero(mask)
        box = mask[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
        assert box.all()


def test_augmentation_is_reproducible_from_the_seed():
    images = tf.random.stateless_uniform((8, 28, 28, 1), seed=(1, 2))
    first = augment_batch(images, tf.random.Generator.from_seed(5)).numpy()
    second = augment_batch(images, tf.random.Generator.from_seed(5)).numpy()
    np.testing.assert_array_equal(first, second)


def test_photo_augmentation_changes_training_batches_only_with_augmentation_on():
    rng = np.random.default_rng(3)
    images = np.zeros((32, 28, 28), np.uint8)
    images[:, 6:22, 9:19] = rng.integers(100, 256, size=(32, 16, 10))
    labels = np.arange(32) % 10

    def first_batch(**flags):
        return next(iter(make_dataset(images, labels, batch_size=32, training=True, seed=7, **flags)))[0].numpy()

    plain, photo = first_batch(augment=True), first_batch(augment=True, photo_augment=True)
    assert plain.shape == photo.shape and not np.array_equal(plain, photo)
    np.testing.assert_array_equal(first_batch(augment=True, photo_augment=True), photo)  # reproducible
    np.testing.assert_array_equal(first_batch(photo_augment=True), first_batch())  # needs augment
