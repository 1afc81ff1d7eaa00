"""Score-CAM (Wang et al. 2020, "Score-CAM: Score-Weighted Visual Explanations for Convolutional
Neural Networks", CVPR workshops).

Each channel ``A^k`` of the layer is upsampled to the input's size and
scaled to [0, 1] (minimum -> 0, maximum -> 1; a constant channel masks
everything out), giving a mask ``H^k``; the image multiplied by it is run
through the model. The channel's weight is the class's softmax probability
on the masked image minus that on a black image (the paper's eq. 4,
``C(A^k) = f(X * H^k) - f(X_b)``, with ``f`` the softmax output, as in the
authors' code; for "why A and not B", ``f = p_A - p_B``), and the raw map is
``sum_k w_k A^k`` (h, w), at the layer's resolution. No gradient: k + 2
forward passes (k channels; gap_cnn's last conv has 64), batched, on the handle's engine.
"""

from typing import Optional

import numpy as np

from fashion_mnist_vis.explain.methods.base import MethodSettings, softmax, target_weights, upsample
from fashion_mnist_vis.explain.methods.layer_choice import LayerExplainer
from fashion_mnist_vis.explain.methods.model_access import ForwardPass


def channel_masks(activations: np.ndarray, size) -> np.ndarray:
    """float (h, w, k) -> float32 (k, H, W): each channel upsampled to ``size`` = (H, W), then scaled
    to [0, 1] (a constant channel gives an all-zero mask)."""
    masks = np.stack([upsample(activations[:, :, channel], size) for channel in range(activations.shape[-1])])
    low = masks.min(axis=(1, 2), keepdims=True)
    span = masks.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (masks - low) / np.where(span > 0, span, 1.0), 0.0).astype(np.float32)


class ScoreCam(LayerExplainer):
    method = "scorecam"
    title = "Score-CAM (Wang et al. 2020)"
    summary = ("each feature map is used as a mask on the input and weighted by how much the masked image raises the"
               " score; no gradients")

    def __init__(self, handle, layer_name: Optional[str], settings: MethodSettings):
        super().__init__(handle, layer_name, settings)
        self._forward = ForwardPass(handle, self.layer_name, settings.batch_size)

    def raw_map(self, image: np.ndarray, class_index: int, contrast_index: Optional[int]) -> np.ndarray:
        activations, _ = self._forward(image[np.newaxis])
        masks = channel_masks(activations[0], image.shape[:2])
        batch = np.concatenate([image[np.newaxis] * masks[..., np.newaxis], np.zeros_like(image)[np.newaxis]])
        _, logits = self._forward(batch)
        scores = softmax(logits) @ target_weights(self.num_classes, class_index, contrast_index)
        weights = scores[:-1] - scores[-1]
        return np.asarray(activations[0], dtype=np.float64) @ weights
