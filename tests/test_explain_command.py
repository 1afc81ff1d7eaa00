"""explain.py end to end (main(argv), a subprocess, headless Chromium) and classify.py --methods."""

import contextlib
import html
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser_helpers import CHROMIUM, chromium_flags, loaded_image_widths
from classify_helpers import trained_model_path
from fashion_mnist_vis.commands import classify, explain
from fashion_mnist_vis.commands.explain import format_text, main
from fashion_mnist_vis.explain.methods import EXPLAINERS

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_images"
METHODS_CHECKED = "gradcam,scorecam,integrated-gradients,occlusion"
"""The methods whose numbers are checked against the library's (one per kind of computation)."""


def _run(argv, command=main):
    """(exit status, stdout, stderr) of one run of a command's main(argv)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = command([str(item) for item in argv])
    return status, out.getvalue(), err.getvalue()


def _error_lines(err):
    return [line for line in err.splitlines() if "error:" in line]


def _assert_png(path, min_width=300, min_height=200):
    with Image.open(path) as image:
        image.load()
        assert image.format == "PNG" and image.width >= min_width and image.height >= min_height, image.size
        assert np.asarray(image.convert("L")).std() > 10, f"{path.name} looks blank"


@pytest.fixture(scope="module")
def tiny_model():
    """tinyvgg, trained briefly: convolutions but no global average pooling (so CAM does not apply)."""
    return trained_model_path("tinyvgg")


@pytest.fixture(scope="module")
def explained(tiny_model, tmp_path_factory):
    """One run with every method and the faithfulness curves: (plot folder, the JSON record)."""
    folder = tmp_path_factory.mktemp("explain") / "explanations"
    status, out, err = _run([SAMPLES / "tshirt.jpg", "--saved-model", tiny_model, "--methods", "all",
                             "--faithfulness", "--json", "--plot-dir", folder])
    assert status == 0, err
    assert "Traceback" not in err
    return folder, json.loads(out)


def test_every_applicable_method_is_in_the_json_and_cam_is_listed_with_its_reason(explained):
    from fashion_mnist_vis.explain.methods import METHODS

    _, record = explained
    assert record["prediction"] and record["explained"]["class_index"] == record["class_index"]
    assert set(record["methods"]) | set(record["not_applicable"]) == set(METHODS)
    assert "cam" in record["not_applicable"] and "gradcam" in record["methods"]
    assert record["not_applicable"]["cam"]  # a one-line reason
    for entry in record["methods"].values():
        assert 0.0 <= entry["deletion_auc"] <= 1.0 and 0.0 <= entry["insertion_auc"] <= 1.0
    assert set(record["random"]) == {"deletion_auc", "insertion_auc"}


def test_the_json_holds_the_librarys_own_results(explained, tiny_model):
    """The command's numbers are the library's for the same image, model and settings."""
    from fashion_mnist_vis.explain.analysis import Analyser
    from fashion_mnist_vis.explain.method_comparison import MethodComparison, comparison_record, settings_for
    from fashion_mnist_vis.models.model_handle import open_model

    _, record = explained
    handle = open_model(tiny_model, "keras")
    analysis = Analyser(handle, mirror_average=True).analyse(SAMPLES / "tshirt.jpg")  # the command's default
    comparison = MethodComparison(handle, settings_for(METHODS_CHECKED, faithfulness=True))
    expected = comparison_record(comparison.compare(analysis.prepared.model_input, analysis.probabilities))
    assert record["score"] == pytest.approx(analysis.score, abs=1e-6)
    for method in METHODS_CHECKED.split(","):
        for key in ("deletion_auc", "insertion_auc"):
            assert record["methods"][method][key] == pytest.approx(expected["methods"][method][key], abs=1e-5)
    assert record["random"] == pytest.approx(expected["random"], abs=1e-5)


def test_grid_curves_and_page_are_written(explained):
    folder, record = explained
    names = {path.name for path in folder.iterdir()}
    assert {"methods.png", "faithfulness.png", "index.html", "input_image.png", "rescaled_model_input.png"} <= names
    assert "sanity.png" not in names  # not asked for
    _assert_png(folder / "methods.png", 500, 300 * len(record["methods"]))
    _assert_png(folder / "faithfulness.png", 800, 400)
    assert record["page"] == str(folder / "index.html")
    page = (folder / "index.html").read_text(encoding="utf-8")
    for entry in record["methods"].values():
        assert html.escape(entry["title"]) in page
    assert record["not_applicable"]["cam"].split(";")[0][:40] in page
    for method in record["methods"]:  # each method's one-line summary for a learner
        assert html.escape(EXPLAINERS[method].summary) in page
    assert "random order" in page and "Petsiuk et al. 2018" in page
    assert "http" not in page


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_page_renders_in_headless_chromium(explained, tmp_path):
    folder, record = explained
    page = folder / "index.html"
    assert set(loaded_image_widths(page, tmp_path / "probe").items()) == \
        {(path.name, Image.open(path).width) for path in folder.glob("*.png")}  # every picture loads
    flags = chromium_flags(tmp_path / "profile", height=2400)
    dom = subprocess.run([*flags, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    text = html.unescape(re.sub(r"<[^>]+>", " ", dom))
    for entry in record["methods"].values():
        assert entry["title"] in text
    screenshot = tmp_path / "page.png"
    subprocess.run([*flags, f"--screenshot={screenshot}", page.as_uri()], capture_output=True, timeout=120, check=True)
    _assert_png(screenshot, 1200, 2400)


@pytest.mark.slow
def test_the_script_runs_as_a_subprocess_with_the_seed_era_flags(tiny_model, tmp_path):
    result = subprocess.run(
        [sys.executable, "fashion_mnist_vis/explain.py", str(SAMPLES / "sneaker.jpg"), "--saved_model",
         str(tiny_model), "--methods", "gradcam,saliency", "--class", "shirt", "--contrast", "T-shirt/top",
         "--plot_dir", str(tmp_path / "out")],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "explained: \u201cShirt\u201d and not \u201cT-shirt/top\u201d" in result.stdout
    assert re.search(r"^  gradcam +\d+ ms$", result.stdout, re.MULTILINE)
    assert re.search(r"^  saliency +\d+ ms$", result.stdout, re.MULTILINE)
    assert (tmp_path / "out" / "index.html").is_file() and (tmp_path / "out" / "methods.png").is_file()
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_sanity_reports_every_weighted_layer_for_each_method(tiny_model, tmp_path):
    status, out, err = _run([SAMPLES / "dress.jpg", "--saved-model", tiny_model, "--methods", "gradcam,saliency",
                             "--sanity", "--json", "--plot-dir", tmp_path])
    assert status == 0, err
    assert "retracing" not in err
    record = json.loads(out)
    weighted = ["dense", "conv2d_2", "conv2d_1", "conv2d"]  # tinyvgg's weighted layers, top down
    assert set(record["methods"]) == {"gradcam", "saliency"}
    for method in record["methods"]:
        sanity = record["methods"][method]["sanity"]
        assert [step["layer"] for step in sanity["steps"]] == weighted
        assert all(-1.0 <= step["spearman"] <= 1.0 for step in sanity["steps"])
        assert isinstance(sanity["depends_on_model"], bool)
    assert "Does the map depend on the model at all?" in (tmp_path / "index.html").read_text(encoding="utf-8")
    _assert_png(tmp_path / "sanity.png", 600, 300)


def test_layer_moves_the_layer_based_methods_and_leaves_the_pixel_methods(tiny_model, tmp_path):
    status, out, err = _run([SAMPLES / "dress.jpg", "--saved-model", tiny_model, "--methods", "all", "--layer",
                             "conv2d_1", "--json", "--plot-dir", tmp_path])
    assert status == 0, err
    layers = {method: entry["layer"] for method, entry in json.loads(out)["methods"].items()}
    assert layers["gradcam"] == layers["scorecam"] == layers["contrastive"] == "conv2d_1"
    assert layers["saliency"] is None and layers["occlusion"] is None
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert page.count("<td><code>conv2d_1</code></td>") == sum(layer == "conv2d_1" for layer in layers.values())


def test_a_model_without_convolutions_gets_the_pixel_methods_and_the_others_reasons(tmp_path):
    status, out, err = _run([SAMPLES / "dress.jpg", "--saved-model", trained_model_path("dense"), "--json",
                             "--plot-dir", tmp_path])
    assert status == 0, err
    record = json.loads(out)
    assert set(record["methods"]) == {"saliency", "smoothgrad", "integrated-gradients", "occlusion"}
    assert all("has none" in reason for reason in record["not_applicable"].values())
    assert "note: gradcam left out:" in err
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Not applicable to this model" in page and "needs a convolutional layer" in page


def test_only_our_own_names_are_written_and_a_link_is_replaced_not_followed(tiny_model, tmp_path):
    outside = tmp_path / "precious.png"
    outside.write_bytes(b"the user's own file")
    folder = tmp_path / "plots"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    os.symlink(outside, folder / "methods.png")
    status, _, err = _run([SAMPLES / "dress.jpg", "--saved-model", tiny_model, "--methods", "gradcam",
                           "--plot-dir", folder])
    assert status == 0, err
    assert outside.read_bytes() == b"the user's own file"
    assert not (folder / "methods.png").is_symlink()
    _assert_png(folder / "methods.png")
    assert (folder / "notes.txt").read_text() == "keep me"
    assert not [path for path in folder.iterdir() if path.name.startswith(".")]  # no temporary files left


def test_several_images_get_their_own_folders_and_an_index(tiny_model, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    status, out, err = _run([SAMPLES / "dress.jpg", broken, SAMPLES / "trousers.jpg", "--saved-model", tiny_model,
                             "--methods", "gradcam", "--plot-dir", tmp_path / "out"])
    assert status == 1
    assert len(_error_lines(err)) == 1 and "broken.png" in _error_lines(err)[0]
    assert (tmp_path / "out" / "dress" / "methods.png").is_file()
    assert (tmp_path / "out" / "trousers" / "index.html").is_file()
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "dress/index.html" in index and "not classified" in index
    assert out.count("page: ") == 2


@pytest.mark.parametrize("flags, message, hint", [
    (["--methods", "gradcam,lime"], "unknown explanation method(s) 'lime'", "--methods"),
    (["--class", "hat"], "unknown class 'hat'", None),
    (["--class", "coat", "--contrast", "Coats"], "the explained class and the contrast class are the same", None),
    (["--layer", "conv9"], "has no layer 'conv9'", "--layer"),
    (["--methods", "cam"], "cam cannot explain this model", "--methods"),
    (["--methods", ""], "no explanation method named", "--methods"),
    (["--engine", "numpy", "--sanity"], "the sanity check re-initialises the model's layers", "--engine keras"),
])
def test_bad_input_gives_one_line_and_exit_2(tiny_model, tmp_path, flags, message, hint):
    status, out, err = _run([SAMPLES / "dress.jpg", "--saved-model", tiny_model, "--plot-dir", tmp_path, *flags])
    assert status == 2
    assert len(_error_lines(err)) == 1 and message in err, err
    assert err.rstrip().endswith(f"({hint})") == (hint is not None)  # the library names the setting, we the flag
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "index.html").exists()


def test_classify_page_gains_the_method_comparison_when_asked(tiny_model, tmp_path):
    status, out, err = _run([SAMPLES / "dress.jpg", "--saved-model", tiny_model, "--methods", "all",
                             "--json", "--plot-dir", tmp_path], classify.main)
    assert status == 0, err
    record = json.loads(out)
    assert "gradcam" in record["explanations"]["methods"] and "cam" in record["explanations"]["not_applicable"]
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'id="methods"' in page and 'src="methods.png"' in page and 'id="layers"' in page
    _assert_png(tmp_path / "methods.png", 500, 300 * len(record["explanations"]["methods"]))


def test_text_block_lists_each_method_and_the_random_order():
    record = {
        "path": "a.png", "prediction": "Coat", "score": 0.875, "page": "out/index.html",
        "explained": {"class": "Coat", "class_index": 4, "contrast": "Shirt", "contrast_index": 6},
        "methods": {"gradcam": {"seconds": 0.0123, "deletion_auc": 0.1, "insertion_auc": 0.8,
                                "sanity": {"depends_on_model": True}},
                    "saliency": {"seconds": 0.5, "deletion_auc": 0.25, "insertion_auc": 0.5,
                                 "sanity": {"depends_on_model": False}}},
        "random": {"deletion_auc": 0.3, "insertion_auc": 0.4},
        "not_applicable": {"cam": "no global average pooling"},
    }
    assert format_text(record).splitlines() == [
        "a.png: Coat (87.5%)",
        "  explained: \u201cCoat\u201d and not \u201cShirt\u201d",
        "  gradcam" + " " * 12 + "12 ms  deletion 0.100  insertion 0.800  depends on the model",
        "  saliency" + " " * 10 + "500 ms  deletion 0.250  insertion 0.500  FLAGGED: barely changes when the "
        "weights are randomised",
        "  random order" + " " * 14 + "deletion 0.300  insertion 0.400",  # the areas line up with the methods'
        "  cam" + " " * 11 + "not applicable: no global average pooling",
        "  page: out/index.html",
    ]


def test_every_method_has_a_summary_for_the_page():
    assert all(len(cls.summary) > 20 and "\n" not in cls.summary for cls in EXPLAINERS.values())


def test_method_lists_are_parsed_in_the_catalogues_order():
    from fashion_mnist_vis.errors import UserError
    from fashion_mnist_vis.explain.method_comparison import parse_method_names, settings_for
    from fashion_mnist_vis.explain.methods import METHODS

    assert parse_method_names(" GradCAM, cam ,gradcam") == ("cam", "gradcam")  # the catalogue's order
    assert parse_method_names("all") == tuple(METHODS)
    assert settings_for("all").everything and not settings_for("gradcam").everything
    with pytest.raises(UserError, match="'nope'"):
        parse_method_names("gradcam,nope")
    assert explain.build_parser().parse_args(["x.png"]).methods == "all"
