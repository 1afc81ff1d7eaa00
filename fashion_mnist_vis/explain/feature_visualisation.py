"""Activation maximisation: the input a channel or a class responds to most.

Gradient ascent on the input image (Erhan et al. 2009, "Visualizing Higher-Layer
Features of a Deep Network"; for classes Simonyan, Vedaldi and Zisserman 2014,
"Deep Inside Convolutional Networks") with the regularisers that make the result
an image rather than adversarial noise (Yosinski et al. 2015, "Understanding
Neural Networks Through Deep Visualization"; Mahendran and Vedaldi 2016;
Olah, Mordvintsev and Schubert 2017, "Feature Visualization", Distill), tuned
for 28 x 28 greyscale images with a dark background:

* **jitter**: each step sees the image shifted by up to ``jitter`` pixels
  (filled with black, the background), so the pattern must work wherever it is;
* **total variation** (Mahendran and Vedaldi 2015) and **L2 decay**
  (Yosinski et al. 2015) penalise speckle and grey fog;
* each step moves the pixels by ``step_size`` times the gradient divided by
  its root mean square (one image at a time), so the step does not depend on
  the objective's scale, and pixels are clipped to [0, 1] after it;
* optionally a **data prior** (:class:`ImagePrior`): the image is the mean
  training image plus a combination of the first principal components of the
  training images (each scaled by its standard deviation, with an L2 penalty
  on the coefficients: a Gaussian prior), so it stays within what
  Fashion-MNIST images look like. With it, the class pictures of gap_cnn are
  recognisable garments; without it, they are textures (see the README).

The objective of a channel is its unit at the centre of the layer's grid, before
the layer's activation (:func:`channel_score`); the objective of a
class is its logit (the classifier's pre-activation, not the softmax, which
can also rise by lowering the other classes; Simonyan et al.). Everything
starts from the same seeded noise, so a setting always gives the same
pictures. Gradients come from TensorFlow's autodiff on the Keras model
(through the model's :class:`~fashion_mnist_vis.models.graph.ModelGraph`).
"""

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from fashion_mnist_vis.explain.pca import fit_pca


@dataclass(frozen=True)
class AscentSettings:
    """How the ascent runs (see the module's docstring); the defaults are tuned on gap_cnn.

    Attributes:
        steps: gradient steps.
        step_size: each step's root-mean-square change of the image's pixels (or
            of the prior's coefficients), in [0, 1] units.
        jitter: largest random shift, in pixels, per step.
        total_variation: weight of the total variation (absolute differences of
            neighbouring pixels, summed, per pixel of the image).
        decay: weight of the L2 penalty (the pixels' mean square, or with a prior the
            coefficients').
        start: the starting image's mean grey level, in [0, 1].
        noise: the starting noise's standard deviation.
        seed: seeds the starting noise and the jitter.
        batch_size: images optimised together.
    """

    steps: int = 128
    step_size: float = 0.03
    jitter: int = 2
    total_variation: float = 0.05
    decay: float = 0.05
    start: float = 0.2
    noise: float = 0.05
    seed: int = 0
    batch_size: int = 64

    def __post_init__(self):
        if self.steps < 0 or self.step_size <= 0 or self.jitter < 0 or self.batch_size < 1:
            raise ValueError(f"invalid ascent settings: {self}")


@dataclass(frozen=True)
class ImagePrior:
    """A data prior: images are ``mean + coefficients @ axes``, clipped to [0, 1].

    Attributes:
        mean: float32 (H * W,), the mean training image in [0, 1].
        axes: float32 (K, H * W), the first K principal axes of the training
            images, each scaled by the standard deviation of the images along it.
    """

    mean: np.ndarray
    axes: np.ndarray

    @classmethod
    def from_images(cls, images: np.ndarray, components: int) -> "ImagePrior":
        """The prior of uint8 (N, H, W) ``images`` in 0..255 (PCA: Pearson 1901)."""
        flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1) / 255.0
        basis = fit_pca(flat, components)
        spread = basis.apply(flat).std(axis=0)
        return cls(basis.mean.astype(np.float32), (basis.components * spread[:, np.newaxis]).astype(np.float32))


CLASS_SETTINGS = AscentSettings(step_size=0.05, decay=0.3)
"""The class pictures' settings (with an :class:`ImagePrior` of :data:`PRIOR_COMPONENTS`), tuned on gap_cnn."""

PRIOR_COMPONENTS = 48
"""Principal components of the class pictures' data prior."""


@dataclass(frozen=True)
class Maximised:
    """What :func:`maximise` found, one row per target.

    Attributes:
        images: float32 (N, H, W) in [0, 1], the maximising inputs.
        scores: float32 (N,), each target's objective for its image.
        start_scores: float32 (N,), the objective for the starting image.
    """

    images: np.ndarray
    scores: np.ndarray
    start_scores: np.ndarray


ScoreFunction = Callable
"""``score(batch, one_hot)``: a float32 tensor (N, H, W, C) and float32 one-hot targets (N, T) -> (N,) scores."""


def channel_score(graph, layer) -> ScoreFunction:
    """The objective of ``layer``'s channels: the chosen channel's unit at the centre of the layer's
    output grid (row h // 2, column w // 2), before the layer's activation when it is a
    convolution with one (Olah et al. optimise "pre_relu" outputs: after a ReLU a unit that is
    off has no gradient to climb)."""
    import tensorflow as tf  # noqa: PLC0415 (lazy: the module imports without TensorFlow)

    values = _pre_activation(graph, layer) or _output(graph, layer)
    _, height, width, _ = graph.outputs[layer.name].shape

    def score(batch, one_hot):
        centre = tf.cast(values(batch)[:, height // 2, width // 2, :], tf.float32)
        return tf.reduce_sum(centre * one_hot, axis=1)

    return score


def _output(graph, layer):
    probe = graph.probe([graph.outputs[layer.name]])
    return lambda batch: probe(batch, training=False)[0]


def _pre_activation(graph, layer):
    """A function batch -> ``layer``'s pre-activation, for a Keras convolution with an activation; else None."""
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    if activation == "linear" or not hasattr(layer, "convolution_op") or \
            layer.get_config().get("data_format", "channels_last") != "channels_last":
        return None
    probe = graph.probe([graph.inputs_of(layer)[0]])

    def values(batch):
        (inputs,) = probe(batch, training=False)
        convolved = layer.convolution_op(inputs, layer.kernel)
        return convolved + layer.bias if layer.use_bias else convolved

    return values


def logit_score(graph, classifier) -> ScoreFunction:
    """The objective of the classes: the chosen class's logit, ``classifier``'s pre-activation."""
    import tensorflow as tf  # noqa: PLC0415

    probe = graph.probe([graph.inputs_of(classifier)[0]])

    def score(batch, one_hot):
        (features,) = probe(batch, training=False)
        logits = tf.matmul(tf.cast(features, tf.float32), tf.cast(classifier.kernel, tf.float32))
        if classifier.use_bias:
            logits = logits + tf.cast(classifier.bias, tf.float32)
        return tf.reduce_sum(logits * one_hot, axis=1)

    return score


def maximise(score: ScoreFunction, targets: np.ndarray, target_count: int, input_shape,
             settings: AscentSettings = AscentSettings(), prior: Optional[ImagePrior] = None,
             scales: Optional[np.ndarray] = None) -> Maximised:
    """Gradient ascent from seeded noise to the input that maximises each target's score.

    Args:
        score: from :func:`channel_score` or :func:`logit_score`.
        targets: int (N,), the channel or class of each image, in 0..target_count - 1.
        target_count: how many channels or classes there are.
        input_shape: the model's input (H, W, C), C 1 or 3 (the grey image is repeated for 3).
        settings: the ascent's settings.
        prior: optional :class:`ImagePrior` (H * W pixels).
        scales: float (N,), the size of a strong response of each target (e.g. a channel's largest
            response to a training image): the ascent climbs ``score / scale``, so the
            regularisers weigh the same against a layer whose outputs are 0.01 as against
            one whose outputs are 10. Values <= 0 count as 1; None: all 1.

    Returns:
        a :class:`Maximised`; the same arguments always give the same result.
    """
    targets = np.asarray(targets, dtype=np.int64)
    height, width, channels = (int(size) for size in input_shape)
    rng = np.random.default_rng(settings.seed)
    size = prior.axes.shape[0] if prior is not None else height * width
    start = (rng.standard_normal((len(targets), size)) * settings.noise).astype(np.float32)
    if prior is None:
        start = np.clip(start + settings.start, 0.0, 1.0)
    shifts = np.random.default_rng(settings.seed + 1).integers(
        -settings.jitter, settings.jitter + 1, size=(settings.steps, 2))
    scales = np.ones(len(targets)) if scales is None else np.asarray(scales, dtype=np.float64)
    scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
    run = _Ascent(score, target_count, (height, width, channels), settings, prior)
    parts = [run(start[batch], targets[batch], scales[batch], shifts)
             for batch in (slice(first, first + settings.batch_size)
                           for first in range(0, len(targets), settings.batch_size))]
    return Maximised(*(np.concatenate(values) for values in zip(*parts)))


class _Ascent:
    """One compiled ascent step for batches of images (see :func:`maximise`)."""

    def __init__(self, score, target_count, input_shape, settings, prior):
        import tensorflow as tf  # noqa: PLC0415

        self.tf, self.settings, self.prior = tf, settings, prior
        self.score, self.target_count, self.shape = score, target_count, input_shape
        if prior is not None:
            self.mean, self.axes = tf.constant(prior.mean), tf.constant(prior.axes)
        self.step = tf.function(self._step, reduce_retracing=True)

    def image(self, variable):
        """float32 (N, H, W, 1) in [0, 1] from the optimised variable."""
        tf = self.tf
        height, width, _ = self.shape
        if self.prior is None:
            return tf.reshape(variable, (-1, height, width, 1))
        return tf.clip_by_value(tf.reshape(self.mean + variable @ self.axes, (-1, height, width, 1)), 0.0, 1.0)

    def objective(self, images, one_hot):
        return self.score(self.tf.tile(images, (1, 1, 1, self.shape[2])), one_hot)

    def _step(self, variable, one_hot, shift):
        tf, settings = self.tf, self.settings
        height, width, _ = self.shape
        pad = settings.jitter
        with tf.GradientTape() as tape:
            tape.watch(variable)
            images = self.image(variable)
            padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
            shifted = tf.slice(padded, tf.stack([0, pad + shift[0], pad + shift[1], 0]), tf.shape(images))
            total = tf.reduce_sum(self.objective(shifted, one_hot))
            smoothness = tf.reduce_sum(tf.image.total_variation(images)) / (height * width)
            decay = tf.reduce_sum(tf.reduce_mean(tf.square(variable if self.prior is not None else images), axis=1))
            loss = -total + settings.total_variation * smoothness + settings.decay * decay
        gradient = tape.gradient(loss, variable)
        rms = tf.sqrt(tf.reduce_mean(tf.square(gradient), axis=1, keepdims=True)) + 1e-12
        updated = variable - settings.step_size * gradient / rms
        return updated if self.prior is not None else tf.clip_by_value(updated, 0.0, 1.0)

    def __call__(self, start, targets, scales, shifts):
        tf = self.tf
        one_hot = tf.one_hot(targets, self.target_count, dtype=tf.float32)
        weights = one_hot / scales[:, np.newaxis]
        variable = tf.constant(start)
        start_scores = self.objective(self.image(variable), one_hot).numpy()
        for shift in shifts:
            variable = self.step(variable, weights, tf.constant(shift, tf.int32))
        images = self.image(variable)
        scores = self.objective(images, one_hot).numpy()
        return images.numpy()[..., 0], scores.astype(np.float32), start_scores.astype(np.float32)
