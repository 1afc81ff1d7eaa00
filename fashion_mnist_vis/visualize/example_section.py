"""The "training images it resembles" section of classify's page: explanation by example, drawn.

Takes an :class:`~fashion_mnist_vis.explain.examples.ExampleExplanation`
(plain data: thumbnails, labels, distances) and returns a page
:class:`~fashion_mnist_vis.visualize.html_page.Section` of three panels, each
a grid of training thumbnails (:func:`fashion_mnist_vis.visualize.plots.plot_image_grid`)
saved with the page's ``save(figure, name)``:

* ``neighbours.png``: the K nearest training images, nearest first, with
  label and cosine distance; those of another class than the prediction
  are titled in red with a "≠";
* ``prototypes.png``: the predicted class's prototypes;
* ``atypical.png``: the predicted class's most atypical training images.
"""

import html
from typing import Callable, List, Sequence

import numpy as np

from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.explain.examples import Example, ExampleExplanation
from fashion_mnist_vis.visualize.html_page import Panel, Section
from fashion_mnist_vis.visualize.plots import plot_image_grid

NEIGHBOURS_FILE = "neighbours.png"
PROTOTYPES_FILE = "prototypes.png"
ATYPICAL_FILE = "atypical.png"
FILES = (NEIGHBOURS_FILE, PROTOTYPES_FILE, ATYPICAL_FILE)
COLUMNS = 5
"""Thumbnails per row: at 1.6 inches each, a row of five fits the page at its own size, titles readable."""
OTHER_CLASS_COLOUR = "#c62828"
SAME_CLASS_COLOUR = "black"


def plot_examples(examples: Sequence[Example], title: str, predicted: int, distance_label: str = "d"):
    """A grid of training thumbnails titled with rank, class, distance and training-set position.

    Examples whose label is not ``predicted`` get a red title starting with "≠".
    Returns the matplotlib Figure.
    """
    images = np.stack([example.image for example in examples])
    titles, colours = [], []
    for rank, example in enumerate(examples, start=1):
        other = example.label != predicted
        name = CLASS_NAMES[example.label]
        titles.append(f"{'≠ ' if other else ''}{rank}. {name}\n{distance_label} = {example.distance:.3f}\n"
                      f"train #{example.train_index}")
        colours.append(OTHER_CLASS_COLOUR if other else SAME_CLASS_COLOUR)
    return plot_image_grid(images, titles, columns=COLUMNS, suptitle=title, title_colors=colours)


def example_section(explanation: ExampleExplanation, save: Callable[[object, str], str], number: int,
                    unfamiliarity=None) -> Section:
    """The page section of ``explanation``; ``number`` is the section's number on the page."""
    predicted = CLASS_NAMES[explanation.predicted]
    nearest = explanation.nearest
    agreeing = sum(example.label == explanation.predicted for example in nearest)
    panels: List[Panel] = [Panel(
        save(plot_examples(nearest, f"The {len(nearest)} nearest of {explanation.training_size:,} training images",
                           explanation.predicted), NEIGHBOURS_FILE),
        "Nearest training images",
        f"The {len(nearest)} training images whose embeddings point most nearly the same way as this "
        f"image's, nearest first. <strong>{agreeing} of {len(nearest)}</strong> are labelled "
        f"<strong>{html.escape(predicted)}</strong>, the prediction"
        + ("; those of another class are titled in red with \u201c\u2260\u201d: what the network finds "
           "this image alike to besides its answer." if agreeing < len(nearest) else
           ", so the answer is backed by similar training images.")
        + " <em>d</em> is the cosine distance and <em>train #</em> the image's position in the training set.")]
    if explanation.prototypes:
        panels.append(Panel(
            save(plot_examples(explanation.prototypes, f"Prototypes of {predicted}", explanation.predicted),
                 PROTOTYPES_FILE),
            f"Prototypes of {predicted}",
            f"Typical training images of <strong>{html.escape(predicted)}</strong>: its training images' "
            "embeddings are split into groups by k-means and each group is shown by its medoid (the member "
            "closest to all the others), largest group first. They show the usual ways the class looks to "
            "the network; <em>d</em> is each one's cosine distance from this image."))
    if explanation.atypical:
        panels.append(Panel(
            save(plot_examples(explanation.atypical, f"Atypical training images of {predicted}",
                               explanation.predicted, distance_label="from centre"), ATYPICAL_FILE),
            f"Atypical training images of {predicted}",
            f"The training images labelled <strong>{html.escape(predicted)}</strong> that the network "
            "places farthest from the centre of their class (cosine distance from the mean direction of the "
            "class's embeddings), most atypical first: unusual items, ambiguous ones, or labelling mistakes."))
    return Section(
        "examples", f"{number}. Training images it resembles",
        unfamiliarity_html(unfamiliarity) + "The network turns every image into a list of numbers, its <em>embedding</em> "
        f"({html.escape(explanation.layer_role)}, <code>{html.escape(explanation.layer_name)}</code>): the "
        "features the classifier reads. Images the network finds alike get embeddings pointing the same way. "
        "Comparing this image's embedding with those of all "
        f"{explanation.training_size:,} training images ({html.escape(explanation.training_source)}) shows "
        "which examples the answer rests on. Cosine distance: 0 = the same direction, 1 = unrelated.",
        panels)


def unfamiliarity_html(found) -> str:
    """A paragraph on how familiar the image looks to the network (``found``: its
    :class:`~fashion_mnist_vis.explain.unfamiliarity.Unfamiliarity`; '' for None)."""
    if found is None:
        return ""
    measure = (f"Its embedding: {found.embedding_figures()} (with the checks of the image's own pixels, the "
               f"thresholds flag {100 * found.flagged_share:g}% of real Fashion-MNIST test images).")
    if found.flagged:
        return ("<p><strong>\u26a0 This does not look like a Fashion-MNIST garment</strong> "
                f"({html.escape(found.reasons())}). " + measure
                + " The network still names one of its 10 classes (it knows no other answer), but the "
                "prediction above means little: the image is unlike anything it was trained on.</p>")
    return f"<p><strong>Familiar:</strong> this image looks like the training images. {measure}</p>"
