"""Stretch to white: the last grey-level fix preprocess applies to a photo.

Fashion-MNIST items reach white: 99% of them have a pixel at 254-255 (Zalando
scaled each product's levels). A photographed garment is rarely black, so
once a photo is inverted its brightest pixel is grey: about 210 for a dark
navy garment on white, 185 on a grey background. :func:`white_stretch_factor`
gives the factor that brings the brightest pixel to 255, at most
:data:`MAX_STRETCH` so a nearly black image is not turned into amplified noise.
On ``benchmarks/photos.py``'s renderings with gap_cnn H40 it raised the mean
accuracy over 14 renderings from 92.6% to 93.5% on 1,000 validation images
and changed it little on the test images (91.6% to 91.7%; see the README).
"""

import numpy as np

MAX_STRETCH = 5.0
"""The stretch multiplies grey levels by at most this: an image whose brightest pixel is below 51 stays dim."""


def white_stretch_factor(pixels: np.ndarray) -> float:
    """The factor for ``pixels`` (grey levels 0..255, any shape, 0 = the black background): 255 over
    the brightest, at most :data:`MAX_STRETCH`; 1.0 for an all-black image or one already reaching 255.
    E.g. a brightest pixel of 204 gives 1.25, one of 20 gives 5.0."""
    brightest = float(np.max(pixels, initial=0.0))
    if brightest <= 0.0:
        return 1.0
    return max(1.0, min(MAX_STRETCH, 255.0 / brightest))
