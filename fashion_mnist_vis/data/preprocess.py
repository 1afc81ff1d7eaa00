"""Turning any photo into the input a Fashion-MNIST model expects.

Fashion-MNIST items are light objects on a black background, cropped to the
object and centred, ``28 x 28`` greyscale. A product photo is usually the
opposite: a dark or coloured object on a white background, with a lot of
empty space around it. :func:`preprocess` bridges the two in one documented
step and returns every intermediate image (a :class:`Preprocessed`), so
scripts can show what the model actually saw.

``method="standard"`` (the default) does, in this order:

1. **Greyscale.** The image is converted to 8-bit luminance (Pillow's
   ``L``: ``0.299 R + 0.587 G + 0.114 B``). Transparency is composited on
   white first (see :func:`fashion_mnist_vis.data.images.to_rgb`).
2. **Invert.** ``invert="always"`` or ``"never"`` decide directly.
   ``invert="auto"`` inverts when the image's border is light: the median of
   the outermost ring of pixels is above :data:`LIGHT_BORDER` (127). A
   product photo on white becomes a light product on black.
   **Even light** (``flatten=True``, for images not already of the model's
   input size): the plane fitted to the border ring is subtracted, so a
   background that darkens towards one side becomes one level
   (:func:`fashion_mnist_vis.data.even_light.flatten_background`).
3. **Already prepared?** If the image already has the model's input size and
   (after step 2) a dark border, it already looks like a Fashion-MNIST item:
   it is used exactly as it is (``model_input == pixels / 255``) and steps
   4-7 are skipped.
4. **Crop** (``crop=True``). The background level is the median of the
   border ring. Pixels differing from it by more than a threshold (at least
   32 grey levels, more on a varying border, at most 96) are the object; the
   mask is median-filtered (3x3) so isolated JPEG noise does not count
   (:mod:`fashion_mnist_vis.data.object_finder`, which also measures how much
   the border varies: ``Preprocessed.background_variation``). The image is
   cropped to the object's bounding box plus a margin of
   :data:`MARGIN_FRACTION` of the box's longer side. If no object is found,
   nothing is cropped.
5. **Background to black and pad.** When the background is dark (level at
   most 127, i.e. after inversion of a photo on white), grey levels are
   stretched linearly so the background level becomes 0 and 255 stays 255:
   an off-white background turns black like Fashion-MNIST's. The crop is
   then centred on a canvas of the model's aspect ratio (a square for our
   models) filled with the background level, keeping the object's aspect
   ratio. ``crop=False`` skips step 4 but still pads.
6. **Resize** to the model's input size with a Lanczos filter (computed in
   floating point, so no extra rounding).
7. **Stretch to white** (``stretch=True``, when the background is black
   after step 5): grey levels are multiplied so the brightest pixel is 255,
   as in Fashion-MNIST's items, by at most 5
   (:mod:`fashion_mnist_vis.data.white_point`). Then **scale** to [0, 1].
   A 3-channel model gets the grey channel three times.

``method="original"`` reproduces the original demo's transform exactly:
greyscale, bicubic resize to the input size (8-bit), divide by 255. No
inversion, no crop, no padding.

The input size and channel count always come from ``input_shape``, which
callers read from the loaded model (``model.input_shape``); nothing here
assumes 28 x 28 x 1.
"""

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.data.images import to_rgb
from fashion_mnist_vis.data.even_light import flatten_background
from fashion_mnist_vis.data.white_point import white_stretch_factor
from fashion_mnist_vis.data.object_finder import border_level, locate_object

INVERT_CHOICES = ("auto", "always", "never")
"""Accepted values of ``preprocess(invert=...)``, the commands offer them as choices."""

METHOD_CHOICES = ("standard", "original")
"""Accepted values of ``preprocess(method=...)``, the commands offer them as choices."""

LIGHT_BORDER = 127
"""``invert="auto"`` inverts when the median border grey level is above this."""

MARGIN_FRACTION = 0.04
"""Margin kept around the object's bounding box, as a fraction of its longer side.

Fashion-MNIST items nearly touch the frame (Zalando trimmed each product
and scaled its longer side to 28 pixels), so the margin is small: about one
pixel at 28 x 28.
"""


@dataclass(frozen=True, eq=False)
class Preprocessed:
    """Every stage of :func:`preprocess`, for classification and for plots.

    All arrays are read-only.

    Attributes:
        greyscale: uint8 array (H, W): the input image in greyscale, original size.
        inverted: whether the grey levels were inverted (``255 - v``).
        prepared: uint8 array (h, w): the image after inversion, crop, background
            levelling and padding, just before the resize; its aspect ratio is the
            model's (square for a square input). For ``method="original"`` it is
            ``greyscale`` itself.
        model_input: float32 array of exactly ``input_shape`` (height, width,
            channels), values in [0, 1]. Add a batch axis
            (``model_input[None]``) to predict.
        crop_box: (left, top, right, bottom) of the region of ``greyscale`` kept
            by the crop (right and bottom exclusive), or None when nothing was
            cropped.
        background: grey level (0..255) of the background in ``prepared``; also
            the value used for padding.
        passed_through: True when the image already had the model's input size
            and a dark border and was used unchanged (step 3).
        canvas_box: (left, top, right, bottom) of ``prepared`` in ``greyscale``
            coordinates (right and bottom exclusive; may reach past the image
            where padding was added), so a map over the model input can be
            placed back on the photo. None when ``prepared`` covers exactly the
            whole image (``method="original"``, passed through, or nothing
            cropped and no padding).
        method: "standard" or "original".
        stretch_factor: what step 7 multiplied the grey levels by (1.0 when nothing was
            stretched): ``model_input / stretch_factor`` is the input before the stretch.
        background_variation: how much the photo's border varies around its background level
            (grey levels 0..255, :mod:`fashion_mnist_vis.data.object_finder`): above
            :data:`~fashion_mnist_vis.data.object_finder.PLAIN_BACKGROUND_LIMIT` (20) the photo has no
            plain background. None when no background was analysed (passed through, ``method="original"``).
    """

    greyscale: np.ndarray
    inverted: bool
    prepared: np.ndarray
    model_input: np.ndarray
    crop_box: Optional[Tuple[int, int, int, int]] = None
    background: int = 0
    passed_through: bool = False
    method: str = "standard"
    canvas_box: Optional[Tuple[int, int, int, int]] = None
    stretch_factor: float = 1.0
    background_variation: Optional[float] = None

    @property
    def unstretched_input(self) -> np.ndarray:
        """float32 like ``model_input``: the model input before step 7's stretch to white, which is
        what the unfamiliarity's input checks read (how bright the photo's item itself is)."""
        if self.stretch_factor == 1.0:
            return self.model_input
        return (self.model_input / np.float32(self.stretch_factor)).astype(np.float32)


def preprocess(
    image: Image.Image,
    input_shape: Sequence[Optional[int]] = (28, 28, 1),
    invert: str = "auto",
    crop: bool = True,
    method: str = "standard",
    flatten: bool = True,
    stretch: bool = True,
) -> Preprocessed:
    """Prepare ``image`` for a model with ``input_shape``; see the module docstring.

    Args:
        image: a PIL image in any mode (as returned by
            :func:`fashion_mnist_vis.data.images.load_image`).
        input_shape: the model's input shape ``(height, width, channels)``;
            ``model.input_shape`` with its leading batch ``None`` is accepted
            too. ``channels`` must be 1 or 3.
        invert: "auto", "always" or "never" (see :data:`INVERT_CHOICES`).
            Ignored by ``method="original"``.
        crop: crop to the object before padding. Ignored by
            ``method="original"``.
        method: "standard" or "original" (see :data:`METHOD_CHOICES`).
        flatten: subtract the plane fitted to the border (uneven light, step 2b).
            Ignored by ``method="original"``.
        stretch: stretch the grey levels so the brightest pixel is white (step 7).
            Ignored by ``method="original"`` and for an image passed through (step 3).

    Returns:
        A :class:`Preprocessed` whose ``model_input`` is float32, shape
        ``(height, width, channels)``, values in [0, 1].

    Raises:
        ValueError: ``invert`` or ``method`` is not one of the accepted values.
        UserError: ``input_shape`` is not (height, width, 1 or 3), or the
            image has zero width or height.
        TypeError: ``image`` is not a PIL image.
    """
    height, width, channels = _check_arguments(image, input_shape, invert, method)
    grey_image = image if image.mode == "L" else to_rgb(image).convert("L")
    greyscale = np.array(grey_image, dtype=np.uint8)

    if method == "original":
        resized = np.asarray(grey_image.resize((width, height), Image.Resampling.BICUBIC))
        return _result(greyscale, False, greyscale, _scale(resized, channels), method=method)

    return _prepare_standard(greyscale, (height, width, channels), invert, crop, flatten, stretch)


def _prepare_standard(greyscale: np.ndarray, input_shape: Tuple[int, int, int], invert: str, crop: bool,
                      flatten: bool, stretch: bool) -> Preprocessed:
    """Steps 2 to 7 of the module docstring (``method="standard"``) on ``greyscale``, uint8 (H, W):
    invert (and even the light), crop to the object, pad to the model's aspect ratio, resize to
    ``input_shape`` (height, width, channels) and stretch to white."""
    height, width, channels = input_shape
    inverted = invert == "always" or (invert == "auto" and border_level(greyscale) > LIGHT_BORDER)
    work = 255 - greyscale if inverted else greyscale
    if flatten and work.shape != (height, width):
        work = flatten_background(work)
    background = border_level(work)

    if work.shape == (height, width) and background <= LIGHT_BORDER:
        return _result(
            greyscale, inverted, work, _scale(work, channels),
            background=background, passed_through=True,
        )

    height_px, width_px = work.shape
    located = locate_object(work, background)
    box, object_box, margin = _crop_boxes(work, located.box if crop else None)
    region = work[box[1]:box[3], box[0]:box[2]]

    if 0 < background <= LIGHT_BORDER:
        region = _level_background(region, background)
        background = 0

    prepared = _pad_to_aspect(region, box, object_box, margin, width / height, background)
    canvas_box = _canvas_box(prepared.shape, region.shape, box, object_box)
    if box == (0, 0, width_px, height_px):
        box = None
    if canvas_box == (0, 0, width_px, height_px):
        canvas_box = None
    resized = np.clip(_resize(prepared, height, width), 0.0, 255.0)
    factor = white_stretch_factor(resized) if stretch and background == 0 else 1.0
    return _result(
        greyscale, inverted, prepared, _scale(resized * factor, channels),
        crop_box=box, background=background, canvas_box=canvas_box, stretch_factor=factor,
        background_variation=located.background_variation,
    )


def _check_arguments(image, input_shape, invert: str, method: str) -> Tuple[int, int, int]:
    """(height, width, channels) of ``input_shape``, after checking :func:`preprocess`'s arguments."""
    if invert not in INVERT_CHOICES:
        raise ValueError(f"invert must be one of {', '.join(INVERT_CHOICES)}; got {invert!r}")
    if method not in METHOD_CHOICES:
        raise ValueError(f"method must be one of {', '.join(METHOD_CHOICES)}; got {method!r}")
    shape = check_input_shape(input_shape)
    if not isinstance(image, Image.Image):
        raise TypeError(f"image must be a PIL.Image.Image, not {type(image).__name__}")
    if image.width <= 0 or image.height <= 0:
        raise UserError(f"cannot preprocess an image of zero size ({image.width}x{image.height} pixels)")
    return shape


def _crop_boxes(work: np.ndarray, object_box: Optional[Tuple[int, int, int, int]]):
    """(crop box with margin, object box, margin) in ``work``'s pixels, boxes as (left, top, right, bottom).

    Without an ``object_box`` (no crop, or no object found) it is the whole image and the margin 0.
    """
    height_px, width_px = work.shape
    if object_box is None:
        object_box, margin = (0, 0, width_px, height_px), 0
    else:
        left, top, right, bottom = object_box
        margin = int(round(MARGIN_FRACTION * max(right - left, bottom - top)))
    left, top, right, bottom = object_box
    box = (
        max(0, left - margin), max(0, top - margin),
        min(width_px, right + margin), min(height_px, bottom + margin),
    )
    return box, object_box, margin


def _resize(prepared: np.ndarray, height: int, width: int) -> np.ndarray:
    """float64 (height, width): ``prepared`` as it is if it has that shape, else Lanczos-resized."""
    if prepared.shape == (height, width):
        return prepared.astype(np.float64)
    resized = Image.fromarray(prepared.astype(np.float32)).resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.float64)


def check_input_shape(input_shape: Sequence[Optional[int]]) -> Tuple[int, int, int]:
    """Return ``(height, width, channels)`` from a model input shape, or raise UserError.

    Accepts ``(height, width, channels)`` or Keras's ``(None, height, width,
    channels)``. Height and width must be positive integers and channels 1
    (greyscale) or 3 (RGB).
    """
    shape = tuple(input_shape)
    if len(shape) == 4 and shape[0] is None:
        shape = shape[1:]
    problem = None
    if len(shape) != 3:
        problem = f"expected (height, width, channels), got {len(shape)} dimensions"
    elif not all(isinstance(size, (int, np.integer)) and size > 0 for size in shape):
        problem = "height, width and channels must be fixed positive integers"
    elif shape[2] not in (1, 3):
        problem = f"images have 1 (greyscale) or 3 (RGB) channels, not {shape[2]}"
    if problem:
        raise UserError(f"unsupported model input shape {tuple(input_shape)}: {problem}")
    return int(shape[0]), int(shape[1]), int(shape[2])


def _level_background(region: np.ndarray, background: int) -> np.ndarray:
    """Stretch grey levels linearly so ``background`` maps to 0 and 255 stays 255."""
    scaled = (region.astype(np.float64) - background) * (255.0 / (255 - background))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _pad_to_aspect(region, box, object_box, margin, aspect, background) -> np.ndarray:
    """Centre the object on a canvas of width/height ``aspect`` filled with ``background``.

    ``region`` is the crop ``box`` of the image: ``object_box`` grown by
    ``margin`` on each side and clipped to the image. The canvas is just big
    enough for the object plus its margin (so an object touching the image
    edge still gets a margin of background) and the object's box is centred
    on it; the object keeps its aspect ratio.
    """
    left, top, right, bottom = object_box
    need_w, need_h = right - left + 2 * margin, bottom - top + 2 * margin
    if need_w / need_h >= aspect:
        canvas_w, canvas_h = need_w, max(need_h, int(round(need_w / aspect)))
    else:
        canvas_w, canvas_h = max(need_w, int(round(need_h * aspect))), need_h
    if (canvas_h, canvas_w) == region.shape:
        return region.copy()
    canvas = np.full((canvas_h, canvas_w), background, dtype=np.uint8)
    # Canvas pixel (0, 0) sits at image position (origin_x, origin_y).
    origin_x = (left + right - canvas_w) // 2
    origin_y = (top + bottom - canvas_h) // 2
    x, y = box[0] - origin_x, box[1] - origin_y
    canvas[y:y + region.shape[0], x:x + region.shape[1]] = region
    return canvas


def _canvas_box(canvas_shape, region_shape, box, object_box) -> Tuple[int, int, int, int]:
    """Where :func:`_pad_to_aspect`'s canvas lies in image coordinates (left, top, right, bottom)."""
    canvas_h, canvas_w = canvas_shape
    if tuple(canvas_shape) == tuple(region_shape):  # no padding: the canvas is the crop itself
        left, top = box[0], box[1]
    else:
        left = (object_box[0] + object_box[2] - canvas_w) // 2
        top = (object_box[1] + object_box[3] - canvas_h) // 2
    return int(left), int(top), int(left + canvas_w), int(top + canvas_h)


def _scale(pixels: np.ndarray, channels: int) -> np.ndarray:
    """uint8-range values (H, W) -> float32 (H, W, channels) in [0, 1]."""
    values = (np.clip(pixels.astype(np.float64), 0.0, 255.0) / 255.0).astype(np.float32)
    return np.repeat(values[:, :, None], channels, axis=2)


def _result(greyscale, inverted, prepared, model_input, **extra) -> Preprocessed:
    for array in (greyscale, prepared, model_input):
        array.setflags(write=False)
    return Preprocessed(
        greyscale=greyscale, inverted=bool(inverted), prepared=prepared,
        model_input=model_input, **extra,
    )
