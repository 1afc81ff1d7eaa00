"""The contrastive map, "why A and not B": Grad-CAM (Selvaraju et al. 2017) of the logit
difference ``y_A - y_B``.

Channel weights ``alpha_k = mean_ij d (y_A - y_B) / d A_ij^k``; the raw map
is ``sum_k alpha_k A^k`` (h, w): where the evidence for A beats the evidence
for B. B is the contrast class asked for, or by default the most probable
class other than A (the second most probable when A is the prediction):
on Fashion-MNIST, where the errors are Shirt / T-shirt / Pullover / Coat, the
map shows what tells the two apart. Two forward passes (one to find B) and one backward.
"""

from typing import Optional

import numpy as np

from fashion_mnist_vis.explain.methods.base import MethodSettings
from fashion_mnist_vis.explain.methods.gradcam import GradCam
from fashion_mnist_vis.explain.methods.model_access import ForwardPass


class Contrastive(GradCam):
    method = "contrastive"
    title = "Contrastive Grad-CAM: why A and not B"
    summary = "Grad-CAM of the difference of two scores: why this class and not the other"

    def __init__(self, handle, layer_name: Optional[str], settings: MethodSettings):
        super().__init__(handle, layer_name, settings)
        self._forward = ForwardPass(handle, None, settings.batch_size)

    def choose_contrast(self, image: np.ndarray, class_index: int, contrast_index: Optional[int]) -> Optional[int]:
        if contrast_index is not None:
            return int(contrast_index)
        _, logits = self._forward(image[np.newaxis])
        order = [int(index) for index in np.argsort(-logits[0], kind="stable")]
        return next(index for index in order if index != class_index)
