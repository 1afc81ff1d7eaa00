"""The files ``evaluate --explanations N`` and ``--sanity N`` write: tables (CSV and Markdown) and plots.

Files (all in the output folder, each written atomically):
    explanations.csv         one row per method, best first, then the random order: the areas
                             under the deletion and insertion curves with their standard errors
    explanations.md          the same as a Markdown table (printed by evaluate)
    explanation_curves.png   the averaged deletion and insertion curves, the random order's dotted
    sanity.csv               one row per method and re-initialised layer: mean Spearman and SSIM
    sanity.md                one row per method, one column per layer, and the flag
    sanity.png               the similarities per layer, one line per method
"""

import csv
from pathlib import Path
from typing import List, Sequence

from fashion_mnist_vis.atomic import atomic_path, write_text_atomic
from fashion_mnist_vis.explain.ranking import Ranking, ranking_rows, ranking_table
from fashion_mnist_vis.explain.sanity import SanityResult, sanity_table
from fashion_mnist_vis.visualize.plots import save_figure
from fashion_mnist_vis.visualize.trust_plots import plot_faithfulness_curves, plot_sanity

RANKING_FILES = ("explanations.csv", "explanations.md", "explanation_curves.png")
SANITY_FILES = ("sanity.csv", "sanity.md", "sanity.png")


def _write_csv(path: Path, rows: Sequence[dict]) -> None:
    with atomic_path(path) as temp, open(temp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_ranking(ranking: Ranking, folder: Path, source: str) -> List[str]:
    """Write :data:`RANKING_FILES` for ``ranking`` into ``folder``; ``source`` says what the images
    were (e.g. "500 Fashion-MNIST test images"), for the plot's title. Returns the file names."""
    folder = Path(folder)
    _write_csv(folder / RANKING_FILES[0], ranking_rows(ranking))
    write_text_atomic(folder / RANKING_FILES[1], ranking_table(ranking))
    settings = ranking.settings
    baseline = f"a {settings.blur_sigma:g}-pixel blur" if settings.baseline == "blur" else "black"
    title = (f"Deletion and insertion, averaged over {ranking.images} {source} "
             f"(removed pixels become {baseline}; {settings.steps} steps)")
    figure = plot_faithfulness_curves([(score.method, score.summary.curves) for score in ranking.scores],
                                      ranking.random.curves, title)
    save_figure(figure, folder / RANKING_FILES[2])
    return list(RANKING_FILES)


def write_sanity(results: Sequence[SanityResult], folder: Path, source: str) -> List[str]:
    """Write :data:`SANITY_FILES` for the randomisation test's ``results`` into ``folder``. Returns the file names."""
    folder = Path(folder)
    rows = [{"method": result.method, "layers_randomised": step.layers_randomised, "layer": step.layer_name,
             "images": result.images, "spearman": round(step.mean_spearman, 4), "ssim": round(step.mean_ssim, 4),
             "depends_on_model": result.depends_on_model}
            for result in results for step in result.steps]
    _write_csv(folder / SANITY_FILES[0], rows)
    write_text_atomic(folder / SANITY_FILES[1], sanity_table(results))
    images = results[0].images if results else 0
    figure = plot_sanity(results, f"Model-randomisation test on {images} {source}: "
                                  "how similar each map stays as layers are re-initialised")
    save_figure(figure, folder / SANITY_FILES[2])
    return list(SANITY_FILES)
