"""Unfamiliarity scores and their calibration (fashion_mnist_vis.explain.unfamiliarity)."""

import numpy as np
import pytest

from fashion_mnist_vis.explain.neighbours import NeighbourIndex
from fashion_mnist_vis.explain.unfamiliarity import (
    LogitProbe, calibrate_threshold, energy_scores, flagged, nearest_distances, run_batches)
from fashion_mnist_vis.models.model_handle import open_model


def test_energy_by_hand():
    energies = energy_scores(np.array([[0.0, 0.0], [10.0, 0.0]]))
    np.testing.assert_allclose(energies, [-np.log(2.0), -(10.0 + np.log(1.0 + np.exp(-10.0)))])
    np.testing.assert_allclose(energy_scores(np.array([[0.0, 0.0]]), temperature=2.0), [-2.0 * np.log(2.0)])


def test_threshold_by_hand():
    assert calibrate_threshold(np.arange(1, 101), 0.05) == pytest.approx(95.05)
    assert flagged(np.arange(1, 101), 95.05).sum() == 5


def test_the_threshold_reproduces_the_share_on_held_out_scores():
    rng = np.random.default_rng(0)
    calibration, held_out = rng.normal(size=20000), rng.normal(size=20000)
    threshold = calibrate_threshold(calibration, 0.01)
    assert flagged(held_out, threshold).mean() == pytest.approx(0.01, abs=0.003)  # binomial s.e. 0.0007


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1])
def test_bad_shares_are_refused(bad):
    with pytest.raises(ValueError):
        calibrate_threshold(np.arange(10), bad)
    with pytest.raises(ValueError):
        calibrate_threshold(np.array([1.0, np.nan]))


def test_nearest_distance_is_the_k_th_cosine_distance():
    index = NeighbourIndex(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    distances = nearest_distances(index, np.array([[2.0, 0.0]]), k=2)
    np.testing.assert_allclose(distances, [1.0 - np.sqrt(0.5)], rtol=1e-6)


def test_input_checks_by_hand():
    from fashion_mnist_vis.explain.input_checks import dimness, lit_share

    inputs = np.array([[[0.0, 0.05], [0.5, 1.0]], [[0.25, 0.25], [0.25, 0.25]]])
    np.testing.assert_allclose(lit_share(inputs), [0.5, 1.0])
    # the 98th percentile of (0, 0.05, 0.5, 1) interpolates 0.94 of the way from 0.5 to 1: 0.97
    np.testing.assert_allclose(dimness(inputs), [0.03, 0.75], atol=1e-6)


def test_the_photo_check_by_hand():
    from fashion_mnist_vis.explain.input_checks import CHECK_WORDS, photo_checks
    from fashion_mnist_vis.explain.unfamiliarity import Unfamiliarity

    assert photo_checks(None) == {}  # no photo around the input: nothing to check
    assert photo_checks(12.0) == {"busy_background": (12.0, 20.0)}
    found = Unfamiliarity(0.05, 0.1, 0.01, "test images", photo_checks(25.0))
    assert found.flagged_by == ["busy_background"]
    assert found.reasons() == (f"the image {CHECK_WORDS['busy_background']}: its border varies by 25 grey levels, "
                               "a plain one's by at most 20 grey levels")
    assert found.to_dict()["input_checks"]["busy_background"] == {"value": 25.0, "threshold": 20.0, "flagged": True}
    assert not Unfamiliarity(0.05, 0.1, 0.01, "test images", photo_checks(20.0)).flagged
    assert "busy background 25 grey levels, threshold 20 grey levels" in found.verdict()
    assert "busy background 1 grey level, threshold" in Unfamiliarity(0.05, 0.1, 0.01, "x", photo_checks(1.0)).verdict()


def test_union_calibration_by_hand():
    from fashion_mnist_vis.explain.unfamiliarity import calibrate_union

    nearest = np.arange(1, 101, dtype=float)
    check = np.zeros(100)
    check[[99, 10]] = [5.0, 9.0]  # the check's largest value is image 10's, which the distance does not flag
    threshold, checks = calibrate_union(nearest, {"lit_share": check}, flagged_share=0.05, check_share=0.01)
    assert checks["lit_share"] == pytest.approx(np.quantile(check, 1 - 0.0005))  # between 5 and 9: flags image 10
    assert threshold == 96.0  # 5 - 1 flagged by the check = 4 by the distance: 97..100
    union = (nearest > threshold) | (check > checks["lit_share"])
    assert union.sum() == 5


def test_union_calibration_gives_a_named_check_its_own_share():
    from fashion_mnist_vis.explain.unfamiliarity import calibrate_union

    rng = np.random.default_rng(2)
    nearest, wide, narrow = rng.random(10000), rng.random(10000), rng.random(10000)
    threshold, checks = calibrate_union(nearest, {"mahalanobis": wide, "lit_share": narrow}, flagged_share=0.01,
                                        shares={"mahalanobis": 0.2})
    assert (wide > checks["mahalanobis"]).sum() == 20 and (narrow > checks["lit_share"]).sum() == 10
    union = (nearest > threshold) | (wide > checks["mahalanobis"]) | (narrow > checks["lit_share"])
    assert union.sum() == 100


def test_the_mahalanobis_distance_is_reported_and_flags():
    from fashion_mnist_vis.explain.unfamiliarity import EMBEDDING_WORDS, Unfamiliarity

    calibration = {"threshold": 0.1, "mahalanobis_threshold": 300.0, "input_checks": {"lit_share": 0.8},
                   "flagged_share": 0.01, "images": "test images"}
    found = Unfamiliarity.from_calibration(0.09, calibration, {"lit_share": 0.3}, 428.3)
    assert found.mahalanobis == (428.3, 300.0) and found.flagged_by == ["mahalanobis"]
    assert found.reasons() == EMBEDDING_WORDS["mahalanobis"]
    assert "distance to the nearest training image 0.090, threshold 0.100; Mahalanobis distance to the nearest " \
           "class 428, threshold 300; lit share 0.300" in found.verdict()
    assert found.embedding_figures() == ("cosine distance to the nearest training image 0.090, threshold 0.100; "
                                         "Mahalanobis distance to the nearest class 428, threshold 300")
    record = found.to_dict()["mahalanobis"]
    assert record["value"] == 428.3 and record["threshold"] == 300.0 and record["flagged"]
    assert "Mahalanobis" in record["score_is"]
    familiar = Unfamiliarity.from_calibration(0.09, calibration, {"lit_share": 0.3}, 120.0)
    assert not familiar.flagged and not familiar.to_dict()["mahalanobis"]["flagged"]
    # A calibration without the Mahalanobis threshold (none made yet) leaves it out.
    del calibration["mahalanobis_threshold"]
    assert "mahalanobis" not in Unfamiliarity.from_calibration(0.09, calibration, {"lit_share": 0.3}, 428.3).to_dict()


def test_every_field_of_the_json_object_is_documented_in_the_readme():
    """Issue 20 asks for the JSON field to be documented: every key classify --json writes under
    "unfamiliarity", and every name flagged_by can hold, is named in the README's description."""
    import re
    from pathlib import Path

    from fashion_mnist_vis.explain.unfamiliarity import Unfamiliarity

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    found = Unfamiliarity(0.2, 0.1, 0.01, "test images", {"lit_share": (0.95, 0.8), "dimness": (0.9, 0.6),
                                                          "busy_background": (30.0, 20.0)}, (400.0, 300.0))
    record = found.to_dict()
    start = readme.index("`score` and `threshold` are the embedding's distance")
    description = readme[start:readme.index("\n\n", start)]
    for key in [*record, *record["flagged_by"], *record["input_checks"]]:
        assert re.search(rf"`{key}`", description), key


def test_the_verdict_names_what_flagged_the_image():
    from fashion_mnist_vis.explain.unfamiliarity import Unfamiliarity

    found = Unfamiliarity(0.05, 0.1, 0.01, "test images", {"lit_share": (0.95, 0.8), "dimness": (0.1, 0.6)})
    assert found.flagged and found.flagged_by == ["lit_share"]
    assert found.verdict().startswith("UNFAMILIAR: this does not look like a Fashion-MNIST garment (the image fills the frame")
    record = found.to_dict()
    assert record["input_checks"]["lit_share"] == {"value": 0.95, "threshold": 0.8, "flagged": True}
    assert record["flagged_by"] == ["lit_share"] and record["flagged"]
    assert not Unfamiliarity(0.05, 0.1, 0.01, "x", {"lit_share": (0.5, 0.8)}).flagged


def test_an_old_calibration_is_made_again():
    from fashion_mnist_vis.explain.unfamiliarity import CALIBRATION_FORMAT, is_current

    assert not is_current(None) and not is_current({"threshold": 0.09, "flagged_share": 0.01})
    assert is_current({"threshold": 0.09, "format": CALIBRATION_FORMAT})


@pytest.mark.parametrize("engine", ["numpy", "keras"])
def test_logits_reproduce_the_model_probabilities(engine, tmp_path):
    from classify_helpers import save_tiny_model
    from fashion_mnist_vis.models.scores import softmax

    path = save_tiny_model(tmp_path / "tiny.keras", seed=1, gap=True)
    probe = LogitProbe(open_model(path, engine))
    inputs = np.random.default_rng(0).random((5, 28, 28, 1)).astype(np.float32)
    embeddings, logits, probabilities = run_batches(probe, inputs, batch_size=2)
    assert embeddings.shape[0] == logits.shape[0] == 5
    np.testing.assert_allclose(softmax(logits), probabilities, atol=1e-5)
    _, _, mirrored = run_batches(probe, inputs, mirror=True)
    _, _, direct = run_batches(probe, np.ascontiguousarray(inputs[:, :, ::-1]))
    np.testing.assert_allclose(mirrored, direct, atol=1e-6)


@pytest.mark.slow
def test_classify_flags_a_cat_and_not_a_test_image(tmp_path, idx_dir, monkeypatch, capsys):
    """classify --neighbours on conftest's striped items (600 training, 200 test images): the threshold is
    calibrated on the 200 test images and stored with the index; a test image is familiar, the cat
    photo of scikit-image is not; the JSON field and the text line say so."""
    import json

    from PIL import Image

    from classify_helpers import save_tiny_model
    from fashion_mnist_vis.commands.classify import main
    from fashion_mnist_vis.data.fashion_mnist import CACHE_ENV
    from fashion_mnist_vis.data.idx import read_idx

    skimage_data = pytest.importorskip("skimage.data")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "user-cache"))
    model = save_tiny_model(tmp_path / "tiny.keras", seed=3)
    test_images = read_idx(idx_dir / "t10k-images-idx3-ubyte.gz", (28, 28))
    Image.fromarray(test_images[7]).save(tmp_path / "item.png")
    Image.fromarray(skimage_data.chelsea()).save(tmp_path / "cat.jpg")
    paths = [str(tmp_path / "item.png"), str(tmp_path / "cat.jpg")]
    data = ["--data-dir", str(idx_dir), "--neighbours", "1"]
    assert main([*paths, "--saved-model", str(model), "--json", *data]) == 0
    out, err = capsys.readouterr()
    item, cat = [json.loads(line)["unfamiliarity"] for line in out.splitlines()]
    assert "Unfamiliarity thresholds calibrated on 200 held-out images" in err
    assert item["threshold"] == cat["threshold"] and item["flagged_share_of_calibration_images"] == 0.01
    assert not item["flagged"] and item["score"] <= item["threshold"]
    assert cat["flagged"] and cat["score"] > cat["threshold"]
    assert item["mahalanobis"]["threshold"] == cat["mahalanobis"]["threshold"] > 0
    assert item["mahalanobis"]["flagged"] == (item["mahalanobis"]["value"] > item["mahalanobis"]["threshold"])
    assert main([*paths, "--saved-model", str(model), *data]) == 0
    out, err = capsys.readouterr()
    assert "Unfamiliarity thresholds calibrated" not in err  # stored with the cached index
    lines = [line for line in out.splitlines() if "nearest training image" in line and "threshold" in line]
    assert lines[0].strip().startswith("familiar") and lines[1].strip().startswith("UNFAMILIAR")
    assert main([paths[1], "--saved-model", str(model), *data, "--save-plots", "--plot-dir",
                 str(tmp_path / "plots")]) == 0
    page = (tmp_path / "plots" / "index.html").read_text(encoding="utf-8")
    assert "This does not look like a Fashion-MNIST garment" in page
    # A dim photo: preprocess stretches its faint item to a brighter input for the network, but the
    # input checks read the photo before the stretch, so it is still seen to be dim.
    dim = np.zeros((200, 200), dtype=np.uint8)
    dim[50:150, 70:130] = 40
    Image.fromarray(dim).save(tmp_path / "dim.png")
    capsys.readouterr()
    assert main([str(tmp_path / "dim.png"), "--saved-model", str(model), "--json", *data]) == 0
    found = json.loads(capsys.readouterr().out.splitlines()[0])["unfamiliarity"]
    assert found["input_checks"]["dimness"]["value"] == pytest.approx(1 - 40 / 255, abs=0.02)
    assert found["flagged"]
    # A light item on a busy background (a texture of grey levels 60..200): the photo check says so;
    # a test image (an array, no photo around it) has no such check.
    busy = np.random.default_rng(0).integers(60, 201, (240, 240)).astype(np.uint8)
    busy[70:170, 90:150] = 255
    Image.fromarray(busy).save(tmp_path / "busy.png")
    assert main([str(tmp_path / "busy.png"), paths[0], "--saved-model", str(model), "--json", *data]) == 0
    busy_found, item_found = [json.loads(line)["unfamiliarity"] for line in capsys.readouterr().out.splitlines()]
    assert busy_found["input_checks"]["busy_background"]["value"] == pytest.approx(35, abs=3)
    assert "busy_background" in busy_found["flagged_by"] and busy_found["flagged"]
    assert "busy_background" not in item_found["input_checks"]


def test_the_webcam_overlay_warns_on_an_unfamiliar_frame():
    from fashion_mnist_vis.explain.unfamiliarity import Unfamiliarity
    from fashion_mnist_vis.video.frame_overlay import FrameOverlay
    from fashion_mnist_vis.video.frame_predictor import FramePrediction

    drawer = FrameOverlay((40, 0, 280, 240), (320, 240))
    rows = {}
    for score in (0.05, 0.3):
        drawer.update(FramePrediction(np.eye(10)[8], [(8, 0.9)], None, None, None,
                                      Unfamiliarity(score, 0.1, 0.01, "test images")))
        rows[score] = [row[0] for row in drawer._panel_lines([])]
    assert "Not like any garment it knows" in rows[0.3] and "Not like any garment it knows" not in rows[0.05]
    drawer.update(FramePrediction(np.eye(10)[8], [(8, 0.9)], None, None, None,
                                  Unfamiliarity(0.05, 0.1, 0.01, "test images", {"lit_share": (0.97, 0.8)})))
    assert ("Not like any garment it knows", "fills frame") in [row[:2] for row in drawer._panel_lines([])]
    drawer.update(FramePrediction(np.eye(10)[8], [(8, 0.9)], None, None, None,
                                  Unfamiliarity(0.05, 0.1, 0.01, "test images", {"busy_background": (30.0, 20.0)})))
    assert ("Not like any garment it knows", "busy background") in [row[:2] for row in drawer._panel_lines([])]
    drawer.update(FramePrediction(np.eye(10)[8], [(8, 0.9)], None, None, None,
                                  Unfamiliarity(0.05, 0.1, 0.01, "test images", {}, (400.0, 300.0))))
    assert ("Not like any garment it knows", "outside classes") in [row[:2] for row in drawer._panel_lines([])]


@pytest.mark.slow
def test_webcam_reports_the_unfamiliarity_of_every_frame(tmp_path, idx_dir, monkeypatch, capsys):
    """webcam_classify --unfamiliarity on a short clip: every JSON line carries the score against the
    threshold calibrated on conftest's 200 test images."""
    import json

    import cv2

    from classify_helpers import synthetic_data, trained_model_path
    from fashion_mnist_vis.commands.webcam_classify import main
    from fashion_mnist_vis.data.fashion_mnist import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "user-cache"))
    model = tmp_path / "tiny.keras"
    model.write_bytes(trained_model_path("tinyvgg").read_bytes())
    images, _ = synthetic_data()
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (112, 112))
    for image in images[:6]:
        writer.write(cv2.cvtColor(cv2.resize(image, (112, 112)), cv2.COLOR_GRAY2BGR))
    writer.release()
    status = main(["--source", str(clip), "--saved-model", str(model), "--no-display", "--json",
                   "--unfamiliarity", "--data-dir", str(idx_dir)])
    out, err = capsys.readouterr()
    assert status == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 6 and "Unfamiliarity thresholds calibrated on 200 held-out images" in err
    thresholds = {record["unfamiliarity"]["threshold"] for record in records}
    assert len(thresholds) == 1
    for record in records:
        found = record["unfamiliarity"]
        assert found["flagged"] == bool(found["flagged_by"])
        assert ("nearest_training_image" in found["flagged_by"]) == (found["score"] > found["threshold"])
        assert ("mahalanobis" in found["flagged_by"]) == found["mahalanobis"]["flagged"]


def test_the_pages_give_the_embedding_s_figures_familiar_or_not():
    """classify's page note (without the examples section) and the examples section's paragraph."""
    from types import SimpleNamespace

    from fashion_mnist_vis.explain.unfamiliarity import Unfamiliarity
    from fashion_mnist_vis.visualize.example_section import unfamiliarity_html
    from fashion_mnist_vis.visualize.image_report import unfamiliarity_notes

    familiar = Unfamiliarity(0.017, 0.115, 0.01, "test images", {"lit_share": (0.6, 0.85)}, (87.0, 231.0))
    (note,) = unfamiliarity_notes(SimpleNamespace(unfamiliarity=familiar, examples=None))
    assert note.startswith("Familiar: this image looks like the training images (cosine distance to the nearest "
                           "training image 0.017, threshold 0.115; Mahalanobis distance to the nearest class 87, threshold 231;")
    assert unfamiliarity_notes(SimpleNamespace(unfamiliarity=familiar, examples=object())) == []  # the section says it
    outside = Unfamiliarity(0.017, 0.115, 0.01, "test images", {}, (400.0, 231.0))
    (warning,) = unfamiliarity_notes(SimpleNamespace(unfamiliarity=outside, examples=None))
    assert "far outside the spread of every class" in warning
    paragraph = unfamiliarity_html(outside)
    assert "This does not look like a Fashion-MNIST garment" in paragraph
    assert "Mahalanobis distance to the nearest class 400, threshold 231" in paragraph
    assert "Mahalanobis" in unfamiliarity_html(familiar) and unfamiliarity_html(None) == ""
