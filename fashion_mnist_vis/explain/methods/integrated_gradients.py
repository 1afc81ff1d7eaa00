"""Integrated Gradients (Sundararajan et al. 2017, "Axiomatic Attribution for Deep Networks", ICML).

The gradient integrated along the straight path from a baseline image x'
(every pixel ``ig_baseline``; 0, black, by default) to the image x, by the
paper's right Riemann sum over m = ``ig_steps`` points:
``IG_ijc = (x - x')_ijc * (1/m) sum_{s=1..m} d y / d x_ijc (x' + (s/m)(x - x'))``.
The raw map sums the channels, ``sum_c IG_ijc`` (H, W), and keeps its sign:
by completeness the attributions add up to ``y(x) - y(x')`` (as m grows), so
positive values are evidence for the class, negative against it (the heatmap
keeps the positive part). Pixels equal to the baseline get 0. m backward passes, batched.
"""

from typing import Optional

import numpy as np

from fashion_mnist_vis.explain.methods.input_gradients import InputGradientMethod


class IntegratedGradients(InputGradientMethod):
    method = "integrated-gradients"
    title = "Integrated Gradients (Sundararajan et al. 2017)"
    summary = "gradients summed along a path from a black image to this one, times the pixel change"

    def raw_map(self, image: np.ndarray, class_index: int, contrast_index: Optional[int]) -> np.ndarray:
        steps = self.settings.ig_steps
        baseline = np.full_like(image, self.settings.ig_baseline)
        fractions = (np.arange(1, steps + 1, dtype=np.float32) / steps)[:, None, None, None]
        path = baseline[np.newaxis] + fractions * (image - baseline)[np.newaxis]
        average = self.input_gradients(path, class_index, contrast_index).mean(axis=0)
        return ((image - baseline) * average).sum(axis=-1)
