"""The training images that excite a channel most, for the explorer's enlarged channel.

The explorer searches the first ``count`` training images once, on the first request, through every
spatial layer in one forward pass per batch (:func:`fashion_mnist_vis.explain.top_activations.find_top_images`:
a channel's response is its maximum over positions, after Zeiler and Fergus 2014), and then answers
every channel from memory. The channel atlas (``inspect_model.py``) does the same over the whole
training set, with receptive fields.
"""

from typing import Dict, List, Sequence

import numpy as np

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.top_activations import TopImages, find_top_images


class ChannelExamples:
    """The ``k`` strongest of ``images`` for every channel of the layers ``layer_names``.

    Args:
        handle: the opened model.
        layer_names: layers with spatial outputs (batch, h, w, channels).
        images: uint8 (N, 28, 28) training images in 0..255; labels: int (N,) class indices.
        k: images kept per channel.
        batch_size: images per forward pass.
    """

    def __init__(self, handle, layer_names: Sequence[str], images: np.ndarray, labels: np.ndarray, k: int = 6,
                 batch_size: int = 250):
        from fashion_mnist_vis.data.pipeline import to_model_input

        graph = handle.graph
        self.layer_names = list(layer_names)
        self.images, self.labels = images, labels
        probe = graph.probe([graph.outputs[name] for name in self.layer_names])
        batches = ((start, to_model_input(images[start:start + batch_size]))
                   for start in range(0, len(images), batch_size))
        self.tops: Dict[str, TopImages] = find_top_images(
            lambda batch: probe(batch, training=False), self.layer_names, batches, k)

    def strongest(self, layer_name: str, channel: int) -> List[Dict[str, object]]:
        """The channel's strongest images, best first: position in the searched set, label, response
        (the channel's maximum over positions) and uint8 (28, 28) pixels.

        Raises:
            UserError: for a layer that is not searched or a channel it does not have.
        """
        if layer_name not in self.tops:
            raise UserError(f"layer {layer_name!r} has no feature maps; choose one of: {', '.join(self.layer_names)}")
        top = self.tops[layer_name]
        if not 0 <= channel < len(top.indices):
            raise UserError(f"layer {layer_name!r} has channels 0-{len(top.indices) - 1}, not {channel}")
        return [{"index": int(index), "label": int(self.labels[index]), "score": float(score),
                 "pixels": self.images[index]}
                for index, score in zip(top.indices[channel], top.scores[channel])]
