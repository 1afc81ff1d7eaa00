"""The trust report's files and plots, from hand-made results (the ranking and the cascade are tested elsewhere)."""

import csv

import numpy as np
import pytest
from PIL import Image

from fashion_mnist_vis.explain.faithfulness import Curves, FaithfulnessSettings, summarise
from fashion_mnist_vis.explain.ranking import MethodScore, Ranking, ranking_rows, ranking_table
from fashion_mnist_vis.explain.sanity import SanityResult, SanityStep
from fashion_mnist_vis.visualize.trust_plots import plot_faithfulness_curves, plot_sanity
from fashion_mnist_vis.visualize.trust_report import RANKING_FILES, SANITY_FILES, write_ranking, write_sanity

FRACTIONS = np.linspace(0, 1, 5)


def curves(deletion, insertion):
    return Curves(FRACTIONS, np.array(deletion, np.float32), np.array(insertion, np.float32))


@pytest.fixture
def ranking():
    good = summarise("gradcam", [curves([1, 0.2, 0.1, 0.1, 0.2], [0.2, 0.8, 0.9, 1, 1])])
    poor = summarise("saliency", [curves([1, 0.8, 0.6, 0.3, 0.2], [0.2, 0.2, 0.4, 0.8, 1])])
    random = summarise("random", [curves([1, 0.9, 0.7, 0.4, 0.2], [0.2, 0.1, 0.3, 0.7, 1])])
    scores = (MethodScore("gradcam", "Grad-CAM", good, 0.004), MethodScore("saliency", "Saliency", poor, 0.002))
    return Ranking(scores, random, {"cam": "no GAP -> Dense"}, 1, FaithfulnessSettings(steps=4))


def sanity_results():
    def step(name, count, value):
        return SanityStep(name, count, np.array([value, value]), np.array([value / 2, value / 2]))
    edges = SanityResult("edges", 2, (step("dense", 1, 1.0), step("conv2d", 2, 1.0)), 0.5)
    gradcam = SanityResult("gradcam", 2, (step("dense", 1, 0.3), step("conv2d", 2, -0.1)), 0.5)
    return [edges, gradcam]


def test_ranking_rows_and_table_by_hand(ranking):
    rows = ranking_rows(ranking)
    assert [row["method"] for row in rows] == ["gradcam", "saliency", "random"]
    # gradcam's deletion curve: 0.25 * (1/2 + 0.2 + 0.1 + 0.1 + 0.2/2) = 0.25; insertion: 0.825
    assert rows[0]["deletion_auc"] == pytest.approx(0.25)
    assert rows[0]["insertion_auc"] == pytest.approx(0.25 * (0.1 + 0.8 + 0.9 + 1 + 0.5))
    assert rows[0]["rank"] == 1 and rows[2]["rank"] == ""
    table = ranking_table(ranking)
    assert "| 1 | gradcam | 0.250 ± 0.000 | 0.825 ± 0.000 | 0.575 | 4.0 |" in table
    assert "cam: not applicable (no GAP -> Dense)" in table


def test_write_ranking_writes_csv_markdown_and_a_plot(ranking, tmp_path):
    assert write_ranking(ranking, tmp_path, "test images") == list(RANKING_FILES)
    with open(tmp_path / "explanations.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["method"] for row in rows] == ["gradcam", "saliency", "random"]
    assert (tmp_path / "explanations.md").read_text() == ranking_table(ranking)
    with Image.open(tmp_path / "explanation_curves.png") as picture:
        assert picture.width > 800
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temporary file


def test_write_sanity_writes_one_row_per_method_and_layer(tmp_path):
    results = sanity_results()
    assert write_sanity(results, tmp_path, "test images") == list(SANITY_FILES)
    with open(tmp_path / "sanity.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["method"], row["layer"], row["depends_on_model"]) for row in rows] == [
        ("edges", "dense", "False"), ("edges", "conv2d", "False"),
        ("gradcam", "dense", "True"), ("gradcam", "conv2d", "True")]
    table = (tmp_path / "sanity.md").read_text().splitlines()
    assert table[0] == "| method | dense | conv2d | depends on the model |"
    assert table[2] == "| edges | 1.00 / 0.50 | 1.00 / 0.50 | **no** (flagged) |"
    assert table[3] == "| gradcam | 0.30 / 0.15 | -0.10 / -0.05 | yes |"


def test_plots_label_every_method_and_the_random_order(ranking):
    figure = plot_faithfulness_curves([(score.method, score.summary.curves) for score in ranking.scores],
                                      ranking.random.curves)
    deletion_ax = figure.axes[0]
    labels = [text.get_text() for text in deletion_ax.get_legend().get_texts()]
    assert labels == ["gradcam (0.250)", "saliency (0.575)", "random order (0.650)"]
    sanity = plot_sanity(sanity_results())
    legend = [text.get_text() for text in sanity.axes[1].get_legend().get_texts()]
    assert legend == ["edges (flagged)", "gradcam", "flag threshold (0.5)"]
    assert [tick.get_text() for tick in sanity.axes[0].get_xticklabels()] == ["trained", "dense", "conv2d"]
