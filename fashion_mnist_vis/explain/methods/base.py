"""The explanation interface shared by every method: settings, the result, the base explainer, upsampling.

Every method computes a *raw* map (float32: ``(h, w)`` at a layer's
resolution for the CAM family, ``(H, W)`` at the input's for pixel methods),
then the same two steps make the *heatmap* the pictures show:

1. :func:`upsample`: bilinear resizing of the positive part, ``max(raw, 0)``,
   to the model input's size (H, W), a separate step (captum's compute /
   upsample / plot split);
2. :func:`~fashion_mnist_vis.explain.cam.normalise_map`: divide by the maximum, so the
   heatmap is float32 in [0, 1], 1 the strongest positive evidence and 0 none
   (Selvaraju et al. 2017, eq. 2's ReLU; a map with no positive value is all zeros).

A method overrides one step, :meth:`Explainer.raw_map` (STYLE.md item 11).

The *target* of every method is the classifier's pre-softmax logit ``y_A`` of
the explained class, or ``y_A - y_B`` for "why A and not B" (a contrast
class B): :func:`target_weights` writes it as a vector ``t`` (+1 at A, -1 at
B) so that the target is ``logits @ t`` and one traced function serves every class.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from fashion_mnist_vis.classes import CLASS_NAMES, NUM_CLASSES
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.cam import normalise_map


@dataclass(frozen=True)
class MethodSettings:
    """The methods' settings (defaults are the values the README's figures use).

    Attributes:
        batch_size: images per forward or backward pass (perturbed copies, masked inputs, path points).
        smoothgrad_samples: noisy copies SmoothGrad averages over (Smilkov et al. 2017 use 10-50).
        smoothgrad_noise: the noise's standard deviation, as a fraction of the input's value range
            [0, 1] (Smilkov et al.'s sigma / (x_max - x_min); they found 0.1-0.2 best).
        smoothgrad_seed: seed of the noise, so a map can be computed again exactly.
        ig_steps: points on Integrated Gradients' straight path (Sundararajan et al. 2017 use 20-300).
        ig_baseline: the baseline image's value everywhere (0 = black, the paper's choice for images).
        occlusion_patch: side of the square patch occlusion covers, in input pixels.
        occlusion_stride: step between patch positions, in input pixels.
        occlusion_baseline: the value occluded pixels take (0 = black, Fashion-MNIST's background).
    """

    batch_size: int = 64
    smoothgrad_samples: int = 32
    smoothgrad_noise: float = 0.15
    smoothgrad_seed: int = 0
    ig_steps: int = 32
    ig_baseline: float = 0.0
    occlusion_patch: int = 4
    occlusion_stride: int = 2
    occlusion_baseline: float = 0.0

    def __post_init__(self):
        for name, least in (("batch_size", 1), ("smoothgrad_samples", 1), ("ig_steps", 2),
                            ("occlusion_patch", 1), ("occlusion_stride", 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < least:
                raise UserError(f"explanation setting {name} must be a whole number of at least {least}, not {value!r}")
        for name in ("smoothgrad_noise", "ig_baseline", "occlusion_baseline"):
            if not np.isfinite(getattr(self, name)):
                raise UserError(f"explanation setting {name} must be a finite number, not {getattr(self, name)!r}")
        if self.smoothgrad_noise < 0:
            raise UserError(f"explanation setting smoothgrad_noise must be >= 0, not {self.smoothgrad_noise!r}")


@dataclass(frozen=True)
class Explanation:
    """One method's map for one image and class.

    Attributes:
        method: the method's key (see :data:`fashion_mnist_vis.explain.methods.METHODS`).
        title: its display name with the paper, e.g. "Grad-CAM++ (Chattopadhay et al. 2018)".
        class_index: the class explained (0-9 for Fashion-MNIST).
        contrast_index: the class B of "why class_index and not B", else None.
        layer_name: the layer the map is computed on; None for input-space methods.
        raw: float32, the method's own map before normalisation: (h, w) at the layer's
            resolution for CAM-family methods, (H, W) for pixel methods; any sign.
        heatmap: float32 (H, W), the model input's size, in [0, 1] (1 = strongest evidence).
    """

    method: str
    title: str
    class_index: int
    contrast_index: Optional[int]
    layer_name: Optional[str]
    raw: np.ndarray
    heatmap: np.ndarray


def upsample(raw_map: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Bilinear resizing of a float map (h, w) to ``size`` = (H, W): float32 (H, W).

    Pixel centres are aligned (PIL's and OpenCV's convention); values stay
    within the map's range; a map already of that size is returned as float32.
    """
    raw_map = np.asarray(raw_map, dtype=np.float32)
    height, width = size
    if raw_map.shape == (height, width):
        return raw_map.copy()
    from PIL import Image  # noqa: PLC0415

    resized = np.asarray(Image.fromarray(raw_map, mode="F").resize((max(1, width), max(1, height)),
                                                                   Image.Resampling.BILINEAR))
    return np.clip(resized, float(raw_map.min()), float(raw_map.max())).astype(np.float32)


def to_heatmap(raw: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """The heatmap of a raw map: ReLU, :func:`upsample` to ``size`` (H, W), divide by the maximum.

    Returns float32 (H, W) in [0, 1] (all zeros when ``raw`` has no positive value).
    """
    return normalise_map(upsample(np.maximum(np.asarray(raw, dtype=np.float32), 0.0), size))


def target_weights(num_classes: int, class_index: int, contrast_index: Optional[int]) -> np.ndarray:
    """float32 (num_classes,): +1 at ``class_index``, -1 at ``contrast_index`` (if any), 0 elsewhere,
    so that ``logits @ t`` is ``y_A`` or ``y_A - y_B``."""
    weights = np.zeros(num_classes, dtype=np.float32)
    weights[class_index] = 1.0
    if contrast_index is not None:
        weights[contrast_index] -= 1.0
    return weights


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of float (N, classes) logits: float64 (N, classes), rows summing to 1."""
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


class Explainer:
    """One method, built once for one model (and layer); called once per image.

    Subclasses set :attr:`method`, :attr:`title` and :attr:`summary`, build what they need in
    ``__init__`` (functions traced once) and override :meth:`raw_map`.

    Attributes:
        method: the method's key.
        title: its display name with the paper.
        summary: what it computes, in one line a learner can read (shown on explain.py's page).
        layer_name: the layer its maps are computed on (None for input-space methods).
        input_shape: (H, W, C) of the model's input.
        num_classes: the classifier's number of classes.
    """

    method: str = ""
    title: str = ""
    summary: str = ""

    def __init__(self, handle, layer_name: Optional[str], settings: MethodSettings):
        from fashion_mnist_vis.models.registry import find_classifier_layer  # noqa: PLC0415

        self.layer_name = layer_name
        self.settings = settings
        self.input_shape = tuple(int(size) for size in handle.model.input_shape[1:])
        self.num_classes = int(find_classifier_layer(handle.model).kernel.shape[-1])

    @classmethod
    def why_not(cls, handle) -> Optional[str]:
        """None when the method applies to ``handle``'s model, else one line saying why it does not."""
        return None

    def __call__(self, image: np.ndarray, class_index: int, contrast_index: Optional[int] = None) -> Explanation:
        """The explanation of ``class_index`` (against ``contrast_index``) for one image.

        Args:
            image: float32 (H, W, C), the model input, values in [0, 1].
            class_index: the class to explain, 0 <= class_index < :attr:`num_classes`.
            contrast_index: None, or a different class B: explain "why class_index and not B".

        Raises:
            UserError: for an image of the wrong shape or a class out of range.
        """
        image = np.asarray(image, dtype=np.float32)
        if image.shape != self.input_shape:
            raise UserError(f"{self.title} needs an image of shape {self.input_shape}, not {image.shape}")
        self._check_class(class_index, "class")
        contrast_index = self.choose_contrast(image, class_index, contrast_index)
        if contrast_index is not None:
            self._check_class(contrast_index, "contrast class")
            if contrast_index == class_index:
                named = f"{CLASS_NAMES[class_index]!r}, " if self.num_classes == NUM_CLASSES else ""
                raise UserError(f"the contrast class must differ from the explained class ({named}{class_index})")
        raw = np.asarray(self.raw_map(image, int(class_index), contrast_index), dtype=np.float32)
        return Explanation(self.method, self.title, int(class_index), contrast_index, self.layer_name,
                           raw, to_heatmap(raw, image.shape[:2]))

    def choose_contrast(self, image: np.ndarray, class_index: int, contrast_index: Optional[int]) -> Optional[int]:
        """The contrast class to use (the one asked for; the contrastive method picks one when None)."""
        return None if contrast_index is None else int(contrast_index)

    def raw_map(self, image: np.ndarray, class_index: int, contrast_index: Optional[int]) -> np.ndarray:
        """The method's raw map for one float32 image (H, W, C) (see :class:`Explanation`)."""
        raise NotImplementedError

    def _check_class(self, index, what: str) -> None:
        if not isinstance(index, (int, np.integer)) or not 0 <= index < self.num_classes:
            raise UserError(f"{what} {index!r} is out of range: the model has classes 0-{self.num_classes - 1}")
