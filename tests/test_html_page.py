"""index.html rendering: self-contained, escaped, relative links only, captions per layer type."""

import re

from fashion_mnist_vis.explain.cam import CAM, GRAD_CAM, CamResult
from fashion_mnist_vis.visualize.html_page import (
    BatchEntry,
    ImagePage,
    Panel,
    Section,
    cam_caption,
    cam_compare_caption,
    layer_caption,
    render_batch_page,
    render_image_page,
)


def _page(**overrides):
    values = dict(
        source="photos/<b>bag</b>.jpg",
        prediction="Bag",
        score=0.873,
        top_k=[("Bag", 0.873), ("Sandal", 0.1)],
        model="model.h5 (gap_cnn)",
        settings="standard",
        sections=[
            Section("input", "1. Input", "intro text", [Panel("input_image.png", "The photo", "caption one")]),
            Section("layers", "2. Layers", "more", [Panel("my layer.png", "my layer", "caption two")]),
        ],
        notes=["a note & more"],
    )
    values.update(overrides)
    return ImagePage(**values)


def test_page_is_self_contained_and_escaped():
    page = render_image_page(_page())
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<b>bag</b>" not in page and "&lt;b&gt;bag&lt;/b&gt;" in page
    assert "a note &amp; more" in page
    assert "<script" not in page and "<link" not in page
    links = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert links and all(not re.match(r"^[a-z]+:|^/", link) for link in links), links
    assert 'src="my%20layer.png"' in page  # file names are URL-quoted
    assert "87.3%" in page and "Sandal" in page and "10.0%" in page


def test_panels_appear_in_order():
    page = render_image_page(_page())
    assert page.index("input_image.png") < page.index("my%20layer.png")
    assert page.index('id="input"') < page.index('id="layers"')


def test_layer_captions_use_the_layer_configuration():
    conv = layer_caption("Conv2D", {"filters": 64, "kernel_size": (3, 3), "padding": "valid",
                                    "activation": "relu", "strides": (1, 1)}, (26, 26, 64), (28, 28, 1))
    assert "64 small filters of 3\u00d73 pixels" in conv and "ReLU" in conv and "26 \u00d7 26 \u00d7 64" in conv
    pool = layer_caption("MaxPooling2D", {"pool_size": (2, 2)}, (13, 13, 64), (26, 26, 64))
    assert "largest" in pool and "26 \u00d7 26 \u00d7 64 to 13 \u00d7 13 \u00d7 64" in pool
    gap = layer_caption("GlobalAveragePooling2D", {}, (64,), (3, 3, 64))
    assert "64 channels" in gap and "averaged" in gap
    assert "Batch normalisation" in layer_caption("BatchNormalization", {}, (5, 5, 8), (5, 5, 8))
    assert "residual" in layer_caption("Add", {}, (7, 7, 32), (7, 7, 32))
    assert "Unusual" in layer_caption("Unusual", {}, (4,), (8,))


def test_cam_captions_cite_the_papers():
    assert "Zhou et al. 2016" in cam_caption(CAM, "bn", "Bag", (3, 3))
    assert "Selvaraju et al. 2017" in cam_caption(GRAD_CAM, "conv", "Bag", (3, 3))
    results = [CamResult(CAM, "batch_normalization_2", 8, None), CamResult(GRAD_CAM, "conv2d_5", 8, None)]
    text = cam_compare_caption(results, 0.93)
    assert "conv2d_5" in text and "batch_normalization_2" in text and "0.93" in text


def test_batch_page_links_each_image_and_lists_errors():
    page = render_batch_page([
        BatchEntry("a/bag.jpg", "Bag", 0.9, "bag", "input_image.png"),
        BatchEntry("b/notes.jpg", error="'b/notes.jpg' is not an image file"),
    ], "model.h5")
    assert 'href="bag/index.html"' in page and 'src="bag/input_image.png"' in page
    assert "not classified: &#x27;b/notes.jpg&#x27; is not an image file" in page


def test_layer_captions_escape_values_from_the_model_file():
    text = layer_caption("Dense", {"activation": "<img src=x>"}, (4,), (8,))
    assert "<img" not in text and "&lt;img src=x&gt;" in text
