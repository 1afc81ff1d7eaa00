"""Ranking explanation methods by faithfulness, and the randomisation test of every method, on real tiny models."""

import numpy as np
import pytest

from classify_helpers import synthetic_data, trained_model_path
from fashion_mnist_vis.data.pipeline import to_model_input
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.faithfulness import (
    FaithfulnessSettings,
    class_probabilities,
    explained_classes,
    map_curves,
    random_curves,
    summarise,
)
from fashion_mnist_vis.explain.methods import build_explainer
from fashion_mnist_vis.explain.ranking import cascade_methods, chosen_methods, rank_methods
from fashion_mnist_vis.models.model_handle import open_model

SETTINGS = FaithfulnessSettings(steps=7)


@pytest.fixture(scope="module")
def tinyvgg():
    return open_model(trained_model_path("tinyvgg"), "keras")


@pytest.fixture(scope="module")
def images():
    return to_model_input(synthetic_data()[0][:8])


def test_a_method_that_does_not_apply_is_skipped_with_its_reason(tinyvgg):
    run, skipped = chosen_methods(tinyvgg, ["cam", "gradcam"])
    assert run == ["gradcam"]
    assert "cam" in skipped and skipped["cam"]  # tinyvgg has no GAP -> Dense
    with pytest.raises(UserError, match="nope"):
        chosen_methods(tinyvgg, ["nope"])
    with pytest.raises(UserError, match="no explanation method applies"):
        chosen_methods(tinyvgg, ["cam"])


def test_ranking_scores_each_method_as_its_own_maps_and_curves_do(tinyvgg, images):
    lines = []
    ranking = rank_methods(tinyvgg, images, ["cam", "gradcam"], SETTINGS, progress=lines.append)
    assert [score.method for score in ranking.scores] == ["gradcam"] and list(ranking.skipped) == ["cam"]
    assert ranking.images == 8 and len(lines) == 1 and lines[0].startswith("gradcam: deletion AUC")
    # The same numbers, step by step through the public pieces.
    predict = class_probabilities(tinyvgg)
    classes = explained_classes(predict, images)
    explainer = build_explainer(tinyvgg, "gradcam")
    heatmaps = [explainer(image, int(index)).heatmap for image, index in zip(images, classes)]
    expected = summarise("gradcam", map_curves(predict, images, heatmaps, classes, SETTINGS))
    score = ranking.scores[0]
    assert score.summary.deletion_auc == pytest.approx(expected.deletion_auc, abs=1e-6)
    assert score.summary.insertion_auc == pytest.approx(expected.insertion_auc, abs=1e-6)
    assert score.difference == pytest.approx(expected.insertion_auc - expected.deletion_auc, abs=1e-6)
    random = summarise("random", random_curves(predict, images, classes, SETTINGS))
    np.testing.assert_allclose(ranking.random.curves.deletion, random.curves.deletion, atol=1e-6)
    assert score.seconds_per_image > 0


def test_methods_are_ranked_by_insertion_minus_deletion(images):
    handle = open_model(trained_model_path("gap_cnn"), "keras")
    ranking = rank_methods(handle, images[:4], ["cam", "gradcam"], SETTINGS)
    differences = [score.difference for score in ranking.scores]
    assert {score.method for score in ranking.scores} == {"cam", "gradcam"}
    assert differences == sorted(differences, reverse=True)


def test_cascade_of_every_chosen_method(tinyvgg, images):
    lines = []
    results = cascade_methods(tinyvgg, images[:3], ["gradcam"], progress=lines.append)
    assert [result.method for result in results] == ["gradcam"]
    assert [step.layer_name for step in results[0].steps][0] == "dense"
    assert results[0].images == 3 and "with every layer re-initialised" in lines[0]
