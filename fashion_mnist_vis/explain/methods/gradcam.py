"""Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization", ICCV).

Channel weights are the spatially averaged gradients of the target logit,
``alpha_k = mean_ij G_ij^k``; the raw map is ``sum_k alpha_k A^k`` (h, w),
before the paper's ReLU (the heatmap applies it). One forward and one
backward pass. For a GAP -> Dense model on the GAP's input it equals CAM
divided by h * w (see :mod:`fashion_mnist_vis.explain.cam`).
"""

import numpy as np

from fashion_mnist_vis.explain.cam import grad_cam_from_gradients
from fashion_mnist_vis.explain.methods.gradient_cam import GradientCam


class GradCam(GradientCam):
    method = "gradcam"
    title = "Grad-CAM (Selvaraju et al. 2017)"
    summary = "feature maps weighted by their average gradient, positive part kept"

    @staticmethod
    def combine(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        return grad_cam_from_gradients(activations, gradients, normalise=False)
