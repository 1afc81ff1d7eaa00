"""SmoothGrad (Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise", ICML workshop).

The gradient averaged over ``n`` noisy copies of the image,
``g = mean_n d y / d x (x + e_n)``, ``e_n ~ N(0, sigma^2)`` per pixel, with
sigma = ``smoothgrad_noise`` (a fraction of the inputs' [0, 1] range: the
paper's sigma / (x_max - x_min)) and n = ``smoothgrad_samples``; the raw map
is ``max_c |g|`` (H, W), the saliency of the averaged gradient. The noise
comes from ``smoothgrad_seed``, so the same image gets the same map. The
noisy images are not clipped to [0, 1] (as in the paper). n backward passes, batched.
"""

from typing import Optional

import numpy as np

from fashion_mnist_vis.explain.methods.input_gradients import InputGradientMethod


class SmoothGrad(InputGradientMethod):
    method = "smoothgrad"
    title = "SmoothGrad (Smilkov et al. 2017)"
    summary = "saliency averaged over copies of the image with noise added"

    def noise(self, shape) -> np.ndarray:
        """float32 (n, H, W, C): the noise added to the image, the same on every call."""
        settings = self.settings
        rng = np.random.default_rng(settings.smoothgrad_seed)
        return rng.normal(0.0, settings.smoothgrad_noise, (settings.smoothgrad_samples, *shape)).astype(np.float32)

    def raw_map(self, image: np.ndarray, class_index: int, contrast_index: Optional[int]) -> np.ndarray:
        noisy = image[np.newaxis] + self.noise(image.shape)
        gradients = self.input_gradients(noisy, class_index, contrast_index).mean(axis=0)
        return np.abs(gradients).max(axis=-1)
