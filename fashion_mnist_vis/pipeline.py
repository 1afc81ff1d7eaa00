"""tf.data input pipelines: uint8 arrays in, batches of model-ready floats out.

Models take float32 (batch, 28, 28, 1) in [0, 1]. The conversion happens
once per image: training data is converted, cached in memory, then shuffled
and batched each epoch; optional augmentation runs on whole batches.
"""

import numpy as np

EVAL_BATCH_SIZE = 1024
"""Images per batch for evaluation and prediction: no gradients are kept, so larger batches fit
and keep the CPU's vector units busier than the training batch (gap_cnn: about 180 MB of
activations per layer at 1024)."""


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) in 0..255 -> float32 (N, 28, 28, 1) in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    training: bool = False,
    augment: bool = False,
    seed: int = 0,
):
    """Build a ``tf.data.Dataset`` of (images, labels) batches.

    Args:
        images: uint8 (N, 28, 28), values 0..255.
        labels: integer (N,), values 0..9.
        batch_size: images per batch.
        training: shuffle every epoch (reproducibly from ``seed``).
        augment: apply :func:`augment_batch` (training only).

    Returns:
        A dataset yielding float32 (B, 28, 28, 1) in [0, 1] and int32 (B,).
    """
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((to_model_input(images), labels.astype(np.int32)))
    dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(min(len(labels), 20000), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if training and augment:
        generator = tf.random.Generator.from_seed(seed)
        dataset = dataset.map(
            lambda x, y: (augment_batch(x, generator), y), num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def augment_batch(images, generator, max_shift: int = 2, erase_probability: float = 0.25):
    """Randomly shift, flip and erase a batch of images.

    Args:
        images: float32 tensor (B, H, W, C) in [0, 1].
        generator: a ``tf.random.Generator`` (stateful, so runs are reproducible).
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
