"""The training set in a model's embedding space: embeddings, labels and each class's examples.

A :class:`TrainingIndex` is what explanation by example searches: the
embedding (:mod:`fashion_mnist_vis.explain.embeddings`: the GAP output, or the
last Dense layer's input) of every training image, their labels, and per
class the prototypes and atypical images
(:mod:`fashion_mnist_vis.explain.class_examples`). It is built once per model
file by :func:`build_training_index` (one forward pass over the training set:
60,000 images) and then kept on disk (:mod:`fashion_mnist_vis.explain.index_cache`),
identified by an :class:`IndexKey`: the model file's SHA-256, the embedding
layer asked for, the training images' digest and the example counts. The
pixels themselves are not stored: the index records which data it was built
from, and the images are loaded again for thumbnails.
"""

import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, Optional

import numpy as np

from fashion_mnist_vis.explain.class_examples import ClassExamples, find_class_examples
from fashion_mnist_vis.explain.mahalanobis import ClassGaussians, fit_class_gaussians
from fashion_mnist_vis.explain.neighbours import NeighbourIndex

INDEX_FORMAT = 1
"""Changes whenever what an index holds, or how it is computed, changes: older caches are rebuilt."""

DEFAULT_LAYER = ""
""":attr:`IndexKey.layer_request` of the default embedding (GAP output, else the last Dense layer's input)."""

BATCH_SIZE = 500
"""Training images per forward pass while building (one batch of activations in memory)."""


@dataclass(frozen=True)
class IndexKey:
    """What an index was built from; a cached index is reused only when every field matches.

    Attributes:
        model_sha256: hex SHA-256 of the model file's bytes.
        layer_request: the embedding layer asked for, :data:`DEFAULT_LAYER` for the default.
        data_digest: hex MD5 of the training images and labels
            (:func:`fashion_mnist_vis.data.datasets.array_digest`).
        prototypes_per_class, atypical_per_class: how many examples per class.
        format: :data:`INDEX_FORMAT`.
    """

    model_sha256: str
    layer_request: str
    data_digest: str
    prototypes_per_class: int
    atypical_per_class: int
    format: int = INDEX_FORMAT

    def to_dict(self) -> Dict[str, object]:
        return asdict(self)


@dataclass
class TrainingIndex:
    """The searchable training set of one model.

    Attributes:
        key: what it was built from.
        embeddings: float32 (N, D), one row per training image, in the data's order.
        labels: uint8 (N,) in 0..9.
        layer_name: the layer whose activation is the embedding; layer_role says
            which tensor (e.g. "output of the GlobalAveragePooling2D layer").
        data: where the training images come from, to load them again:
            ``{"settings": DataSettings.to_dict(), "seed": int, "source": one line}``.
        examples: every class's prototypes and atypical images (positions in ``embeddings``).
        build_seconds: how long building took (the forward pass and the class examples).
        unfamiliarity: the calibration of the unfamiliarity score (see
            :func:`fashion_mnist_vis.explain.unfamiliarity.calibrate_index`), or None before it is made.
    """

    key: IndexKey
    embeddings: np.ndarray
    labels: np.ndarray
    layer_name: str
    layer_role: str
    data: Dict[str, object]
    examples: ClassExamples
    build_seconds: float
    unfamiliarity: Optional[Dict[str, object]] = None
    _search: Optional[NeighbourIndex] = field(default=None, repr=False)
    _gaussians: Optional[ClassGaussians] = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def search(self) -> NeighbourIndex:
        """The exact cosine search over ``embeddings`` (rows scaled to unit length on first use)."""
        if self._search is None:
            self._search = NeighbourIndex(self.embeddings)
        return self._search

    @property
    def gaussians(self) -> ClassGaussians:
        """The classes' Gaussians fitted to ``embeddings`` (for the Mahalanobis distance), on first use."""
        if self._gaussians is None:
            self._gaussians = fit_class_gaussians(self.embeddings, self.labels)
        return self._gaussians


def build_training_index(handle, images: np.ndarray, labels: np.ndarray, key: IndexKey,
                         data: Dict[str, object], layer_name: Optional[str] = None,
                         progress: Optional[Callable[[int, int], None]] = None,
                         batch_size: int = BATCH_SIZE) -> TrainingIndex:
    """Embed every training image with the model of ``handle`` and find each class's examples.

    Args:
        handle: the model, from :func:`fashion_mnist_vis.models.model_handle.open_model` (either engine).
        images: uint8 (N, 28, 28) in 0..255; labels: int (N,) in 0..9.
        key, data: recorded in the index (see :class:`TrainingIndex`).
        layer_name: the embedding layer, None for the default.
        progress: called as ``progress(done, N)`` after each batch.

    Raises:
        UserError: if ``layer_name`` is not a usable layer of the model or the
            model does not take 28 x 28 images.
    """
    from fashion_mnist_vis.explain.embeddings import embedding_probe, iter_embeddings

    started = time.perf_counter()
    probe, source = embedding_probe(handle.model, handle.graph, layer_name)
    embeddings = np.empty((len(images), source.dims), dtype=np.float32)
    for batch in iter_embeddings(probe, images, handle.model.input_shape, batch_size):
        embeddings[batch.start : batch.start + len(batch.embeddings)] = batch.embeddings
        if progress is not None:
            progress(batch.start + len(batch.embeddings), len(images))
    labels = np.asarray(labels, dtype=np.uint8)
    examples = find_class_examples(embeddings, labels, key.prototypes_per_class, key.atypical_per_class)
    return TrainingIndex(key, embeddings, labels, source.layer_name, source.role, dict(data), examples,
                         time.perf_counter() - started)


class QueryEmbedder:
    """Embeds one model input at a time in an index's embedding space (the layer it was built with).

    Args:
        handle: the model the index was built with (either engine).
        index: the :class:`TrainingIndex`.
    """

    def __init__(self, handle, index: TrainingIndex):
        from fashion_mnist_vis.explain.embeddings import find_embedding_tensor

        # The layer as asked for when the index was built (the default is found by role again: the
        # input of the last Dense layer is not that layer's output).
        tensor, _ = find_embedding_tensor(handle.model, index.key.layer_request or None, handle.graph)
        self._probe = handle.graph.probe([tensor])

    def __call__(self, model_input: np.ndarray) -> np.ndarray:
        """float32 (H, W, C) model input in [0, 1] -> its embedding, float32 (D,)."""
        batch = np.asarray(model_input, dtype=np.float32)[np.newaxis]
        return np.asarray(self._probe(batch, training=False)[0], dtype=np.float32).reshape(-1)
