"""inspect_model: the channel atlas, through main(argv), as a subprocess and in headless Chromium."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser_helpers import CHROMIUM, loaded_image_widths
from classify_helpers import trained_model_path
from fashion_mnist_vis.commands.inspect_model import main
from fashion_mnist_vis.explain.atlas import AtlasSettings, build_atlas
from fashion_mnist_vis.explain.feature_visualisation import AscentSettings
from fashion_mnist_vis.models.model_handle import open_model

REPO = Path(__file__).resolve().parents[1]
TINY = ["--dataset", "synthetic", "--images", "120", "--top", "3", "--steps", "4"]
TINYVGG_CONVS = ("conv2d", "conv2d_1", "conv2d_2")  # tinyvgg: 3 convolutions of 10 filters


@pytest.fixture(scope="module")
def atlas_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("atlas")
    assert main(["--saved_model", str(trained_model_path("tinyvgg")), "--plot_dir", str(folder), *TINY]) == 0
    return folder


def test_main_writes_an_index_and_a_page_per_convolution(atlas_folder, capsys):
    index = (atlas_folder / "index.html").read_text(encoding="utf-8")
    for name in TINYVGG_CONVS:
        assert f'href="{name}.html"' in index
        page = (atlas_folder / f"{name}.html").read_text(encoding="utf-8")
        cards = re.findall(r'src="([^"]+/channel_\d{3}\.png)"', page)
        assert cards == [f"{name}/channel_{channel:03d}.png" for channel in range(10)]
        assert (atlas_folder / f"{name}_maximising.png").is_file()
        assert 'href="index.html"' in page and "receptive field" in page
    assert (atlas_folder / "classes.png").is_file() and (atlas_folder / "conv2d_weights.png").is_file()
    assert 'src="concepts.png"' in index and "Collins et al. 2018" in index
    assert "http" not in index  # self-contained: no external resources
    # a first-layer card: 3 images, then a wider gap, the maximising input and the weights: 84 px each, 6 px apart
    card = Image.open(atlas_folder / "conv2d" / "channel_000.png")
    assert card.width == 3 * 90 + 18 + 2 * 90


def test_cards_show_the_strongest_images_the_search_found(tmp_path):
    """The atlas keeps, per channel, the images a brute-force pass over the same images ranks first."""
    handle = open_model(trained_model_path("tinyvgg"), "keras")
    images = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    atlas = build_atlas(handle, images, np.zeros(50, int), AtlasSettings(top_images=4, batch_size=16, maximise=False,
                                                                         concepts=0))
    probe = handle.graph.probe([handle.graph.outputs["conv2d_1"]])
    maxima = np.asarray(probe(images[..., None].astype(np.float32) / 255)[0]).max(axis=(1, 2))
    layer = next(layer for layer in atlas.layers if layer.name == "conv2d_1")
    for channel in range(maxima.shape[1]):
        expected = sorted(range(50), key=lambda index: (-maxima[index, channel], index))[:4]
        assert layer.top.indices[channel].tolist() == expected
    assert atlas.classes is None and layer.maximised is None and atlas.concepts is None
    assert [layer.name for layer in atlas.layers] == list(TINYVGG_CONVS)
    assert atlas.layers[0].weights.shape == (3, 3, 10) and atlas.layers[1].weights is None


def test_numpy_engine_and_no_maximise(tmp_path, capsys):
    status = main(["--saved-model", str(trained_model_path("tinyvgg")), "--plot-dir", str(tmp_path),
                   "--engine", "numpy", "--no-maximise", *TINY])
    assert status == 0
    captured = capsys.readouterr()
    assert "run by NumPy" in captured.err and captured.out.strip() == str(tmp_path / "index.html")
    assert not (tmp_path / "classes.png").exists() and not (tmp_path / "conv2d_maximising.png").exists()
    assert (tmp_path / "concepts.png").is_file()  # no gradients needed: the NumPy engine's activations
    assert "maximising" not in (tmp_path / "conv2d.html").read_text(encoding="utf-8").split("Channel by channel")[1]


def test_the_maximising_inputs_do_not_depend_on_the_engine_that_searched(tmp_path):
    handle_keras = open_model(trained_model_path("tinyvgg"), "keras")
    handle_numpy = open_model(trained_model_path("tinyvgg"), "numpy")
    images = np.random.default_rng(1).integers(0, 256, (40, 28, 28), dtype=np.uint8)
    settings = AtlasSettings(top_images=2, channel_ascent=AscentSettings(steps=3), class_ascent=AscentSettings(steps=3),
                             prior_components=4)
    first = build_atlas(handle_keras, images, np.arange(40) % 10, settings)
    second = build_atlas(handle_numpy, images, np.arange(40) % 10, settings)
    for mine, theirs in zip(first.layers, second.layers):
        np.testing.assert_array_equal(mine.top.indices, theirs.top.indices)
        np.testing.assert_allclose(mine.maximised.images, theirs.maximised.images, atol=1e-5)
    np.testing.assert_allclose(first.classes.with_prior.images, second.classes.with_prior.images, atol=1e-5)


@pytest.mark.parametrize("argv, message", [
    (["--saved-model", "missing.keras"], "missing.keras"),
    (["--steps", "-1"], "-1 must be at least 0"),
])
def test_bad_input_is_one_line(argv, message, tmp_path, capsys):
    assert main([*argv, "--plot-dir", str(tmp_path / "out"), "--dataset", "synthetic"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and message in error and "Traceback" not in error


def test_help_does_not_call_no_maximise_on_by_default(capsys):
    # store_false's own default (True) made --help say "--no-maximise ... (default: True)": the opposite of the truth
    assert main(["--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    no_maximise = help_text.split("--no-maximise, --no_maximise")[1].split("--concepts")[0]
    assert "much faster" in no_maximise and "default" not in no_maximise
    from fashion_mnist_vis.commands.inspect_model import build_parser
    assert build_parser().parse_args([]).maximise is True
    assert build_parser().parse_args(["--no-maximise"]).maximise is False


def test_concepts_are_found_in_the_first_image_of_each_class():
    handle = open_model(trained_model_path("tinyvgg"), "numpy")
    images = np.random.default_rng(2).integers(0, 256, (30, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 3, 1, 0] + [2] * 25)
    atlas = build_atlas(handle, images, labels, AtlasSettings(top_images=1, maximise=False, concepts=3,
                                                              concept_images=3))
    assert atlas.concepts.layer_name == "conv2d_2" and atlas.concepts.indices.tolist() == [4, 1, 5]  # classes 0, 1, 2
    assert atlas.concepts.found.heatmaps.shape == (3, 10, 10, 3)  # tinyvgg's last convolution is 10 x 10
    np.testing.assert_allclose(atlas.concepts.found.channels.sum(axis=1), 1.0, rtol=1e-5)


def test_a_model_without_convolutions_is_refused(tmp_path, capsys):
    assert main(["--saved-model", str(trained_model_path("dense")), "--plot-dir", str(tmp_path), *TINY]) == 2
    error = capsys.readouterr().err
    assert "no convolutional layer" in error and len(error.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_command_runs_as_a_subprocess(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "fashion_mnist_vis" / "inspect_model.py"), "--saved_model",
         str(trained_model_path("tinyvgg")), "--plot_dir", str(tmp_path), *TINY],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == str(tmp_path / "index.html")
    assert "Atlas written" in result.stderr and "Traceback" not in result.stderr
    module = subprocess.run([sys.executable, "-m", "fashion_mnist_vis.inspect_model", "--help"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert module.returncode == 0 and "--saved-model" in module.stdout


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("page", ["index.html", "conv2d.html", "conv2d_2.html"])
def test_pages_render_in_headless_chromium_with_every_image(atlas_folder, page, tmp_path):
    loaded = loaded_image_widths(atlas_folder / page, tmp_path / "profile")
    expected = {"index.html": {"classes.png", "concepts.png", "conv2d_weights.png"},
                "conv2d.html": {"conv2d_maximising.png", *(f"conv2d/channel_{n:03d}.png" for n in range(10))},
                "conv2d_2.html": {"conv2d_2_maximising.png", *(f"conv2d_2/channel_{n:03d}.png" for n in range(10))}}
    assert set(loaded) == expected[page]
    assert all(width > 0 for width in loaded.values()), loaded
