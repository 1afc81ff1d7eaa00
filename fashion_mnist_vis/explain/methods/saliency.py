"""Vanilla saliency (Simonyan et al. 2014, "Deep Inside Convolutional Networks: Visualising Image
Classification Models and Saliency Maps", ICLR workshop).

The raw map is the gradient's magnitude, ``max_c |d y / d x_ijc|`` (H, W): how
much a small change of each pixel moves the target logit, whichever the
direction (the paper's eq. 2 reduction over colour channels). One forward
and one backward pass.
"""

from typing import Optional

import numpy as np

from fashion_mnist_vis.explain.methods.input_gradients import InputGradientMethod


class Saliency(InputGradientMethod):
    method = "saliency"
    title = "Saliency (Simonyan et al. 2014)"
    summary = "the absolute gradient of the score with respect to each input pixel"

    def raw_map(self, image: np.ndarray, class_index: int, contrast_index: Optional[int]) -> np.ndarray:
        gradients = self.input_gradients(image[np.newaxis], class_index, contrast_index)[0]
        return np.abs(gradients).max(axis=-1)
