"""The channel atlas: what every channel of every convolution looks for, computed for one model.

:func:`build_atlas` finds the model's convolutional layers by type
(:func:`~fashion_mnist_vis.models.registry.layers_of_type`), takes their outputs
from the model's :class:`~fashion_mnist_vis.models.graph.ModelGraph` and computes,
per layer:

* the receptive field of its units (:mod:`~fashion_mnist_vis.explain.receptive_field`);
* per channel, the training images that excite it most, and where
  (:mod:`~fashion_mnist_vis.explain.top_activations`), in one streamed pass over
  the images for all layers at once, with the handle's engine;
* per channel, the input that maximises its centre unit
  (:mod:`~fashion_mnist_vis.explain.feature_visualisation`; Keras's autodiff on the
  handle's float32 Keras model, whichever engine ran the search). Jitter is
  limited to an eighth of the layer's receptive field (a 3 x 3 first-layer
  unit shifted by 2 pixels sees another pattern each step and learns none);
  each channel's objective is scaled by its strongest training response;
* for the first convolution, its filter weights;

for the classes, the input that maximises each logit, with and without the
data prior (:class:`~fashion_mnist_vis.explain.feature_visualisation.ImagePrior`),
with the probability the model gives each picture for its class; and the last
convolution's concepts on one image of each class (Deep Feature Factorisation,
:mod:`~fashion_mnist_vis.explain.feature_factorisation`).
"""

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.embeddings import to_model_batch
from fashion_mnist_vis.explain.feature_factorisation import Concepts, factorise
from fashion_mnist_vis.explain.feature_visualisation import (
    CLASS_SETTINGS, PRIOR_COMPONENTS, AscentSettings, ImagePrior, Maximised, channel_score, logit_score, maximise)
from fashion_mnist_vis.explain.receptive_field import ReceptiveField, receptive_fields
from fashion_mnist_vis.explain.top_activations import TopImages, find_top_images
from fashion_mnist_vis.models.registry import find_classifier_layer, layers_of_type
from fashion_mnist_vis.models.scores import as_probabilities


@dataclass(frozen=True)
class AtlasSettings:
    """What :func:`build_atlas` computes.

    Attributes:
        top_images: strongest training images kept per channel.
        batch_size: images per forward pass while searching them.
        maximise: compute the maximising inputs (channels and classes).
        channel_ascent: the channels' ascent settings (jitter: at most, see the module's docstring).
        class_ascent: the classes' ascent settings.
        prior_components: principal components of the classes' data prior.
        prior_images: how many of the images (the first ones) the prior is fitted to.
        concepts: concepts of the last convolution found by Deep Feature Factorisation (0: none).
        concept_images: images they are found in (the first image of each class, in class order).
    """

    top_images: int = 8
    batch_size: int = 250
    maximise: bool = True
    channel_ascent: AscentSettings = AscentSettings()
    class_ascent: AscentSettings = CLASS_SETTINGS
    prior_components: int = PRIOR_COMPONENTS
    prior_images: int = 20000
    concepts: int = 4
    concept_images: int = 10


@dataclass
class ConceptMaps:
    """The last convolution's concepts: ``layer_name``, ``indices`` int (n,) of the images they were
    found in, and what :func:`~fashion_mnist_vis.explain.feature_factorisation.factorise` found."""

    layer_name: str
    indices: np.ndarray
    found: Concepts


@dataclass
class LayerAtlas:
    """One convolutional layer's part of the atlas.

    Attributes:
        name, layer_type: the layer's name and class name.
        config: the layer's config (kernel size, strides, padding, activation).
        input_shape, output_shape: one image's (h, w, channels) in and out.
        field: the receptive field of its units.
        top: its channels' strongest images.
        maximised: its channels' maximising inputs (None when not computed).
        weights: float32 (kh, kw, channels) filter weights on the grey image, first layer only
            (for a 3-channel model, the sum over the input channels, which all get the grey image).
    """

    name: str
    layer_type: str
    config: dict
    input_shape: Tuple[int, ...]
    output_shape: Tuple[int, ...]
    field: ReceptiveField
    top: TopImages
    maximised: Optional[Maximised] = None
    weights: Optional[np.ndarray] = None


@dataclass
class ClassPictures:
    """Each class's maximising input, with the data prior and in plain pixels.

    ``with_prior`` and ``pixels`` are :class:`Maximised` over the classes in order;
    ``with_prior_probability`` and ``pixels_probability``: float32 (classes,), the probability the
    model gives each picture for its own class."""

    with_prior: Maximised
    pixels: Maximised
    with_prior_probability: np.ndarray
    pixels_probability: np.ndarray


@dataclass
class Atlas:
    """Everything the atlas pages show.

    Attributes:
        layers: one :class:`LayerAtlas` per convolution, in model order.
        images: uint8 (N, 28, 28) the searched images; labels: (N,) their classes.
        classes: the class pictures, or None.
        concepts: the last convolution's concepts, or None (not asked for, or negative activations).
        seconds: how long each part took ("search", "channels", "classes").
    """

    layers: List[LayerAtlas]
    images: np.ndarray
    labels: np.ndarray
    classes: Optional[ClassPictures] = None
    concepts: Optional[ConceptMaps] = None
    seconds: Dict[str, float] = field(default_factory=dict)


def convolution_layers(model, graph) -> list:
    """The model's convolutional layers (Conv2D and its subclasses) with one spatial output, in order.

    Raises:
        UserError: if it has none.
    """
    layers = [layer for layer in layers_of_type(model, "Conv2D")
              if layer.name in graph.outputs and len(graph.outputs[layer.name].shape) == 4]
    if not layers:
        raise UserError(f"model {model.name!r} has no convolutional layer: the atlas shows what convolution "
                        "channels look for")
    return layers


def build_atlas(handle, images: np.ndarray, labels: np.ndarray, settings: AtlasSettings = AtlasSettings(),
                progress: Callable[[str], None] = lambda message: None) -> Atlas:
    """The atlas of ``handle``'s model (a :class:`~fashion_mnist_vis.models.model_handle.ModelHandle`).

    Args:
        handle: the opened model (either engine).
        images: uint8 (N, 28, 28) in 0..255, the images searched (the training set);
            labels: int (N,) their classes.
        settings: what to compute.
        progress: called with a short sentence as each part starts.
    """
    model, graph = handle.model, handle.graph
    layers = convolution_layers(model, graph)
    fields = receptive_fields(model, graph)
    input_shape = tuple(graph.input.shape)
    seconds = {}
    started = time.perf_counter()
    progress(f"searching {len(images)} images for the strongest responses of {len(layers)} layers")
    probe = graph.probe([graph.outputs[layer.name] for layer in layers], compiled=True)
    batches = ((start, to_model_batch(images[start:start + settings.batch_size], input_shape))
               for start in range(0, len(images), settings.batch_size))
    tops = find_top_images(probe, [layer.name for layer in layers], batches, settings.top_images)
    seconds["search"] = time.perf_counter() - started
    atlas_layers = [LayerAtlas(layer.name, type(layer).__name__, layer.get_config(),
                               tuple(graph.inputs_of(layer)[0].shape[1:]), tuple(graph.outputs[layer.name].shape[1:]),
                               fields[layer.name], tops[layer.name]) for layer in layers]
    atlas_layers[0].weights = np.asarray(layers[0].kernel, dtype=np.float32).sum(axis=2)
    atlas = Atlas(atlas_layers, images, np.asarray(labels), seconds=seconds)
    if settings.concepts:
        atlas.concepts = concept_maps(handle, layers[-1], images, atlas.labels, settings)
    if settings.maximise:
        started = time.perf_counter()
        _maximise_channels(handle, atlas, settings, progress)
        seconds["channels"] = time.perf_counter() - started
        started = time.perf_counter()
        progress("maximising the classes' logits")
        atlas.classes = class_pictures(handle, images[:settings.prior_images], settings)
        seconds["classes"] = time.perf_counter() - started
    return atlas


def _maximise_channels(handle, atlas: Atlas, settings: AtlasSettings, progress) -> None:
    model, graph = handle.keras_model, handle.keras_graph
    for layer_atlas in atlas.layers:
        progress(f"maximising the {layer_atlas.output_shape[-1]} channels of {layer_atlas.name}")
        jitter = min(settings.channel_ascent.jitter, min(layer_atlas.field.size) // 8)
        channels = layer_atlas.output_shape[-1]
        layer_atlas.maximised = maximise(
            channel_score(graph, model.get_layer(layer_atlas.name)), np.arange(channels), channels,
            graph.input.shape[1:], dataclasses.replace(settings.channel_ascent, jitter=jitter),
            scales=layer_atlas.top.scores[:, 0])


def class_pictures(handle, images: np.ndarray, settings: AtlasSettings) -> ClassPictures:
    """Every class's maximising input, with a data prior fitted to uint8 (N, 28, 28) ``images`` and
    without; and the probability the model gives each for its class."""
    model, graph = handle.keras_model, handle.keras_graph
    classifier = find_classifier_layer(model)
    count = int(classifier.kernel.shape[-1])
    score = logit_score(graph, classifier)
    prior = ImagePrior.from_images(images, settings.prior_components)
    with_prior = maximise(score, np.arange(count), count, graph.input.shape[1:], settings.class_ascent, prior)
    pixels = maximise(score, np.arange(count), count, graph.input.shape[1:], settings.class_ascent)
    probe = graph.probe([graph.model_output])

    def own_probability(found: Maximised) -> np.ndarray:
        batch = to_model_batch(np.round(found.images * 255).astype(np.uint8), graph.input.shape)
        probabilities = as_probabilities(np.asarray(probe(batch)[0]))
        return probabilities[np.arange(count), np.arange(count)].astype(np.float32)

    return ClassPictures(with_prior, pixels, own_probability(with_prior), own_probability(pixels))


def concept_maps(handle, layer, images: np.ndarray, labels: np.ndarray, settings: AtlasSettings):
    """``layer``'s concepts in the first image of each class (at most ``settings.concept_images``), or
    None when its outputs can be negative (NMF needs non-negative activations)."""
    firsts = [int(np.flatnonzero(labels == label)[0]) for label in np.unique(labels)]  # in class order
    indices = np.array(firsts[:settings.concept_images])
    graph = handle.graph
    probe = graph.probe([graph.outputs[layer.name]])
    activations = np.asarray(probe(to_model_batch(images[indices], graph.input.shape))[0], dtype=np.float32)
    if activations.min() < 0:
        return None
    count = min(settings.concepts, activations.shape[-1])
    return ConceptMaps(layer.name, indices, factorise(activations, count, settings.class_ascent.seed))
