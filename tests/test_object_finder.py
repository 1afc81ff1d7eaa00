"""Tests for fashion_mnist_vis.data.object_finder: the item's box and how much a photo's border varies."""

import numpy as np

from fashion_mnist_vis.data.object_finder import (
    MAX_OBJECT_CONTRAST,
    MIN_OBJECT_CONTRAST,
    PLAIN_BACKGROUND_LIMIT,
    border_level,
    border_ring,
    contrast_threshold,
    locate_object,
)


def test_contrast_threshold_by_hand():
    # 4 * variation + 16, between 32 and 96
    assert [contrast_threshold(v) for v in (0, 4, 10, 19.5, 20, 35)] == [32.0, 32.0, 56.0, 94.0, 96.0, 96.0]
    assert (MIN_OBJECT_CONTRAST, MAX_OBJECT_CONTRAST) == (32, 96)


def test_the_plain_background_limit_is_where_the_threshold_reaches_its_cap():
    assert PLAIN_BACKGROUND_LIMIT == 20.0
    assert contrast_threshold(PLAIN_BACKGROUND_LIMIT) == MAX_OBJECT_CONTRAST
    assert contrast_threshold(PLAIN_BACKGROUND_LIMIT - 0.5) < MAX_OBJECT_CONTRAST


def test_border_ring_and_level_by_hand():
    pixels = np.arange(16, dtype=np.uint8).reshape(4, 4)
    assert sorted(border_ring(pixels)) == [0, 1, 2, 3, 4, 7, 8, 11, 12, 13, 14, 15]
    assert border_level(pixels) == 8  # median of the 12 ring values: (7 + 8) / 2 = 7.5, rounded to even
    assert list(border_ring(np.array([[5, 6]], dtype=np.uint8))) == [5, 6]  # tiny: every pixel


def test_an_item_on_an_even_background():
    work = np.zeros((100, 120), dtype=np.uint8)
    work[20:60, 30:90] = 200
    found = locate_object(work, 0)
    assert found.box == (30, 20, 90, 60) and found.background_variation == 0.0


def test_a_border_that_varies_by_30_grey_levels_is_not_plain():
    """Pixels alternating 98 and 158 around a background level of 128 differ from it by 30 each."""
    work = np.where(np.indices((60, 60)).sum(axis=0) % 2 == 0, 98, 158).astype(np.uint8)
    work[20:40, 20:40] = 255
    found = locate_object(work, border_level(work))
    assert border_level(work) == 128 and found.background_variation == 30.0
    assert found.background_variation > PLAIN_BACKGROUND_LIMIT
    assert found.box == (20, 20, 40, 40)  # 127 grey levels of contrast still stand out above the cap of 96


def test_a_large_photo_is_analysed_box_averaged_and_mapped_back():
    work = np.zeros((1100, 1100), dtype=np.uint8)  # reduced by 3 to 367 x 367 for the analysis
    work[300:601, 450:751] = 220
    left, top, right, bottom = locate_object(work, 0).box
    assert (left, top) == (450, 300) and right >= 751 and bottom >= 601 and right - 751 < 3 and bottom - 601 < 3


def test_nothing_stands_out():
    found = locate_object(np.full((50, 50), 17, dtype=np.uint8), 17)
    assert found.box is None and found.background_variation == 0.0

