"""Occlusion sensitivity (Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional
Networks", ECCV).

A square patch of ``occlusion_patch`` pixels, set to ``occlusion_baseline``
(0, black, by default), slides over the image with step ``occlusion_stride``
(positions 0, s, 2s, ... while the patch fits, as in Xplique). Each position
scores the drop of the target logit, ``y(x) - y(x occluded)``; a pixel's raw
value is the mean drop over the positions whose patch covers it (captum's
rule; Xplique sums instead, which weighs the image's borders less), 0 for a
pixel no patch covers. Raw map (H, W), signed: positive where hiding the
pixels lowers the class's logit. No gradient: one forward pass per position
(169 for 28 x 28 with patch 4, stride 2) plus one, batched, on the handle's engine.
"""

from typing import List, Optional, Tuple

import numpy as np

from fashion_mnist_vis.explain.methods.base import Explainer, MethodSettings, target_weights
from fashion_mnist_vis.explain.methods.model_access import ForwardPass


def patch_corners(height: int, width: int, patch: int, stride: int) -> List[Tuple[int, int]]:
    """The (row, column) of every patch's top-left corner, row by row."""
    return [(row, column) for row in range(0, height - patch + 1, stride)
            for column in range(0, width - patch + 1, stride)]


class Occlusion(Explainer):
    method = "occlusion"
    title = "Occlusion (Zeiler & Fergus 2014)"
    summary = "how much the score drops when a small square of the image is covered"

    def __init__(self, handle, layer_name: Optional[str], settings: MethodSettings):
        super().__init__(handle, None, settings)
        self._forward = ForwardPass(handle, None, settings.batch_size)

    def raw_map(self, image: np.ndarray, class_index: int, contrast_index: Optional[int]) -> np.ndarray:
        patch, stride = self.settings.occlusion_patch, self.settings.occlusion_stride
        height, width = image.shape[:2]
        corners = patch_corners(height, width, patch, stride)
        occluded = np.repeat(image[np.newaxis], len(corners), axis=0)
        for index, (row, column) in enumerate(corners):
            occluded[index, row:row + patch, column:column + patch] = self.settings.occlusion_baseline
        _, logits = self._forward(np.concatenate([image[np.newaxis], occluded]))
        scores = logits.astype(np.float64) @ target_weights(self.num_classes, class_index, contrast_index)
        drops = scores[0] - scores[1:]
        total, covered = np.zeros((height, width)), np.zeros((height, width))
        for drop, (row, column) in zip(drops, corners):
            total[row:row + patch, column:column + patch] += drop
            covered[row:row + patch, column:column + patch] += 1
        return np.where(covered > 0, total / np.maximum(covered, 1), 0.0)
