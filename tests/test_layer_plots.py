"""Plots of layer outputs: channel grids (one figure reused), activation bars, class probabilities."""

import numpy as np
from matplotlib.figure import Figure

from conftest import png_pixels
from fashion_mnist_vis.visualize import layer_plots


def test_layer_plots_return_figures_with_content():
    rng = np.random.default_rng(0)
    figures = [
        layer_plots.plot_channel_grid(rng.random((5, 5, 10)), "conv2d", "Conv2D"),
        layer_plots.plot_vector(rng.normal(size=64), "gap", "channel", "average activation"),
        layer_plots.plot_probabilities(np.full(10, 0.1), "dense", highlight=2),
    ]
    for figure in figures:
        assert isinstance(figure, Figure)
        assert png_pixels(figure).std() > 10


def test_one_panel_plots_draw_into_a_given_axes():
    figure = Figure()
    axes = figure.subplots(1, 2)
    assert layer_plots.plot_vector(np.arange(5.0), "t", "x", "y", ax=axes[0]) is figure
    assert layer_plots.plot_channel_grid(np.ones((3, 3, 4)), "c", "Conv2D", ax=axes[1]) is figure


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
        expected = png_pixels(layer_plots.plot_channel_grid(maps, name, layer_type))
        np.testing.assert_array_equal(png_pixels(figure), expected, err_msg=name)
    assert figures[0] is figures[1] is figures[2]
    assert figures[3] is not figures[2] and figures[4] is not figures[3]
    assert len(figures[0].axes) == 2  # the image and its colour bar, never more
