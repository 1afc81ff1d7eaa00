"""Array helpers (tiling, resizing, placing maps on photos, overlays) and the plot functions."""

import io

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image, ImageDraw

from fashion_mnist_vis.visualize import layer_plots
from fashion_mnist_vis.explain.cam import CAM, CamResult
from fashion_mnist_vis.data.preprocess import preprocess


def test_grid_shape():
    assert layer_plots.grid_shape(64) == (8, 8)
    assert layer_plots.grid_shape(10) == (3, 4)
    assert layer_plots.grid_shape(1) == (1, 1)
    assert layer_plots.grid_shape(50) == (7, 8)


def test_tile_channels_by_hand():
    maps = np.zeros((2, 2, 3), np.float32)
    maps[:, :, 0] = [[0, 1], [2, 4]]  # scaled by its own range: /4
    maps[:, :, 1] = [[-1, -1], [1, 1]]  # -1..1 -> 0..1
    maps[:, :, 2] = 7.0  # constant -> 0
    grid = layer_plots.tile_channels(maps, columns=2, gap=1)
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
    resized = layer_plots.resize_map(heatmap, (10, 6))
    assert resized.shape == (6, 10)
    assert resized.min() >= 0.0 and resized.max() <= 1.0
    assert resized[0, -1] == resized.max() and resized[-1, 0] == resized.min()


def test_place_on_canvas_with_padding_outside_the_photo():
    heatmap = np.ones((2, 2), np.float32)
    placed = layer_plots.place_on_canvas(heatmap, (10, 8), (-2, 2, 6, 10))  # 8x8 canvas, partly outside
    assert placed.shape == (8, 10)
    assert np.isnan(placed[:2]).all() and np.isnan(placed[:, 6:]).all()
    np.testing.assert_array_equal(placed[2:, :6], 1.0)
    whole = layer_plots.place_on_canvas(heatmap, (10, 8), None)
    assert np.isfinite(whole).all() and whole.shape == (8, 10)


def test_overlay_blends_only_where_there_is_a_map():
    image = np.full((2, 2), 0.5, np.float32)
    heatmap = np.array([[1.0, np.nan], [0.0, np.nan]], np.float32)
    blended = layer_plots.overlay(image, heatmap, alpha=0.5, cmap="gray")
    np.testing.assert_allclose(blended[0, 0], 0.75)  # white at half opacity over grey
    np.testing.assert_allclose(blended[1, 0], 0.25)  # black
    np.testing.assert_allclose(blended[:, 1], 0.5)  # untouched
    with pytest.raises(ValueError, match="differ in size"):
        layer_plots.overlay(image, np.zeros((3, 3)))


def test_cam_lands_on_the_object_in_the_photo():
    """A map that is hot where the model input shows the object is hot on the object in the photo."""
    photo = Image.new("RGB", (400, 300), (250, 250, 250))
    ImageDraw.Draw(photo).rectangle((250, 60, 329, 219), fill=(20, 20, 20))  # 80 x 160, right of centre
    prepared = preprocess(photo, (28, 28, 1))
    assert prepared.canvas_box is not None
    heatmap = (prepared.model_input[:, :, 0] > 0.5).astype(np.float32)  # hot exactly on the object
    placed = layer_plots.place_on_canvas(heatmap, photo.size, prepared.canvas_box)
    hot = np.argwhere(placed > 0.5)
    (top, left), (bottom, right) = hot.min(axis=0), hot.max(axis=0)
    assert abs(left - 250) <= 8 and abs(right - 329) <= 8, (left, right)
    assert abs(top - 60) <= 8 and abs(bottom - 219) <= 8, (top, bottom)
    assert np.isnan(placed[:, :150]).all()  # far left of the photo: outside the model's input


def test_canvas_box_is_none_when_the_model_input_is_the_whole_image():
    item = Image.fromarray(np.pad(np.full((20, 20), 200, np.uint8), 4))
    assert preprocess(item, (28, 28, 1)).canvas_box is None  # passed through
    assert preprocess(Image.new("RGB", (50, 40), "white"), (28, 28, 1), method="original").canvas_box is None


def _png_pixels(figure: Figure) -> np.ndarray:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60)
    with Image.open(buffer) as image:
        return np.asarray(image.convert("L"))


def test_plot_functions_return_figures_with_content():
    rng = np.random.default_rng(0)
    model_input = rng.random((28, 28, 1), dtype=np.float32)
    result = CamResult(CAM, "conv", 3, rng.random((3, 3), dtype=np.float32))
    photo = Image.new("RGB", (120, 80), (200, 180, 160))
    figures = [
        layer_plots.plot_channel_grid(rng.random((5, 5, 10)), "conv2d", "Conv2D"),
        layer_plots.plot_vector(rng.normal(size=64), "gap", "channel", "average activation"),
        layer_plots.plot_probabilities(np.full(10, 0.1), "dense", highlight=2),
        layer_plots.plot_model_input(model_input),
        layer_plots.plot_photo(photo, "photo"),
        layer_plots.plot_cam(result, model_input, "Dress"),
        layer_plots.plot_cam_on_photo(result.heatmap, photo, (10, -5, 100, 85), "cam"),
        layer_plots.plot_cam_comparison([result, result], model_input, "Dress"),
    ]
    for figure in figures:
        assert isinstance(figure, Figure)
        assert _png_pixels(figure).std() > 10


def test_one_panel_plots_draw_into_a_given_axes():
    figure = Figure()
    axes = figure.subplots(1, 2)
    assert layer_plots.plot_vector(np.arange(5.0), "t", "x", "y", ax=axes[0]) is figure
    assert layer_plots.plot_channel_grid(np.ones((3, 3, 4)), "c", "Conv2D", ax=axes[1]) is figure


def test_map_correlation():
    first = np.array([[0.0, 1.0], [0.5, 0.2]])
    assert layer_plots.map_correlation(first, 2 * first) == pytest.approx(1.0)
    assert np.isnan(layer_plots.map_correlation(first, np.zeros((2, 2))))


def test_channel_grid_figure_reuses_one_figure_and_leaks_nothing_between_layers():
    """Each grid drawn into the reused figure is pixel for pixel the grid drawn in a new figure."""
    rng = np.random.default_rng(1)
    layers = [  # (maps, name, type): the first three share the 8 x 8 square layout
        (rng.random((12, 12, 64)) * 5.0, "conv2d", "Conv2D"),
        (rng.normal(size=(6, 6, 64)), "max_pooling2d", "MaxPooling2D"),
        (np.zeros((3, 3, 64)), "conv2d_1", "Conv2D"),  # constant: every tile 0
        (rng.random((4, 4, 10)), "conv2d_2", "Conv2D"),  # 3 x 4 grid: another layout
        (rng.random((5, 5, 64)), "conv2d_3", "Conv2D"),
    ]
    grids = layer_plots.ChannelGridFigure()
    figures = []
    for maps, name, layer_type in layers:
        figure = grids.plot(maps, name, layer_type)
        figures.append(figure)
        expected = _png_pixels(layer_plots.plot_channel_grid(maps, name, layer_type))
        np.testing.assert_array_equal(_png_pixels(figure), expected, err_msg=name)
    assert figures[0] is figures[1] is figures[2]
    assert figures[3] is not figures[2] and figures[4] is not figures[3]
    assert len(figures[0].axes) == 2  # the image and its colour bar, never more
