"""Figure layout in inches: axes positions, fitting pictures into boxes, colour bars."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from fashion_mnist_vis.visualize import figure_layout


def test_fit_in_box_keeps_the_aspect_ratio():
    assert figure_layout.fit_in_box(4.0, 2.0, 6.0, 5.0) == (6.0, 3.0)  # width-bound: scale 1.5
    assert figure_layout.fit_in_box(1.0, 2.0, 6.0, 5.0) == (2.5, 5.0)  # height-bound: scale 2.5


def test_axes_and_colour_bars_sit_where_the_inches_say():
    figure = Figure(figsize=(8.0, 4.0))
    ax = figure_layout.axes_in_inches(figure, 1.0, 0.5, 4.0, 2.0)
    assert ax.get_position().bounds == pytest.approx((0.125, 0.125, 0.5, 0.5))
    colorbar = figure_layout.add_colorbar(figure, figure_layout.heat_mappable(), 5.2, 0.5, 2.0, "evidence")
    assert colorbar.ax.get_position().bounds == pytest.approx((0.65, 0.125, 0.2 / 8.0, 0.5))
    assert list(colorbar.get_ticks()) == [0.0, 0.5, 1.0]
    assert colorbar.ax.get_ylabel() == "evidence"


def test_size_label_and_hidden_ticks():
    assert figure_layout.size_label(np.zeros((7, 3))) == "7 \u00d7 3"
    ax = Figure().add_subplot()
    figure_layout.hide_ticks(ax)
    assert len(ax.get_xticks()) == 0 and len(ax.get_yticks()) == 0


def test_colorbar_for_a_callers_axes_is_matplotlibs_own():
    figure = Figure()
    ax = figure.add_subplot()
    image = ax.imshow(np.eye(3), vmin=0.0, vmax=1.0)
    colorbar = figure_layout.colorbar_for(figure, image, ax, None, "value")
    assert colorbar.ax.get_ylabel() == "value" and len(figure.axes) == 2
    placed = figure_layout.colorbar_for(figure, image, ax, (5.0, 0.5, 3.0), "placed")
    assert placed.ax.get_position().width == pytest.approx(0.2 / figure.get_size_inches()[0])
