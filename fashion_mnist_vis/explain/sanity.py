"""The cascading model-randomisation test (Adebayo et al. 2018, "Sanity Checks for Saliency Maps",
NeurIPS): does a method's map depend on what the model learned?

The test re-initialises the model's weighted layers from the top (the classifier) down, one
more at each step, recomputes the map on every step's model and compares it with the trained
model's map. A map that explains the model must change once the weights it explains are
gone; Adebayo et al. found that some popular maps (guided backpropagation, for one) barely
change even with every layer random: they show the image's edges, not the model.

* **Re-initialising** a layer gives each of its weights a fresh draw from the layer's own
  initializer (kernels: Glorot uniform for Keras's Conv2D and Dense; biases and batch-norm
  shifts and means: zeros; batch-norm scales and variances: ones), seeded per layer from
  :attr:`SanitySettings.seed`. It works on a clone: the model passed in is left untouched, and
  each step's clone is wrapped by :func:`~fashion_mnist_vis.models.model_handle.keras_handle`.
* **Similarity** of two maps, both float (H, W) in [0, 1], per image, averaged over images:
  :func:`spearman` (rank correlation, -1 to 1) and :func:`ssim` (structural similarity, Wang et
  al. 2004), both as Adebayo et al. report them.
* **The flag**: a method "does not depend on the model" when, with every weighted layer
  re-initialised, its maps still have a mean rank correlation of at least
  :attr:`SanitySettings.threshold` (default 0.5) with the trained model's. At 0.5 the
  random network's map still orders the pixels largely as the trained one's (half the
  variance of the ranks shared); an input-only edge detector scores 1, a map that follows the
  weights falls towards 0. SSIM is reported, not used for the flag: two
  smooth maps share structure by being smooth, whatever their ranking.

The class explained stays the one of the trained model (its prediction unless told), so every
step answers the same question.
"""

from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Sequence, Tuple

import numpy as np

from fashion_mnist_vis.models.keras_runtime import logger_quieted
from fashion_mnist_vis.models.model_handle import ModelHandle, keras_handle

MapFunction = Callable[[np.ndarray, int], Any]
"""``explain(image, class_index)`` -> an object whose ``heatmap`` is float32 (H, W) in [0, 1]
(an :class:`~fashion_mnist_vis.explain.methods.Explanation`), for one model."""

ExplainerFactory = Callable[[ModelHandle], MapFunction]
"""Builds a method's :data:`MapFunction` for a model handle (e.g. ``build_explainer(handle, "gradcam")``)."""

SSIM_WINDOW = 7
SSIM_K1, SSIM_K2 = 0.01, 0.03


@dataclass(frozen=True)
class SanitySettings:
    """How the test runs.

    Attributes:
        threshold: the mean Spearman correlation at or above which, with every weighted layer
            re-initialised, a method is flagged as not depending on the model (see the module's
            docstring for why 0.5).
        seed: draws the re-initialised weights.
    """

    threshold: float = 0.5
    seed: int = 0

    def __post_init__(self):
        if not -1.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be a correlation in [-1, 1], not {self.threshold}")


@dataclass(frozen=True)
class SanityStep:
    """One step of the cascade: the model with ``layers_randomised`` layers re-initialised.

    Attributes:
        layer_name: the layer re-initialised at this step (all layers above it already are).
        layers_randomised: how many weighted layers are re-initialised, 1 to all.
        spearman: float64 (images,), each image's rank correlation with its original map.
        ssim: float64 (images,), each image's SSIM with its original map.
    """

    layer_name: str
    layers_randomised: int
    spearman: np.ndarray
    ssim: np.ndarray

    @property
    def mean_spearman(self) -> float:
        return float(np.mean(self.spearman))

    @property
    def mean_ssim(self) -> float:
        return float(np.mean(self.ssim))


@dataclass(frozen=True)
class SanityResult:
    """A method's cascade: its similarity to the original maps after each step.

    Attributes:
        method: the method's key.
        images: how many images were compared.
        steps: one :class:`SanityStep` per weighted layer, from the top (classifier) down.
        threshold: the flag's threshold (see :class:`SanitySettings`).
    """

    method: str
    images: int
    steps: Tuple[SanityStep, ...]
    threshold: float

    @property
    def depends_on_model(self) -> bool:
        """False when, with every weighted layer re-initialised, the maps still correlate with the
        original ones at ``threshold`` or more: the method is flagged."""
        return self.steps[-1].mean_spearman < self.threshold


def spearman(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman's rank correlation of two maps of the same shape: the Pearson correlation of
    their ranks (ties share their mean rank), in [-1, 1].

    A constant map has no ranking (a Grad-CAM map is all zeros when nothing in the image is
    evidence for the class): its correlation with anything is taken as 0.
    """
    from scipy.stats import rankdata  # noqa: PLC0415 (lazy: keeps --help fast)

    first = rankdata(np.asarray(first, dtype=np.float64).ravel())
    second = rankdata(np.asarray(second, dtype=np.float64).ravel())
    if first.shape != second.shape:
        raise ValueError(f"maps of different sizes: {first.size} and {second.size} values")
    first, second = first - first.mean(), second - second.mean()
    norm = np.sqrt((first ** 2).sum() * (second ** 2).sum())
    return float((first * second).sum() / norm) if norm > 0 else 0.0


def ssim(first: np.ndarray, second: np.ndarray, data_range: float = 1.0) -> float:
    """The structural similarity index of two maps (Wang et al. 2004, "Image Quality Assessment:
    From Error Visibility to Structural Similarity", IEEE TIP), float (H, W) -> float in [-1, 1].

    As scikit-image's ``structural_similarity`` computes it with its defaults: in every 7 x 7
    window wholly inside the map, with means mu, sample (ddof 1) variances and covariance
    sigma, and C1 = (0.01 R)^2, C2 = (0.03 R)^2 for the value range R (``data_range``),

        SSIM = (2 mu_x mu_y + C1) (2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1) (sigma_x^2 + sigma_y^2 + C2)),

    averaged over the windows (a uniform window; Wang et al. use an 11 x 11 Gaussian, too wide
    for a 28 x 28 map).

    Raises:
        ValueError: if the maps differ in shape or are smaller than 7 x 7.
    """
    first = np.asarray(first, dtype=np.float64)
    second = np.asarray(second, dtype=np.float64)
    if first.shape != second.shape or first.ndim != 2 or min(first.shape) < SSIM_WINDOW:
        raise ValueError(f"ssim needs two maps of the same shape, at least {SSIM_WINDOW} x {SSIM_WINDOW}; "
                         f"got {first.shape} and {second.shape}")
    windows = np.lib.stride_tricks.sliding_window_view
    x = windows(first, (SSIM_WINDOW, SSIM_WINDOW)).reshape(-1, SSIM_WINDOW ** 2)
    y = windows(second, (SSIM_WINDOW, SSIM_WINDOW)).reshape(-1, SSIM_WINDOW ** 2)
    mean_x, mean_y = x.mean(axis=1), y.mean(axis=1)
    samples = SSIM_WINDOW ** 2
    var_x, var_y = x.var(axis=1, ddof=1), y.var(axis=1, ddof=1)
    covariance = ((x - mean_x[:, None]) * (y - mean_y[:, None])).sum(axis=1) / (samples - 1)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    index = ((2 * mean_x * mean_y + c1) * (2 * covariance + c2)
             / ((mean_x ** 2 + mean_y ** 2 + c1) * (var_x + var_y + c2)))
    return float(index.mean())


def weighted_layers_top_down(model) -> list:
    """The layers of ``model`` that hold weights, from the output back to the input."""
    return [layer for layer in reversed(model.layers) if layer.weights]


def reinitialised_weights(layer, seed: int) -> List[np.ndarray]:
    """Fresh values for each of ``layer``'s weights, drawn from the layer's own initializers.

    A weight ``kernel`` comes from ``layer.kernel_initializer``, ``moving_mean`` from
    ``layer.moving_mean_initializer``, and so on; initializers that draw get ``seed``.

    Raises:
        ValueError: for a weight whose layer names no initializer for it.
    """
    import keras  # noqa: PLC0415

    values = []
    for index, weight in enumerate(layer.weights):
        initializer = getattr(layer, f"{weight.name}_initializer", None)
        if initializer is None:
            raise ValueError(f"layer {layer.name!r} has no initializer for its weight {weight.name!r}")
        config = initializer.get_config()
        if "seed" in config:
            initializer = type(initializer).from_config({**config, "seed": seed + index})
        values.append(keras.ops.convert_to_numpy(initializer(tuple(weight.shape), dtype="float32")))
    return values


def cascading_clones(model, seed: int = 0) -> Iterator[Tuple[str, int, Any]]:
    """Yield ``(layer name, layers re-initialised, model)`` for each step of the cascade.

    One clone of ``model`` (a Keras model; it is left untouched) holds the trained weights; each
    step re-initialises its next weighted layer from the top down (:func:`reinitialised_weights`,
    seeded ``seed + 1000 * step``) and yields the same clone, now with one more random layer.
    """
    import keras  # noqa: PLC0415

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    for step, layer in enumerate(weighted_layers_top_down(clone), start=1):
        layer.set_weights(reinitialised_weights(layer, seed + 1000 * step))
        yield layer.name, step, clone


def cascading_randomisation(handle: ModelHandle, make_explainer: ExplainerFactory, images: Sequence[np.ndarray],
                            class_indices: Sequence[int], method: str,
                            settings: SanitySettings = SanitySettings()) -> SanityResult:
    """Run the cascade for one method (see the module's docstring).

    Every step's clone traces its own TensorFlow functions, which is the point, so TensorFlow's
    "triggered tf.function retracing" warnings are hidden while the steps run (errors still show).

    Args:
        handle: the trained model, run by Keras (re-initialising needs Keras layers).
        make_explainer: builds the method for a handle; called once for the trained model and
            once per step (a step's model has new weights, so nothing built earlier is reused).
        images: float32 (H, W, C) model inputs in [0, 1], at least 7 x 7.
        class_indices: the class to explain in each image (the trained model's prediction, say).
        method: the method's key, for the result.
        settings: the flag's threshold and the seed.

    Returns:
        a :class:`SanityResult` with one step per weighted layer.

    Raises:
        ValueError: if the handle's model is not a Keras model.
    """
    if handle.engine != "Keras":
        raise ValueError("the randomisation test re-initialises Keras layers: open the model with the Keras engine")
    explain = make_explainer(handle)
    originals = [explain(image, int(index)).heatmap for image, index in zip(images, class_indices)]
    steps = []
    with logger_quieted("tensorflow"):  # each re-initialised clone traces its own functions, on purpose
        for layer_name, count, clone in cascading_clones(handle.model, settings.seed):
            explain = make_explainer(keras_handle(clone))
            maps = [explain(image, int(index)).heatmap for image, index in zip(images, class_indices)]
            steps.append(SanityStep(
                layer_name, count,
                np.array([spearman(original, new) for original, new in zip(originals, maps)]),
                np.array([ssim(original, new) for original, new in zip(originals, maps)]),
            ))
    return SanityResult(method, len(originals), tuple(steps), settings.threshold)


def sanity_table(results: Sequence[SanityResult], decimals: int = 2) -> str:
    """A Markdown table: one row per method, then "Spearman / SSIM" (means over the images) with the
    layers re-initialised down to each column's (the columns are cumulative), and the flag."""
    if not results:
        return ""
    layers = [step.layer_name for step in results[0].steps]
    header = "| method | " + " | ".join(layers) + " | depends on the model |"
    lines = [header, "|---|" + "---:|" * len(layers) + "---|"]
    for result in results:
        cells = [f"{step.mean_spearman:.{decimals}f} / {step.mean_ssim:.{decimals}f}" for step in result.steps]
        verdict = "yes" if result.depends_on_model else "**no** (flagged)"
        lines.append(f"| {result.method} | " + " | ".join(cells) + f" | {verdict} |")
    return "\n".join(lines) + "\n"
