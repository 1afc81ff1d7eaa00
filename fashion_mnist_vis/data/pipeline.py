"""tf.data input pipelines: uint8 arrays in, batches of model-ready floats out.

Models take float32 (batch, 28, 28, 1) in [0, 1]. The conversion happens
once per image; training batches are gathered from the converted images in
an order drawn from ``(seed, epoch)``; optional augmentation runs on whole
batches with draws from ``(seed, epoch, batch)``.
"""

import math
from typing import Sequence

import numpy as np

EVAL_BATCH_SIZE = 1024
"""Images per batch for evaluation and prediction: no gradients are kept, so larger batches fit
and keep the CPU's vector units busier than the training batch (gap_cnn: about 180 MB of
activations per layer at 1024)."""


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) in 0..255 -> float32 (N, 28, 28, 1) in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


def as_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]; float (N, H, W, C) model inputs pass through."""
    return to_model_input(images) if images.ndim == 3 else images


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    training: bool = False,
    augment: bool = False,
    photo_augment: bool = False,
    seed: int = 0,
    epochs: Sequence[int] = range(1),
):
    """Build a ``tf.data.Dataset`` of (images, labels) batches.

    Args:
        images: uint8 (N, 28, 28), values 0..255.
        labels: integer (N,), values 0..9.
        batch_size: images per batch.
        training: shuffle every epoch. Epoch ``e``'s order and augmentation
            depend only on ``(seed, e)``, so a run resumed at epoch ``e``
            sees exactly the batches an uninterrupted run would have.
        augment: apply :func:`augment_batch` (training only).
        photo_augment: with ``augment``, first apply
            :func:`~fashion_mnist_vis.data.photo_augment.photo_augment_batch`
            (small rotations, scale jitter, soft shadows) with its default settings.
        epochs: with ``training``, the epochs to produce, one after another
            (e.g. ``range(initial_epoch, total)``); give Keras
            ``steps_per_epoch=steps_per_epoch(N, batch_size)`` so it keeps
            one iterator across them.

    Returns:
        A dataset yielding float32 (B, 28, 28, 1) in [0, 1] and int32 (B,).
    """
    import tensorflow as tf

    from fashion_mnist_vis.data.photo_augment import photo_augment_batch

    inputs, targets = to_model_input(images), labels.astype(np.int32)
    if not training:
        return tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    inputs, targets = tf.constant(inputs), tf.constant(targets)
    count = len(targets)

    def epoch_batches(epoch):
        epoch_seed = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(count), seed=epoch_seed)
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size).enumerate()
        return batches.map(lambda step, index: (tf.random.experimental.stateless_fold_in(epoch_seed, step), index))

    def load(batch_seed, index):
        batch = tf.gather(inputs, index)
        if augment:
            draws = StatelessDraws(batch_seed)
            if photo_augment:
                batch = photo_augment_batch(batch, draws)
            batch = augment_batch(batch, draws)
        return batch, tf.gather(targets, index)

    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(list(epochs), tf.int64)).flat_map(epoch_batches)
    return dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(count: int, batch_size: int) -> int:
    """Batches in one epoch of ``count`` images (the last one may be short)."""
    return max(1, math.ceil(count / batch_size))


class StatelessDraws:
    """The ``uniform`` of ``tf.random.Generator`` that :func:`augment_batch` uses, drawn from one seed.

    Each call folds a call counter into ``seed`` (int64 (2,)), so the draws
    are a pure function of the seed: usable inside tf.data functions, and
    reproducible batch by batch whatever came before.
    """

    def __init__(self, seed):
        self.seed = seed
        self.calls = 0

    def uniform(self, shape, minval=0, maxval=None, dtype=None):
        import tensorflow as tf

        self.calls += 1
        seed = tf.random.experimental.stateless_fold_in(self.seed, self.calls)
        return tf.random.stateless_uniform(shape, seed, minval=minval, maxval=maxval, dtype=dtype or tf.float32)


def augment_batch(images, generator, max_shift: int = 2, erase_probability: float = 0.25):
    """Randomly shift, flip and erase a batch of images.

    Args:
        images: float32 tensor (B, H, W, C) in [0, 1].
        generator: a ``tf.random.Generator`` or :class:`StatelessDraws` (anything with its ``uniform``).
        max_shift: largest shift in pixels along each axis (zero padding).
        erase_probability: chance that an image gets one random rectangle set
            to zero (random erasing, Zhong et al. 2020), covering 2-25% of it.

    Returns:
        float32 tensor of the same shape, values still in [0, 1].
    """
    import tensorflow as tf

    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]

    flip = generator.uniform([batch, 1, 1, 1]) < 0.5
    images = tf.where(flip, tf.reverse(images, axis=[2]), images)

    padded = tf.pad(images, [[0, 0], [max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    offsets = generator.uniform([batch, 2], 0, 2 * max_shift + 1, dtype=tf.int32)
    rows = offsets[:, 0:1] + tf.range(height)[tf.newaxis, :]  # (B, H)
    cols = offsets[:, 1:2] + tf.range(width)[tf.newaxis, :]  # (B, W)
    images = tf.gather(padded, rows, axis=1, batch_dims=1)
    images = tf.gather(images, cols, axis=2, batch_dims=1)

    area = generator.uniform([batch], 0.02, 0.25)
    aspect = tf.exp(generator.uniform([batch], np.log(0.3), np.log(3.3)))
    h_float, w_float = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    erase_h = tf.minimum(tf.sqrt(area * aspect) * h_float, h_float)
    erase_w = tf.minimum(tf.sqrt(area / aspect) * w_float, w_float)
    top = generator.uniform([batch]) * (h_float - erase_h)
    left = generator.uniform([batch]) * (w_float - erase_w)
    row_index = tf.range(h_float)[tf.newaxis, :]
    col_index = tf.range(w_float)[tf.newaxis, :]
    in_rows = (row_index >= top[:, None]) & (row_index < (top + erase_h)[:, None])  # (B, H)
    in_cols = (col_index >= left[:, None]) & (col_index < (left + erase_w)[:, None])  # (B, W)
    erase = in_rows[:, :, None] & in_cols[:, None, :]  # (B, H, W)
    erase &= (generator.uniform([batch]) < erase_probability)[:, None, None]
    return tf.where(erase[..., tf.newaxis], tf.zeros_like(images), images)
