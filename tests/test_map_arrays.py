"""Array helpers: tiling channels, resizing maps, placing them on photos, overlays."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fashion_mnist_vis.data.preprocess import preprocess
from fashion_mnist_vis.visualize import map_arrays


def test_grid_shape():
    assert map_arrays.grid_shape(64) == (8, 8)
    assert map_arrays.grid_shape(10) == (3, 4)
    assert map_arrays.grid_shape(1) == (1, 1)
    assert map_arrays.grid_shape(50) == (7, 8)


def test_tile_channels_by_hand():
    maps = np.zeros((2, 2, 3), np.float32)
    maps[:, :, 0] = [[0, 1], [2, 4]]  # scaled by its own range: /4
    maps[:, :, 1] = [[-1, -1], [1, 1]]  # -1..1 -> 0..1
    maps[:, :, 2] = 7.0  # constant -> 0
    grid = map_arrays.tile_channels(maps, columns=2, gap=1)
    assert grid.shape == (5, 5)  # 2 rows x 2 columns of 2x2 tiles with a 1-pixel gap
    nan = np.nan
    expected = [
        [0.0, 0.25, nan, 0.0, 0.0],
        [0.5, 1.0, nan, 1.0, 1.0],
        [nan, nan, nan, nan, nan],
        [0.0, 0.0, nan, nan, nan],  # channel 2 (constant), then an unused tile
        [0.0, 0.0, nan, nan, nan],
    ]
    np.testing.assert_array_equal(grid, np.array(expected, np.float32))


def test_resize_map_keeps_range_and_orientation():
    heatmap = np.array([[0.0, 1.0], [0.0, 0.0]], np.float32)
    resized = map_arrays.resize_map(heatmap, (10, 6))
    assert resized.shape == (6, 10)
    assert resized.min() >= 0.0 and resized.max() <= 1.0
    assert resized[0, -1] == resized.max() and resized[-1, 0] == resized.min()


def test_place_on_canvas_with_padding_outside_the_photo():
    heatmap = np.ones((2, 2), np.float32)
    placed = map_arrays.place_on_canvas(heatmap, (10, 8), (-2, 2, 6, 10))  # 8x8 canvas, partly outside
    assert placed.shape == (8, 10)
    assert np.isnan(placed[:2]).all() and np.isnan(placed[:, 6:]).all()
    np.testing.assert_array_equal(placed[2:, :6], 1.0)
    whole = map_arrays.place_on_canvas(heatmap, (10, 8), None)
    assert np.isfinite(whole).all() and whole.shape == (8, 10)


def test_overlay_blends_only_where_there_is_a_map():
    image = np.full((2, 2), 0.5, np.float32)
    heatmap = np.array([[1.0, np.nan], [0.0, np.nan]], np.float32)
    blended = map_arrays.overlay(image, heatmap, alpha=0.5, cmap="gray")
    np.testing.assert_allclose(blended[0, 0], 0.75)  # white at half opacity over grey
    np.testing.assert_allclose(blended[1, 0], 0.25)  # black
    np.testing.assert_allclose(blended[:, 1], 0.5)  # untouched
    with pytest.raises(ValueError, match="differ in size"):
        map_arrays.overlay(image, np.zeros((3, 3)))


def test_cam_lands_on_the_object_in_the_photo():
    """A map that is hot where the model input shows the object is hot on the object in the photo."""
    photo = Image.new("RGB", (400, 300), (250, 250, 250))
    ImageDraw.Draw(photo).rectangle((250, 60, 329, 219), fill=(20, 20, 20))  # 80 x 160, right of centre
    prepared = preprocess(photo, (28, 28, 1))
    assert prepared.canvas_box is not None
    heatmap = (prepared.model_input[:, :, 0] > 0.5).astype(np.float32)  # hot exactly on the object
    placed = map_arrays.place_on_canvas(heatmap, photo.size, prepared.canvas_box)
    hot = np.argwhere(placed > 0.5)
    (top, left), (bottom, right) = hot.min(axis=0), hot.max(axis=0)
    assert abs(left - 250) <= 8 and abs(right - 329) <= 8, (left, right)
    assert abs(top - 60) <= 8 and abs(bottom - 219) <= 8, (top, bottom)
    assert np.isnan(placed[:, :150]).all()  # far left of the photo: outside the model's input


def test_canvas_box_is_none_when_the_model_input_is_the_whole_image():
    item = Image.fromarray(np.pad(np.full((20, 20), 200, np.uint8), 4))
    assert preprocess(item, (28, 28, 1)).canvas_box is None  # passed through
    assert preprocess(Image.new("RGB", (50, 40), "white"), (28, 28, 1), method="original").canvas_box is None
