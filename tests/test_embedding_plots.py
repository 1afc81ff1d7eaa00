"""embedding_plots: class-coloured scatter plots with a legend and axis labels."""

import numpy as np
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.visualize.embedding_plots import CLASS_COLOURS, plot_projection, projection_title


def test_scatter_has_one_coloured_legend_entry_per_class_and_axis_labels():
    labels = np.repeat(np.arange(10), 5)
    coords = np.stack([labels, labels ** 2], axis=1).astype(float)
    figure = plot_projection(coords, labels, "title here", ("PC1", "PC2"))
    (ax,) = figure.axes
    assert ax.get_xlabel() == "PC1" and ax.get_ylabel() == "PC2" and ax.get_title() == "title here"
    texts = [text.get_text() for text in ax.get_legend().get_texts()]
    assert texts == [f"{name} (5)" for name in CLASS_NAMES]
    colours = [to_hex(collection.get_facecolor()[0]) for collection in ax.collections]
    assert colours == list(CLASS_COLOURS)
    for label, collection in enumerate(ax.collections):
        np.testing.assert_array_equal(collection.get_offsets(), coords[labels == label])


def test_missing_classes_are_left_out_and_an_axes_can_be_given():
    figure = Figure()
    ax = figure.subplots()
    assert plot_projection(np.zeros((3, 2)), np.array([2, 2, 7]), "t", ax=ax) is figure
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["Pullover (2)", "Coat (1)"][:1] + ["Sneaker (1)"]


def test_title_says_when_points_were_sampled():
    assert projection_title("t-SNE", 2000, 10000, "gap embeddings", "perplexity 30") == (
        "t-SNE of gap embeddings\n2000 of 10000 points (stratified sample); perplexity 30")
    assert projection_title("PCA", 300, 300, "x") == "PCA of x\nall 300 points"
