"""Write the explanation methods' comparison of one image: its plots and its ``index.html``.

Files written into the image's folder (each atomically, as in
:mod:`fashion_mnist_vis.visualize.image_report`):

* ``input_image.png``, ``greyscale_input.png``, ``rescaled_model_input.png``
  (the photo on its way to the model, as on classify's page);
* ``methods.png``: one row per method, the map and the map over the photo
  (:func:`~fashion_mnist_vis.visualize.explanation_plots.plot_method_grid`);
* ``faithfulness.png`` when the deletion/insertion curves were computed;
* ``sanity.png`` when the cascading randomisation was run;
* ``index.html``.

:func:`method_sections` builds the page's sections on the methods alone, so
classify's page can show the same comparison (``classify.py --methods``).
"""

import html
from pathlib import Path
from typing import Callable, List

from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.explain.methods import EXPLAINERS
from fashion_mnist_vis.visualize import explanation_plots, html_page
from fashion_mnist_vis.visualize.html_page import ImagePage, Panel, Section

METHODS_GRID = "methods.png"
FAITHFULNESS_CURVES = "faithfulness.png"
SANITY_CURVES = "sanity.png"

REMOVED_PIXEL = {"black": "black, Fashion-MNIST's background",
                 "blur": "the same pixel of the image blurred by a Gaussian"}
"""What a removed pixel becomes, per baseline of :data:`fashion_mnist_vis.explain.faithfulness.BASELINES`."""


def method_sections(comparison, analysis, save: Callable[[object, str], str], number: int = 2) -> List[Section]:
    """The page's sections on the methods: the grid with a table, and the faithfulness curves when computed.

    Args:
        comparison: an :class:`~fashion_mnist_vis.explain.method_comparison.ImageComparison`.
        analysis: the image's :class:`~fashion_mnist_vis.explain.analysis.Analysis`
            (its photo and preprocessing).
        save: ``save(figure, file name) -> file name``, writing a figure into the page's folder.
        number: the first section's number on the page.
    """
    explanations = [result.explanation for result in comparison.results]
    grid = explanation_plots.plot_method_grid(explanations, analysis.prepared.model_input, analysis.photo,
                                              analysis.prepared.canvas_box)
    explained = html.escape(explanation_plots.explained_label(comparison.class_index, comparison.contrast_index))
    sections = [Section(
        "methods", f"{number}. Explanation methods side by side",
        f"Each method below answers \u201cwhich pixels made the model say {explained}?\u201d in its own way. "
        "Where they agree, the evidence is clear; where they differ, the methods measure different things "
        "(a gradient says what would change the score, a mask what the score needs). Red: strong evidence; "
        "blue: none. " + _method_table(comparison),
        [Panel(save(grid, METHODS_GRID), "The methods side by side",
               "One row per method: the map at the model input's size with its colour bar, and the same map "
               "laid over the original photo through the crop and padding that preprocessing applied "
               "(areas without colour were not part of the model's input).")])]
    if comparison.random_faithfulness is not None:
        curves = explanation_plots.plot_faithfulness_curves(comparison)
        sections.append(Section(
            "faithfulness", f"{number + 1}. Does the map point at what the model needs?",
            "A map is <em>faithful</em> when the pixels it ranks highest are the ones the model relies on "
            "(Petsiuk et al. 2018). <strong>Deletion</strong> removes pixels most-relevant-first (each becomes "
            f"{REMOVED_PIXEL[comparison.faithfulness_baseline]}) and follows the probability of the explained "
            "class: a faithful map makes it fall fast, a <em>low</em> area under the curve. "
            "<strong>Insertion</strong> starts with every pixel removed and puts them back in the same order: a "
            "faithful map makes the probability rise fast, a <em>high</em> area. The dotted black curve uses a "
            "random order: a map is worth "
            "something only where it beats that. " + _faithfulness_table(comparison),
            [Panel(save(curves, FAITHFULNESS_CURVES), "Deletion and insertion curves",
                   "Left: deletion; right: insertion. Each panel's legend gives each curve's area.")]))
    if any(result.sanity is not None for result in comparison.results):
        sections.append(Section(
            "sanity", f"{len(sections) + number}. Does the map depend on the model at all?",
            "The sanity check of Adebayo et al. (2018): the model's weighted layers are re-initialised with "
            "random weights, from the classifier down, one more at each step, and every map is computed again. "
            "A map that explains the model must change once the weights it explains are gone. A map whose "
            "pixel ranking stays close to the trained model's (rank correlation at or above the threshold "
            "with every layer random) shows the image, not the model, and is flagged. "
            + _sanity_table(comparison),
            [Panel(save(explanation_plots.plot_sanity_curves(comparison), SANITY_CURVES),
                   "Rank correlation and SSIM as the layers are randomised",
                   "Each line starts at 1 (the trained model's map compared with itself) and should fall towards 0 "
                   "as more layers lose their trained weights.")]))
    return sections


def _sanity_table(comparison) -> str:
    """An HTML table: per method the rank correlation / SSIM at each step, and the flag."""
    results = [result for result in comparison.results if result.sanity is not None]
    layers = [step.layer_name for step in results[0].sanity.steps]
    header = "".join(f"<th><code>{html.escape(layer)}</code></th>" for layer in layers)
    rows = []
    for result in results:
        cells = "".join(f'<td class="num">{step.mean_spearman:.2f} / {step.mean_ssim:.2f}</td>'
                        for step in result.sanity.steps)
        verdict = "yes" if result.sanity.depends_on_model else "<strong>no (flagged)</strong>"
        rows.append(f"<tr><td>{html.escape(result.explanation.title)}</td>{cells}<td>{verdict}</td></tr>")
    return ("<p>Each cell: Spearman rank correlation / SSIM with the trained model's map, with the layers "
            "re-initialised down to the column's.</p><div style=\"overflow-x:auto\"><table><tr><th>method</th>"
            f"{header}<th>depends on the model?</th></tr>" + "".join(rows) + "</table></div>")


def _faithfulness_table(comparison) -> str:
    """An HTML table of the deletion and insertion areas, the random order last, best deletion first."""
    random = comparison.random_faithfulness
    results = sorted(comparison.results, key=lambda result: result.faithfulness.deletion_auc)
    rows = []
    for result in results:
        curves = result.faithfulness
        beats = curves.deletion_auc < random.deletion_auc and curves.insertion_auc > random.insertion_auc
        rows.append(f"<tr><td>{html.escape(result.explanation.title)}</td>"
                    f'<td class="num">{curves.deletion_auc:.3f}</td><td class="num">{curves.insertion_auc:.3f}</td>'
                    f"<td>{'yes' if beats else 'no'}</td></tr>")
    rows.append(f"<tr><td><em>random order</em></td><td class=\"num\">{random.deletion_auc:.3f}</td>"
                f"<td class=\"num\">{random.insertion_auc:.3f}</td><td></td></tr>")
    return ("<table><tr><th>method</th><th>deletion area (lower is better)</th>"
            "<th>insertion area (higher is better)</th><th>beats the random order on both?</th></tr>"
            + "".join(rows) + "</table>")


def _method_table(comparison) -> str:
    """An HTML table: per method what it computes, its layer and its time; then the methods left out."""
    rows = []
    for result in comparison.results:
        explanation = result.explanation
        layer = f"<code>{html.escape(explanation.layer_name)}</code>" if explanation.layer_name else "input pixels"
        rows.append(f"<tr><td>{html.escape(explanation.title)}</td>"
                    f"<td>{html.escape(EXPLAINERS[explanation.method].summary)}</td><td>{layer}</td>"
                    f'<td class="num" style="white-space:nowrap">{1000 * result.seconds:.0f} ms</td></tr>')
    table = ("<table><tr><th>method</th><th>what it computes</th><th>layer</th>"
             "<th>time (the first image's includes tracing)</th></tr>"
             + "".join(rows) + "</table>")
    if comparison.skipped:
        listed = "".join(f"<li><strong>{html.escape(method)}</strong>: {html.escape(reason)}</li>"
                         for method, reason in comparison.skipped.items())
        table += f"<p>Not applicable to this model:</p><ul>{listed}</ul>"
    return table


def write_explanation_report(analysis, comparison, folder: Path, model_label: str) -> List[Path]:
    """Write the comparison of one image's explanations and its ``index.html`` into ``folder``.

    Args:
        analysis: the classified image (``Analyser(...).analyse(path)``).
        comparison: its :class:`~fashion_mnist_vis.explain.method_comparison.ImageComparison`.
        model_label: one line describing the model.

    Returns:
        The paths written, ``index.html`` last.
    """
    from fashion_mnist_vis.visualize import image_report

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: List[Path] = []

    def save(figure, name: str) -> str:
        written.append(image_report.save_plot(figure, folder / name))
        return name

    sections = method_sections(comparison, analysis, save, number=1)
    sections.append(Section("input", f"{len(sections) + 1}. From photo to model input",
                            "What the maps above are computed on: the photo turned into what a Fashion-MNIST model "
                            "knows, a small greyscale picture of a light item on black.",
                            image_report.input_panels(analysis, save)))
    page = ImagePage(
        source=str(analysis.path), prediction=analysis.prediction, score=analysis.score,
        top_k=[(CLASS_NAMES[index], score) for index, score in analysis.top_k], model=model_label,
        settings=image_report.describe_settings(**analysis.settings), sections=sections,
        notes=_notes(analysis, comparison),
        heading="Why the network says what it says about")
    written.append(image_report.write_page(folder, html_page.render_image_page(page)))
    return written


def _notes(analysis, comparison) -> List[str]:
    from fashion_mnist_vis.visualize.image_report import unfamiliarity_notes

    notes = unfamiliarity_notes(analysis)
    if comparison.class_index != analysis.predicted:
        notes.append(f"The maps explain \u201c{CLASS_NAMES[comparison.class_index]}\u201d, not the prediction "
                     f"\u201c{analysis.prediction}\u201d.")
    return notes
