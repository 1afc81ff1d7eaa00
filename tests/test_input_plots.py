"""Plots of a photo's way into the model: the photo, its preprocessing, the model input."""

import numpy as np
from matplotlib.figure import Figure
from PIL import Image, ImageDraw

from conftest import png_pixels
from fashion_mnist_vis.data.preprocess import preprocess
from fashion_mnist_vis.visualize import input_plots


def test_input_plots_return_figures_with_content():
    photo = Image.new("RGB", (120, 80), (200, 180, 160))
    ImageDraw.Draw(photo).rectangle((40, 10, 80, 70), fill=(20, 20, 20))
    figures = [
        input_plots.plot_photo(photo, "photo"),
        input_plots.plot_greyscale_steps(preprocess(photo, (28, 28, 1))),
        input_plots.plot_model_input(np.random.default_rng(0).random((28, 28, 1), dtype=np.float32)),
    ]
    for figure in figures:
        assert isinstance(figure, Figure)
        assert png_pixels(figure).std() > 10


def test_greyscale_steps_say_what_preprocessing_did():
    photo = Image.new("RGB", (120, 80), (250, 250, 250))
    ImageDraw.Draw(photo).rectangle((40, 10, 80, 70), fill=(20, 20, 20))
    cropped = input_plots.plot_greyscale_steps(preprocess(photo, (28, 28, 1)))
    grey_ax, prepared_ax = cropped.axes
    assert grey_ax.get_title() == "Greyscale (120 \u00d7 80)"
    assert grey_ax.get_xlabel() == "red box: the object found, with a small margin"
    assert prepared_ax.get_xlabel() == "inverted, cropped, padded to the model's shape"
    original = input_plots.plot_greyscale_steps(preprocess(photo, (28, 28, 1), method="original"))
    assert original.axes[1].get_xlabel() == "the original demo's transform: no inversion, no crop"


def test_the_page_says_how_far_the_grey_levels_were_stretched():
    from fashion_mnist_vis.visualize.image_report import _greyscale_caption

    photo = Image.new("L", (120, 120), 235)
    ImageDraw.Draw(photo).rectangle((40, 20, 80, 100), fill=90)  # a mid-grey item: dim once inverted
    prepared = preprocess(photo, (28, 28, 1))
    assert prepared.stretch_factor > 1.3
    assert f"multiplied by {prepared.stretch_factor:.2f} so its brightest pixel is white" in _greyscale_caption(prepared)
    black_item = Image.new("L", (120, 120), 255)
    ImageDraw.Draw(black_item).rectangle((40, 20, 80, 100), fill=0)
    assert "multiplied by" not in _greyscale_caption(preprocess(black_item, (28, 28, 1)))
