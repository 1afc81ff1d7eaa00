"""Grad-CAM++ (Chattopadhay et al. 2018, "Grad-CAM++: Generalized Gradient-Based Visual
Explanations for Deep Convolutional Networks", WACV).

Each position's gradient gets its own weight: with ``G = d y / d A`` of the
target logit ``y``, the paper's closed form for the exponential of the score
(its eq. 19) is ``a_ij^k = G_ij^k ** 2 / (2 G_ij^k ** 2 + sum_ab A_ab^k G_ij^k ** 3)``
(0 where the denominator is 0), the channel weights are
``w_k = sum_ij a_ij^k ReLU(G_ij^k)`` (eq. 9, dropping the positive factor
``exp(y)``, which the normalisation removes), and the raw map is
``sum_k w_k A^k`` (h, w). One forward and one backward pass.
"""

import numpy as np

from fashion_mnist_vis.explain.methods.gradient_cam import GradientCam


class GradCamPlusPlus(GradientCam):
    method = "gradcam++"
    title = "Grad-CAM++ (Chattopadhay et al. 2018)"
    summary = ("like Grad-CAM, but each position's gradient is weighted by higher-order terms, so several instances "
               "of a pattern all count")

    @staticmethod
    def combine(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
        squared = gradients**2
        denominator = 2.0 * squared + activations.sum(axis=(0, 1)) * gradients**3
        safe = np.where(denominator != 0.0, denominator, 1.0)
        alphas = np.where(denominator != 0.0, squared / safe, 0.0)
        weights = (alphas * np.maximum(gradients, 0.0)).sum(axis=(0, 1))
        return activations @ weights
