"""The images that excite each channel most: explanation of a channel by its strongest examples.

A channel's response to an image is its **maximum over positions** (the
strongest single unit), so the unit that gave it, and the input patch that
unit sees (:mod:`fashion_mnist_vis.explain.receptive_field`), show *where*
in the image the channel found its pattern (the method of Zeiler and Fergus
2014, "Visualizing and Understanding Convolutional Networks", ECCV, without
the deconvolution).

:class:`TopActivationFinder` streams images through the model in batches,
computing every chosen layer in one forward pass per batch, and keeps, per
channel, the ``k`` images with the largest responses (ties: the lower image
index first), so memory holds one batch of activations at a time.
"""

from dataclasses import dataclass
from typing import Dict, Iterable, Sequence

import numpy as np


@dataclass(frozen=True)
class TopImages:
    """One layer's strongest images per channel (best first).

    Attributes:
        indices: int64 (channels, k), the images' indices in the searched set.
        scores: float32 (channels, k), each image's response: the channel's
            maximum over positions.
        positions: int64 (channels, k, 2), the (row, column) of the unit that
            gave the maximum, in the layer's output grid (the first such unit
            in row-major order when several tie).
    """

    indices: np.ndarray
    scores: np.ndarray
    positions: np.ndarray


def strongest_units(activations: np.ndarray):
    """Each image's and channel's maximum over positions, and where it is.

    Args:
        activations: float (N, h, w, C), one layer's output for N images.

    Returns:
        float32 (N, C) maxima and int64 (N, C, 2) their (row, column) (the first in
        row-major order on ties).
    """
    activations = np.asarray(activations, dtype=np.float32)
    count, height, width, channels = activations.shape
    flat = activations.reshape(count, height * width, channels)
    where = flat.argmax(axis=1)
    maxima = np.take_along_axis(flat, where[:, np.newaxis, :], axis=1)[:, 0, :]
    return maxima, np.stack(np.divmod(where, width), axis=-1).astype(np.int64)


class TopActivationFinder:
    """Keeps the ``k`` strongest images per channel of several layers while batches stream through.

    Args:
        channels: layer name -> its number of channels.
        k: images kept per channel.
    """

    def __init__(self, channels: Dict[str, int], k: int):
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        self.k = k
        self._best = {name: (np.empty((count, 0), np.int64), np.empty((count, 0), np.float32),
                             np.empty((count, 0, 2), np.int64)) for name, count in channels.items()}

    def add(self, start: int, outputs: Dict[str, np.ndarray]) -> None:
        """Take in one batch: ``outputs`` maps each layer name to its float (B, h, w, C) output for
        the images numbered ``start`` to ``start + B - 1``."""
        for name, activations in outputs.items():
            maxima, where = strongest_units(activations)
            indices, scores, positions = self._best[name]
            batch_indices = np.broadcast_to(np.arange(start, start + len(maxima)), maxima.T.shape)
            indices = np.concatenate([indices, batch_indices], axis=1)
            scores = np.concatenate([scores, maxima.T], axis=1)
            positions = np.concatenate([positions, where.transpose(1, 0, 2)], axis=1)
            order = np.lexsort((indices, -scores), axis=-1)[:, : self.k]  # by score, then index
            self._best[name] = (np.take_along_axis(indices, order, axis=1),
                                np.take_along_axis(scores, order, axis=1),
                                np.take_along_axis(positions, order[..., np.newaxis], axis=1))

    def result(self) -> Dict[str, TopImages]:
        """Layer name -> its :class:`TopImages` so far."""
        return {name: TopImages(*best) for name, best in self._best.items()}


def find_top_images(probe, layer_names: Sequence[str], batches: Iterable, k: int) -> Dict[str, TopImages]:
    """The ``k`` strongest images per channel of each layer in ``layer_names``.

    Args:
        probe: a :class:`~fashion_mnist_vis.models.graph.ModelGraph` probe computing the
            layers' outputs, in the order of ``layer_names``, for a float32 batch.
        layer_names: the layers, each with a (batch, h, w, channels) output.
        batches: (start index, float32 batch (B, H, W, C)) pairs covering the images in order.
        k: images kept per channel.
    """
    finder = None
    for start, batch in batches:
        outputs = dict(zip(layer_names, (np.asarray(values) for values in probe(batch))))
        if finder is None:
            finder = TopActivationFinder({name: values.shape[-1] for name, values in outputs.items()}, k)
        finder.add(start, outputs)
    if finder is None:
        raise ValueError("no images to search")
    return finder.result()
