"""Rendering Fashion-MNIST items as photos (fashion_mnist_vis.data.photo_render), and reading them back as
classify does."""

import numpy as np
import pytest
from PIL import Image

from fashion_mnist_vis.data.images import load_image
from fashion_mnist_vis.data.photo_render import PRODUCT, STYLES, PhotoStyle, render_photo, write_photo
from fashion_mnist_vis.data.preprocess import preprocess


def _item():
    """uint8 (28, 28): a white 10 x 12 block (rows 9..18, columns 4..15) on black, left of centre."""
    item = np.zeros((28, 28), dtype=np.uint8)
    item[9:19, 4:16] = 255
    return item


def _plain(**changes):
    """A style without anything that blurs or adds noise, so pixel values can be computed by hand."""
    settings = dict(size=(56, 56), scale=1.0, background=200.0, garment_colour=(50, 50, 50), jpeg_quality=None)
    settings.update(changes)
    return PhotoStyle(**settings)


def test_a_fully_covered_pixel_is_the_garment_colour_and_an_empty_one_the_background():
    photo = render_photo(_item(), _plain(), np.random.default_rng(0))
    assert photo.shape == (56, 56, 3) and photo.dtype == np.uint8
    # The item doubled: the block covers rows 18..37, columns 8..31; more than the Lanczos filter's
    # reach (3 item pixels) inside it, exactly the garment colour.
    np.testing.assert_array_equal(photo[27, 20], [50, 50, 50])
    np.testing.assert_array_equal(photo[5, 45], [200, 200, 200])


def test_mirror_moves_the_block_to_the_other_side():
    photo = render_photo(_item(), _plain(mirror=True), np.random.default_rng(0))
    # Mirrored, the block covers columns 24..47 (56 - 32 .. 56 - 8).
    np.testing.assert_array_equal(photo[27, 35], [50, 50, 50])
    np.testing.assert_array_equal(photo[27, 10], [200, 200, 200])


def test_the_gradient_rises_by_its_size_across_the_photo():
    photo = render_photo(np.zeros((28, 28), np.uint8), _plain(gradient=56.0), np.random.default_rng(0))
    # Column x has 200 + 56 * (x - 27.5) / 56: 172.5 at x = 0 (rounded to even: 172) and 227.5 at x = 55.
    assert photo[0, 0, 0] in (172, 173) and photo[0, 55, 0] in (227, 228)
    assert photo[10, 28, 0] == 200  # 200 + 0.5 -> 200 (round half to even)


def test_offset_shadow_and_scale_move_and_darken_as_stated():
    small = render_photo(_item(), _plain(scale=0.5), np.random.default_rng(0))
    assert (small[:, :, 0] < 200).sum() == 10 * 12  # at half of 56 px the item keeps its 28 px: the block as it is
    moved = render_photo(_item(), _plain(scale=0.5, offset=(0.25, 0.0)), np.random.default_rng(0))
    np.testing.assert_array_equal(np.argwhere(moved[:, :, 0] < 200), np.argwhere(small[:, :, 0] < 200) + [0, 14])
    shaded = render_photo(_item(), _plain(shadow=0.5), np.random.default_rng(0))
    below_right = shaded[38:41, 20:23, 0]  # just outside the block, where the shadow falls
    assert below_right.min() < 200 and below_right.min() >= 100


def test_the_same_seed_gives_the_same_photo_and_noise_differs_by_seed():
    style = STYLES["as taken"]
    first = render_photo(_item(), style, np.random.default_rng(5))
    again = render_photo(_item(), style, np.random.default_rng(5))
    other = render_photo(_item(), style, np.random.default_rng(6))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("bad", [dict(scale=0.0), dict(shadow=1.5), dict(jpeg_quality=0), dict(size=(4, 40))])
def test_bad_styles_are_refused(bad):
    with pytest.raises(ValueError):
        PhotoStyle(**bad)


def test_a_written_photo_reads_back_through_classify_path_as_the_item(tmp_path):
    """A product photo of the block, as JPEG, becomes (after inversion, crop, padding) a light block on black."""
    path = write_photo(render_photo(_item(), PRODUCT, np.random.default_rng(0)), tmp_path / "block", PRODUCT)
    assert path.suffix == ".jpg" and path.is_file()
    prepared = preprocess(load_image(path), (28, 28, 1))
    assert prepared.inverted
    image = prepared.model_input[:, :, 0]
    assert image[14, 14] > 0.75  # garment colour 38..52 on 238: about 195 of 238 after inversion and levelling
    assert image[0].max() < 0.1 and image[-1].max() < 0.1  # the block is wider than tall: black above and below
    png = write_photo(np.zeros((10, 10, 3), np.uint8), tmp_path / "flat", _plain())
    assert png.suffix == ".png" and Image.open(png).format == "PNG"
