"""Plots of whether explanations can be trusted: faithfulness curves and the randomisation test.

:func:`plot_faithfulness_curves` draws deletion and insertion curves (one image's or averages,
:mod:`fashion_mnist_vis.explain.faithfulness`) side by side with the random order's;
:func:`plot_sanity` draws each method's similarity to its original maps as the model's layers
are re-initialised from the top (:mod:`fashion_mnist_vis.explain.sanity`). Both return a
``Figure`` (see :mod:`fashion_mnist_vis.visualize.plots`).
"""

from typing import Optional, Sequence, Tuple

from matplotlib.figure import Figure

from fashion_mnist_vis.explain.faithfulness import Curves
from fashion_mnist_vis.explain.sanity import SanityResult

RANDOM_STYLE = {"color": "black", "linestyle": ":", "linewidth": 2.2}


def _line_style(index: int) -> dict:
    """Ten colours, then the same colours dashed: up to twenty methods stay distinguishable."""
    return {"color": f"C{index % 10}", "linestyle": "-" if index < 10 else "--", "linewidth": 1.5}


def plot_faithfulness_curves(curves: Sequence[Tuple[str, Curves]], random: Optional[Curves] = None,
                             title: str = "Deletion and insertion curves",
                             ylabel: str = "probability of the explained class") -> Figure:
    """Deletion (left) and insertion (right) curves, one line per method, the random order dotted;
    each panel's legend gives each curve's area.

    Args:
        curves: (label, :class:`~fashion_mnist_vis.explain.faithfulness.Curves`) per method, in legend order:
            one image's (explain.py's page) or averages over many (evaluate).
        random: the random pixel order's curves, drawn for comparison when given.
        title: the figure's title (say how many images were averaged, and the baseline).
        ylabel: the y axis's label (name the class when there is one).
    """
    figure = Figure(figsize=(11, 4.8))
    deletion_ax, insertion_ax = figure.subplots(1, 2, sharey=True)
    drawn = list(curves) + ([("random order", random)] if random is not None else [])
    for index, (label, curve) in enumerate(drawn):
        style = RANDOM_STYLE if random is not None and index == len(drawn) - 1 else _line_style(index)
        deletion_ax.plot(curve.fractions, curve.deletion, label=f"{label} ({curve.deletion_auc:.3f})", **style)
        insertion_ax.plot(curve.fractions, curve.insertion, label=f"{label} ({curve.insertion_auc:.3f})", **style)
    deletion_ax.set_title("Deletion: most relevant pixels removed first\n(area under the curve: lower is better)")
    insertion_ax.set_title("Insertion: most relevant pixels revealed first\n(area under the curve: higher is better)")
    for ax, verb in ((deletion_ax, "removed"), (insertion_ax, "revealed")):
        ax.set_xlabel(f"share of pixels {verb}")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        # Upper right of the deletion panel and upper left of the insertion panel: where the curves are not.
        ax.legend(fontsize=7, loc="upper right" if ax is deletion_ax else "upper left", title="method (area)",
                  title_fontsize=7)
    deletion_ax.set_ylabel(ylabel)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_sanity(results: Sequence[SanityResult], title: str = "Model-randomisation test") -> Figure:
    """Spearman rank correlation (left) and SSIM (right) of each method's maps with its trained-model
    maps, as layers are re-initialised from the classifier down; the flag's threshold dashed.

    Args:
        results: one :class:`~fashion_mnist_vis.explain.sanity.SanityResult` per method, all of the same model.
        title: the figure's title.
    """
    figure = Figure(figsize=(11, 5.2))
    spearman_ax, ssim_ax = figure.subplots(1, 2, sharey=True)
    labels = ["trained"] + [step.layer_name for step in results[0].steps] if results else ["trained"]
    positions = range(len(labels))
    for index, result in enumerate(results):
        flag = "" if result.depends_on_model else " (flagged)"
        spearman_ax.plot(positions, [1.0] + [step.mean_spearman for step in result.steps], marker="o",
                         markersize=3, label=result.method + flag, **_line_style(index))
        ssim_ax.plot(positions, [1.0] + [step.mean_ssim for step in result.steps], marker="o", markersize=3,
                     label=result.method + flag, **_line_style(index))
    if results:
        spearman_ax.axhline(results[0].threshold, color="grey", linestyle="--", linewidth=1,
                            label=f"flag threshold ({results[0].threshold:g})")
    lowest = min([0.0] + [min(step.mean_spearman, step.mean_ssim) for result in results for step in result.steps])
    for ax, name in ((spearman_ax, "Rank correlation (Spearman)"), (ssim_ax, "SSIM")):
        ax.set_xticks(list(positions), labels, rotation=45, ha="right", fontsize=8)
        ax.set_xlabel("re-initialised from the classifier down to this layer")
        ax.set_title(f"{name} with the original map")
        ax.set_ylim(max(-1.02, min(-0.25, lowest - 0.1)), 1.02)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.grid(alpha=0.3)
    spearman_ax.set_ylabel("similarity" if results and results[0].images == 1 else "similarity (mean over images)")
    handles, names = spearman_ax.get_legend_handles_labels()  # the methods and the threshold
    ssim_ax.legend(handles, names, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="method")
    figure.suptitle(title)
    figure.tight_layout()
    return figure
