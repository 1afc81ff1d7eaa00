"""How unlike a Fashion-MNIST image a model input itself is: two statistics of its pixels.

The network's embedding places some photos that are not garments right next
to training images (a page of text, gravel, a cat's face filling the
frame: :mod:`fashion_mnist_vis.explain.unfamiliarity`). Two things every
Fashion-MNIST image has, and those photos lack, are visible in the 28 x 28
model input (after :func:`fashion_mnist_vis.data.preprocess.preprocess`,
before its stretch to white: ``Preprocessed.unstretched_input``) before
any network sees it:

* the item does not fill the frame: there is black around it. A texture or
  a close-up (grass, gravel, a face) lights nearly every pixel:
  :func:`lit_share`, the share of pixels above :data:`LIT_LEVEL`.
* the item is bright: its lightest pixels reach near white. A page of
  faint text or a dark scene stays dim: :func:`dimness`, one minus the
  :data:`BRIGHT_QUANTILE` quantile of the pixels.

Both are higher for less familiar inputs, like the embedding's distance, and
are calibrated the same way, on real held-out images
(:func:`fashion_mnist_vis.explain.unfamiliarity.calibrate_union`).

One more check reads the photo itself, before it is cropped
(:func:`photo_checks`): ``busy_background``, how much the photo's border
varies around its background level
(``Preprocessed.background_variation``). A Fashion-MNIST item is a product
on a plain background; above
:data:`~fashion_mnist_vis.data.object_finder.PLAIN_BACKGROUND_LIMIT` (20 grey
levels) the border varies as much as an item stands out from it (a scene, a
table top, a texture) and preprocess cannot tell an item from its
surroundings. Its threshold is that fixed limit, not a calibrated one: the
real test images are arrays with no photo around them, none of which it flags.
"""

from typing import Callable, Dict, Optional, Tuple

import numpy as np

from fashion_mnist_vis.data.object_finder import PLAIN_BACKGROUND_LIMIT

LIT_LEVEL = 0.1
"""A pixel (0..1) above this is lit: part of the item, not the black around it."""

BRIGHT_QUANTILE = 0.98
"""The quantile of an input's pixels that :func:`dimness` reads: its lightest 2%."""


def _flat(inputs: np.ndarray) -> np.ndarray:
    inputs = np.asarray(inputs, dtype=np.float32)
    return inputs.reshape(len(inputs), -1)


def lit_share(inputs: np.ndarray) -> np.ndarray:
    """float (N, H, W[, C]) model inputs in [0, 1] -> float64 (N,): the share of pixels above
    :data:`LIT_LEVEL`, 0..1; e.g. pixels (0, 0.05, 0.5, 1) give 0.5."""
    return (_flat(inputs) > LIT_LEVEL).mean(axis=1, dtype=np.float64)


def dimness(inputs: np.ndarray) -> np.ndarray:
    """float (N, H, W[, C]) model inputs in [0, 1] -> float64 (N,): one minus the :data:`BRIGHT_QUANTILE`
    quantile of the pixels, 0 (the lightest pixels are white) .. 1 (all black); e.g. an input of 0.25
    everywhere gives 0.75."""
    return 1.0 - np.quantile(_flat(inputs), BRIGHT_QUANTILE, axis=1).astype(np.float64)


INPUT_CHECKS: Dict[str, Callable[[np.ndarray], np.ndarray]] = {"lit_share": lit_share, "dimness": dimness}
"""Every input statistic, by the name it has in the calibration and in ``--json``."""

BUSY_BACKGROUND = "busy_background"
"""The name of :func:`photo_checks`'s check in ``--json`` and on the page."""


def photo_checks(background_variation: Optional[float]) -> Dict[str, Tuple[float, float]]:
    """The checks of the photo before its crop: name -> (value, threshold); {} when there was no
    photo to check (``background_variation`` None: an array passed through, or ``method="original"``).

    E.g. a variation of 25 grey levels gives ``{"busy_background": (25.0, 20.0)}``, flagged."""
    if background_variation is None:
        return {}
    return {BUSY_BACKGROUND: (float(background_variation), PLAIN_BACKGROUND_LIMIT)}


CHECK_WORDS = {"lit_share": "fills the frame", "dimness": "is dim, with no bright item",
               BUSY_BACKGROUND: "has no plain background for preprocessing to find an item on"}
"""What a flagged statistic says about the image, for the text line and the page."""
