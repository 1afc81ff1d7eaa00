"""Plots of class activation maps over the model input and the photo."""

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from conftest import png_pixels
from fashion_mnist_vis.explain.cam import CAM, GRAD_CAM, CamResult
from fashion_mnist_vis.visualize import cam_plots


def test_cam_plots_return_figures_with_content():
    rng = np.random.default_rng(0)
    model_input = rng.random((28, 28, 1), dtype=np.float32)
    result = CamResult(CAM, "conv", 3, rng.random((3, 3), dtype=np.float32))
    photo = Image.new("RGB", (120, 80), (200, 180, 160))
    figures = [
        cam_plots.plot_cam(result, model_input, "Dress"),
        cam_plots.plot_cam_on_photo(result.heatmap, photo, (10, -5, 100, 85), "cam"),
        cam_plots.plot_cam_comparison([result, result], model_input, "Dress"),
    ]
    for figure in figures:
        assert isinstance(figure, Figure)
        assert png_pixels(figure).std() > 10


def test_map_correlation():
    first = np.array([[0.0, 1.0], [0.5, 0.2]])
    assert cam_plots.map_correlation(first, 2 * first) == pytest.approx(1.0)
    assert np.isnan(cam_plots.map_correlation(first, np.zeros((2, 2))))


def test_small_maps_show_their_values_and_the_comparison_its_correlation():
    heatmap = np.array([[0.0, 1.0], [0.5, 0.25]], np.float32)
    opposite = 1.0 - heatmap
    results = [CamResult(CAM, "conv", 1, heatmap), CamResult(GRAD_CAM, "conv", 1, opposite)]
    figure = cam_plots.plot_cam(results[0], np.zeros((28, 28, 1), np.float32), "Dress")
    assert sorted(text.get_text() for text in figure.axes[0].texts) == ["0.00", "0.25", "0.50", "1.00"]
    comparison = cam_plots.plot_cam_comparison(results, np.zeros((28, 28, 1), np.float32), "Dress")
    assert comparison.texts[0].get_text() == "\u201cDress\u201d explained two ways (correlation -1.00)"
