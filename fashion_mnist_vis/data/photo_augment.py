"""Photo-like training augmentation: small rotations, scale jitter and soft shadows.

A photo reaches the network through ``preprocess`` (inverted, cropped to the
garment, padded, shrunk to 28 x 28), and what survives of the photo's
circumstances is what the training images never show: the garment a little
tilted, a little larger or smaller than Fashion-MNIST's framing, and a soft
shadow beside it that, after inversion, is a faint blurred copy of the garment
(``benchmarks/photos.py`` measures each; the shadow alone cost gap_cnn 10
points). This module draws those changes for a training batch, in the
spirit of domain randomisation (Tobin et al. 2017): the network learns that
they do not change the class.

Each step is a pure function of its parameters (:func:`rotate_and_scale`,
:func:`add_soft_shadow`), so it can be checked by hand; :func:`photo_augment_batch`
draws the parameters per image.
"""

import math
from dataclasses import dataclass

import numpy as np

SHADOW_KERNEL = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]).astype(np.float32) / 256.0
"""The shadow's blur: a 5 x 5 binomial kernel (close to a Gaussian of sigma 1 pixel), summing to 1."""


@dataclass(frozen=True)
class PhotoAugmentation:
    """How strongly :func:`photo_augment_batch` changes a batch.

    Attributes:
        probability: share of the images that are changed at all, 0..1; the
            others pass unchanged, so the network still sees crisp,
            upright images as the test arrays are.
        max_rotation: degrees; each image turns by a uniform angle in
            ``[-max_rotation, max_rotation]`` about its centre.
        max_log_scale: each image is zoomed by ``exp(u)``, ``u`` uniform in
            ``[-max_log_scale, max_log_scale]`` (0.1: 0.90 to 1.11 times).
        shadow_probability: chance that an image gets a shadow, 0..1.
        max_shadow_strength: a shadow's brightness relative to the garment is
            uniform in ``[0.1, max_shadow_strength]``.
        max_shadow_offset: a shadow is shifted by up to this many pixels along
            each axis, in either direction.
    """

    probability: float = 0.5
    max_rotation: float = 10.0
    max_log_scale: float = 0.1
    shadow_probability: float = 0.3
    max_shadow_strength: float = 0.6
    max_shadow_offset: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.probability <= 1:
            raise ValueError(f"probability must be in [0, 1]; got {self.probability}")
        if not 0 <= self.shadow_probability <= 1:
            raise ValueError(f"shadow_probability must be in [0, 1]; got {self.shadow_probability}")
        if self.max_rotation < 0 or self.max_log_scale < 0 or self.max_shadow_offset < 0:
            raise ValueError("rotation, scale and shadow offset limits must not be negative")
        if not 0.1 <= self.max_shadow_strength <= 1:
            raise ValueError(f"max_shadow_strength must be in [0.1, 1]; got {self.max_shadow_strength}")


def rotate_and_scale(images, angles, zooms):
    """Turn and zoom each image about its centre (bilinear; what comes in from outside is black).

    Args:
        images: float32 tensor (B, H, W, C).
        angles: float32 (B,), radians; positive turns the picture clockwise as
            displayed (rows growing downwards).
        zooms: float32 (B,), > 0; 2 shows the centre twice as large.

    Returns:
        float32 tensor (B, H, W, C).
    """
    import tensorflow as tf

    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    # The transform maps each output pixel (x, y) to the input point it samples:
    # x_in = a0 x + a1 y + a2, y_in = b0 x + b1 y + b2 (the inverse rotation and zoom about the centre).
    cos, sin = tf.cos(angles) / zooms, tf.sin(angles) / zooms
    centre_x = (tf.cast(width, tf.float32) - 1.0) / 2.0
    centre_y = (tf.cast(height, tf.float32) - 1.0) / 2.0
    shift_x = centre_x - cos * centre_x - sin * centre_y
    shift_y = centre_y + sin * centre_x - cos * centre_y
    zeros = tf.zeros_like(cos)
    transforms = tf.stack([cos, sin, shift_x, -sin, cos, shift_y, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.stack([height, width]),
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")


def add_soft_shadow(images, offsets, strengths, max_offset: int):
    """Add a shadow: a blurred copy of each image, shifted and dimmed, behind it.

    After ``preprocess`` inverts a photo, a shadow on a light background is a
    faint, blurred copy of the garment's silhouette beside it; the brighter of
    the garment and its shadow wins, as in the photo.

    Args:
        images: float32 tensor (B, H, W, C) in [0, 1].
        offsets: int32 (B, 2), the shadow's shift in pixels (rows down, columns
            right), each in ``[-max_offset, max_offset]``.
        strengths: float32 (B,), the shadow's brightness relative to the image, 0..1 (0: none).
        max_offset: the largest shift ``offsets`` may hold.

    Returns:
        float32 tensor (B, H, W, C) in [0, 1]: ``max(image, strength * blur(shifted image))``.
    """
    import tensorflow as tf

    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    pad = max_offset
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    rows = (pad - offsets[:, 0])[:, None] + tf.range(height)[None, :]  # (B, H)
    cols = (pad - offsets[:, 1])[:, None] + tf.range(width)[None, :]  # (B, W)
    shifted = tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
    channels = images.shape[-1] or 1
    kernel = tf.constant(np.tile(SHADOW_KERNEL[:, :, None, None], (1, 1, channels, 1)))
    blurred = tf.nn.depthwise_conv2d(shifted, kernel, strides=[1, 1, 1, 1], padding="SAME")
    return tf.maximum(images, blurred * strengths[:, None, None, None])


def photo_augment_batch(images, generator, settings: PhotoAugmentation = PhotoAugmentation()):
    """Draw a rotation, a zoom and (sometimes) a shadow for the images of a batch and apply them.

    Each image is changed with ``settings.probability``; a changed image is
    turned and zoomed, and gets a shadow with ``settings.shadow_probability``.

    Args:
        images: float32 tensor (B, H, W, C) in [0, 1].
        generator: anything with ``tf.random.Generator``'s ``uniform`` (e.g.
            ``pipeline.StatelessDraws``), so the draws can be reproduced.
        settings: the ranges the draws come from.

    Returns:
        float32 tensor of the same shape, values in [0, 1].
    """
    import tensorflow as tf

    batch = tf.shape(images)[0]
    original = images
    chosen = generator.uniform([batch, 1, 1, 1]) < settings.probability
    if settings.max_rotation > 0 or settings.max_log_scale > 0:
        limit = settings.max_rotation * math.pi / 180.0
        angles = generator.uniform([batch], -limit, limit) if limit > 0 else tf.zeros([batch])
        log_zoom = generator.uniform([batch], -settings.max_log_scale, settings.max_log_scale) \
            if settings.max_log_scale > 0 else tf.zeros([batch])
        images = rotate_and_scale(images, angles, tf.exp(log_zoom))
    if settings.shadow_probability > 0:
        reach = settings.max_shadow_offset
        offsets = generator.uniform([batch, 2], -reach, reach + 1, dtype=tf.int32)
        strengths = generator.uniform([batch], 0.1, settings.max_shadow_strength)
        strengths *= tf.cast(generator.uniform([batch]) < settings.shadow_probability, tf.float32)
        images = add_soft_shadow(images, offsets, strengths, reach)
    return tf.where(chosen, images, original)
