"""Tests for fashion_mnist_vis.data.preprocess, on images generated here with Pillow."""

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.data.white_point import MAX_STRETCH, white_stretch_factor
from fashion_mnist_vis.data.preprocess import (
    INVERT_CHOICES,
    METHOD_CHOICES,
    Preprocessed,
    check_input_shape,
    preprocess,
)


def fashion_item(kind: str, seed: int = 0) -> np.ndarray:
    """A 28x28 uint8 image that looks like a Fashion-MNIST item: bright shape on near-black."""
    rng = np.random.default_rng(seed)
    image = Image.new("L", (28, 28), 0)
    draw = ImageDraw.Draw(image)
    if kind == "shirt":
        draw.polygon([(4, 5), (10, 2), (18, 2), (24, 5), (26, 11), (21, 12), (21, 26), (7, 26), (7, 12), (2, 11)], fill=190)
        draw.line([(10, 2), (14, 6), (18, 2)], fill=120, width=1)
    elif kind == "trouser":
        draw.polygon([(9, 1), (19, 1), (20, 27), (15, 27), (14, 9), (13, 27), (8, 27)], fill=150)
    elif kind == "bag":
        draw.rectangle([3, 9, 24, 26], fill=210)
        draw.arc([8, 2, 20, 16], 180, 360, fill=230, width=2)
    elif kind == "boot":
        draw.polygon([(6, 2), (15, 2), (15, 15), (26, 20), (26, 26), (3, 26), (5, 14)], fill=170)
    else:
        raise ValueError(kind)
    pixels = np.asarray(image).astype(np.int16)
    texture = rng.integers(-25, 26, pixels.shape)
    pixels = np.where(pixels > 0, pixels + texture, rng.integers(0, 3, pixels.shape))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def product_photo(size=(300, 200), box=(60, 40, 150, 170), object_level=40, background=245, jpeg_quality=None, specks=False):
    """A dark object (a rectangle at ``box``) on a light background, like a product photo."""
    image = Image.new("L", size, background)
    ImageDraw.Draw(image).rectangle(box, fill=object_level)
    if specks:  # isolated noise pixels far from the object
        for x, y in ((5, 5), (size[0] - 7, 9), (size[0] - 12, size[1] - 6), (20, size[1] - 15)):
            image.putpixel((x, y), background - 90)
    if jpeg_quality:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=jpeg_quality)
        image = Image.open(buffer)
        image.load()
    return image.convert("RGB")


def bright_box(model_input: np.ndarray, threshold: float = 0.25):
    """(top, bottom, left, right) inclusive of pixels above ``threshold`` in the first channel."""
    mask = model_input[:, :, 0] > threshold
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


# ------------------------------------------------------ Fashion-MNIST items


@pytest.mark.parametrize("kind", ["shirt", "trouser", "bag", "boot"])
@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_fashion_mnist_like_item_passes_through_unchanged(kind, mode):
    pixels = fashion_item(kind)
    assert pixels[0].max() < 10 and pixels[:, 0].max() < 10  # dark border
    result = preprocess(Image.fromarray(pixels).convert(mode))
    assert result.passed_through
    assert not result.inverted
    assert result.model_input.dtype == np.float32
    assert result.model_input.shape == (28, 28, 1)
    np.testing.assert_array_equal(result.model_input[:, :, 0], (pixels / 255).astype(np.float32))
    np.testing.assert_array_equal(result.prepared, pixels)
    np.testing.assert_array_equal(result.greyscale, pixels)
    assert result.crop_box is None


def test_pass_through_with_keras_input_shape_and_three_channels():
    pixels = fashion_item("boot", seed=3)
    result = preprocess(Image.fromarray(pixels), input_shape=(None, 28, 28, 3))
    assert result.model_input.shape == (28, 28, 3)
    for channel in range(3):
        np.testing.assert_array_equal(result.model_input[:, :, channel], (pixels / 255).astype(np.float32))


def test_crop_false_still_passes_through():
    pixels = fashion_item("bag")
    result = preprocess(Image.fromarray(pixels), crop=False)
    np.testing.assert_array_equal(result.model_input[:, :, 0], (pixels / 255).astype(np.float32))


def test_inverted_fashion_item_is_restored_exactly():
    pixels = fashion_item("shirt")
    result = preprocess(Image.fromarray(255 - pixels))  # dark shirt on white
    assert result.inverted and result.passed_through
    np.testing.assert_array_equal(result.model_input[:, :, 0], (pixels / 255).astype(np.float32))


# ---------------------------------------------------------- product photos


def test_product_photo_on_white_becomes_light_on_black_cropped_and_centred():
    result = preprocess(product_photo())
    assert result.inverted
    assert result.greyscale.shape == (200, 300)
    assert result.prepared.dtype == np.uint8
    assert result.prepared.shape[0] == result.prepared.shape[1]  # padded to a square
    assert result.background == 0
    x = result.model_input[:, :, 0]
    assert x.dtype == np.float32 and x.shape == (28, 28)
    assert 0.0 <= x.min() and x.max() <= 1.0
    # Background (off-white 245) is black after inversion and levelling.
    assert x[0, 0] == 0.0 and x[-1, -1] == 0.0
    # The object (grey 40 -> 215 inverted, levelled -> ~214) is bright, and stretched to white:
    # the brightest pixel (the Lanczos filter overshoots a little at the edges) becomes 1.0.
    unstretched = result.unstretched_input[:, :, 0]
    assert unstretched[14, 14] == pytest.approx(214 / 255, abs=0.02)
    assert result.stretch_factor == pytest.approx(1.0 / unstretched.max(), rel=1e-5)
    assert 1.1 < result.stretch_factor < 1.25
    assert x.max() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(x, unstretched * result.stretch_factor, atol=1e-6)
    # Cropped: the object's longer side (131 px tall) spans nearly all 28 rows,
    # keeping its aspect ratio (91 x 131 -> about 19 x 27 pixels) and centred.
    top, bottom, left, right = bright_box(result.model_input, 0.5)
    assert top <= 1 and bottom >= 26
    assert 17 <= right - left + 1 <= 21
    assert abs((left + right) / 2 - 13.5) <= 1
    # The crop box is the object's box plus a small margin, in greyscale coordinates.
    crop_left, crop_top, crop_right, crop_bottom = result.crop_box
    assert 50 <= crop_left <= 60 and 30 <= crop_top <= 40
    assert 151 <= crop_right <= 161 and 171 <= crop_bottom <= 181


def test_stretch_false_keeps_the_levelled_grey_of_the_object():
    result = preprocess(product_photo(), stretch=False)
    assert result.stretch_factor == 1.0
    assert result.model_input[14, 14, 0] == pytest.approx(214 / 255, abs=0.02)
    assert result.unstretched_input is result.model_input


def test_a_grey_background_photo_is_stretched_as_far_as_a_white_background_one():
    # The same dark object on white and on mid-grey: after inversion and levelling the object is
    # dimmer on grey (its contrast with the background is lower); the stretch brings both to white.
    on_white = preprocess(product_photo(background=245))
    on_grey = preprocess(product_photo(background=150))
    assert on_grey.unstretched_input.max() < on_white.unstretched_input.max() - 0.1
    assert on_white.model_input.max() == pytest.approx(1.0) and on_grey.model_input.max() == pytest.approx(1.0)
    assert abs(on_grey.model_input[14, 14, 0] - on_white.model_input[14, 14, 0]) < 0.05


def test_white_stretch_factor_by_hand():
    assert white_stretch_factor(np.array([0.0, 102.0, 204.0])) == pytest.approx(1.25)
    assert white_stretch_factor(np.array([[20.0]])) == MAX_STRETCH
    assert white_stretch_factor(np.array([0.0, 255.0])) == 1.0
    assert white_stretch_factor(np.zeros((3, 3))) == 1.0


def test_a_nearly_empty_image_is_stretched_at_most_max_stretch():
    faint = np.zeros((100, 100), dtype=np.uint8)
    faint[30:70, 40:60] = 20  # barely above the black background
    result = preprocess(Image.fromarray(faint), invert="never")
    assert result.stretch_factor == pytest.approx(MAX_STRETCH)
    assert result.model_input.max() == pytest.approx(MAX_STRETCH * result.unstretched_input.max(), rel=1e-5)
    assert result.model_input.max() < 0.5
    black = preprocess(Image.fromarray(np.zeros((100, 100), dtype=np.uint8)), invert="never")
    assert black.stretch_factor == 1.0 and black.model_input.max() == 0.0


def test_crop_is_robust_to_jpeg_noise_and_specks():
    clean = preprocess(product_photo())
    noisy = preprocess(product_photo(jpeg_quality=40, specks=True))
    assert noisy.inverted
    np.testing.assert_allclose(noisy.crop_box, clean.crop_box, atol=3)
    np.testing.assert_allclose(noisy.model_input, clean.model_input, atol=0.08)


def test_wide_object_keeps_aspect_ratio():
    result = preprocess(product_photo(size=(400, 300), box=(50, 120, 349, 179)))  # 300 x 60
    top, bottom, left, right = bright_box(result.model_input, 0.5)
    assert left <= 1 and right >= 26
    assert 4 <= bottom - top + 1 <= 7
    assert abs((top + bottom) / 2 - 13.5) <= 1


def test_large_photo_is_handled(tmp_path):
    result = preprocess(product_photo(size=(3000, 2000), box=(1000, 300, 1600, 1700)))
    top, bottom, left, right = bright_box(result.model_input, 0.5)
    assert top <= 1 and bottom >= 26
    assert abs((left + right) / 2 - 13.5) <= 1


def test_crop_false_pads_without_cropping():
    # Object in the left part of a wide image.
    result = preprocess(product_photo(size=(200, 100), box=(10, 20, 59, 79)), crop=False)
    assert result.crop_box is None
    assert result.prepared.shape == (200, 200)
    # Padding rows above and below use the background value (black after levelling).
    assert result.prepared[:50].max() == 0 and result.prepared[150:].max() == 0
    top, bottom, left, right = bright_box(result.model_input, 0.5)
    assert right < 14  # the object stays on the left


def test_blank_image_gives_blank_input():
    result = preprocess(Image.new("RGB", (64, 48), (250, 250, 250)))
    assert result.inverted
    assert result.crop_box is None
    assert result.model_input.max() == 0.0


def test_transparent_cutout_is_treated_as_on_white():
    cutout = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(cutout).ellipse((30, 20, 70, 80), fill=(20, 20, 20, 255))
    result = preprocess(cutout)
    assert result.inverted
    assert result.model_input[0, 0, 0] == 0.0
    assert result.model_input[14, 14, 0] > 0.8


def test_tiny_image():
    result = preprocess(Image.new("RGB", (1, 1), (255, 255, 255)))
    assert result.model_input.shape == (28, 28, 1)
    assert result.model_input.max() == 0.0


# ------------------------------------------------------------ invert choices


def test_invert_never_keeps_light_background():
    result = preprocess(product_photo(), invert="never")
    assert not result.inverted
    assert result.background == 245
    assert result.model_input[0, 0, 0] == pytest.approx(245 / 255, abs=1e-3)
    assert result.model_input[14, 14, 0] == pytest.approx(40 / 255, abs=0.02)


def test_invert_always_inverts_dark_image():
    pixels = fashion_item("bag")
    result = preprocess(Image.fromarray(pixels), invert="always")
    assert result.inverted
    # The inverted bag has a light border: it is cropped and padded, not passed through.
    assert not result.passed_through


def test_auto_does_not_invert_dark_background_photo():
    photo = Image.new("L", (120, 90), 15)
    ImageDraw.Draw(photo).rectangle((40, 20, 80, 70), fill=220)
    result = preprocess(photo)
    assert not result.inverted
    assert result.model_input[0, 0, 0] == 0.0


# ------------------------------------------------------------ input shapes


def test_non_square_three_channel_model():
    result = preprocess(product_photo(), input_shape=(32, 48, 3))
    assert result.model_input.shape == (32, 48, 3)
    assert result.model_input.dtype == np.float32
    height, width = result.prepared.shape
    assert abs(width / height - 48 / 32) < 0.02
    np.testing.assert_array_equal(result.model_input[:, :, 0], result.model_input[:, :, 2])


@pytest.mark.parametrize("shape", [(28, 28, 2), (28, 28, 4), (28, 28), (1, 28, 28, 1), (None, None, 1), (0, 28, 1), (28.0, 28, 1)])
def test_bad_input_shape(shape):
    with pytest.raises(UserError, match="input shape"):
        preprocess(product_photo(), input_shape=shape)


def test_check_input_shape_accepts_keras_shape():
    assert check_input_shape((None, 32, 32, 3)) == (32, 32, 3)
    assert check_input_shape([28, 28, 1]) == (28, 28, 1)


def test_bad_invert_value():
    with pytest.raises(ValueError, match="sometimes"):
        preprocess(product_photo(), invert="sometimes")


def test_bad_method_value():
    with pytest.raises(ValueError, match="fancy"):
        preprocess(product_photo(), method="fancy")


def test_choices_constants():
    assert INVERT_CHOICES == ("auto", "always", "never")
    assert METHOD_CHOICES == ("standard", "original")


def test_not_an_image():
    with pytest.raises(TypeError):
        preprocess(np.zeros((28, 28)))


def test_zero_size_image():
    with pytest.raises(UserError, match="zero size"):
        preprocess(Image.new("L", (0, 5)))


# ------------------------------------------------------- the original demo


def test_original_method_reproduces_the_demo_exactly():
    photo = product_photo(jpeg_quality=80)
    result = preprocess(photo, method="original")
    expected = np.asarray(photo.convert("L").resize((28, 28), Image.BICUBIC)) / 255.0
    np.testing.assert_array_equal(result.model_input[:, :, 0], expected.astype(np.float32))
    assert not result.inverted
    assert result.crop_box is None
    np.testing.assert_array_equal(result.prepared, np.asarray(photo.convert("L")))


def test_original_method_ignores_invert_and_crop():
    photo = product_photo()
    a = preprocess(photo, method="original", invert="always", crop=True)
    b = preprocess(photo, method="original", invert="never", crop=False)
    np.testing.assert_array_equal(a.model_input, b.model_input)


# ----------------------------------------------------------- result object


def test_result_is_frozen_and_read_only():
    result = preprocess(product_photo())
    assert isinstance(result, Preprocessed)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.inverted = False
    for array in (result.greyscale, result.prepared, result.model_input):
        with pytest.raises(ValueError):
            array[0, 0] = 1


def test_background_variation_of_a_product_photo_and_of_a_busy_one():
    """A product photo's border is even (variation 0); an item on a texture is not: the texture's grey
    levels are uniform in 60..200, so the border differs from its median (about 130) by about 35."""
    assert preprocess(product_photo()).background_variation == 0.0
    rng = np.random.default_rng(0)
    busy = rng.integers(60, 201, (240, 240)).astype(np.uint8)
    busy[70:170, 90:150] = 255
    variation = preprocess(Image.fromarray(busy)).background_variation
    assert variation == pytest.approx(35, abs=3)


def test_background_variation_is_none_where_no_photo_was_analysed():
    assert preprocess(Image.fromarray(fashion_item("shirt"))).background_variation is None  # passed through
    assert preprocess(product_photo(), method="original").background_variation is None
    assert preprocess(product_photo(), crop=False).background_variation == 0.0  # measured without a crop too
