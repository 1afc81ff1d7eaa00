"""Write the channel atlas (:class:`~fashion_mnist_vis.explain.atlas.Atlas`) as HTML pages and PNGs.

Files (each written atomically; only these names):

* ``index.html``: the model, the images searched, how to read the pages, the
  class pictures (``classes.png``), the first layer's filters
  (``<first layer>_weights.png``) and a table of the layers linking to their pages;
* ``<layer>.html`` per convolution: what the layer does, its receptive field,
  the maximising inputs of all its channels (``<layer>_maximising.png``) and
  one card per channel (``<layer>/channel_<n>.png``, see
  :func:`~fashion_mnist_vis.visualize.atlas_plots.channel_card`).

The pages are self-contained (inline CSS from
:func:`~fashion_mnist_vis.visualize.html_page.page_head`, no scripts, only
relative links), so the folder can be opened from disk or served.
"""

import html
from collections import Counter
from pathlib import Path
from typing import List
from urllib.parse import quote

import numpy as np

from fashion_mnist_vis.atomic import atomic_path, write_text_atomic
from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.visualize import atlas_plots
from fashion_mnist_vis.visualize.html_page import Panel, page_head, panel_html
from fashion_mnist_vis.visualize.image_report import PNG_COMPRESS_LEVEL, layer_file_names, save_plot

INDEX = "index.html"
CLASSES_FILE = "classes.png"
CONCEPTS_FILE = "concepts.png"


def _save_image(image, path: Path) -> None:
    with atomic_path(path) as temp:
        image.save(temp, format="PNG", compress_level=PNG_COMPRESS_LEVEL)


def _link(target: str, text: str) -> str:
    return f'<a href="{html.escape(quote(target), quote=True)}">{text}</a>'


def _shape(shape) -> str:
    return " \u00d7 ".join(str(int(size)) for size in shape)


def _field_text(layer) -> str:
    size, jump = layer.field.size, layer.field.jump
    return (f"{size[0]} \u00d7 {size[1]} input pixels, one unit every {jump[0]} pixel{'s' if jump[0] > 1 else ''}"
            + (" (more than the 28 \u00d7 28 image: each unit sees all of it)" if min(size) >= 28 else ""))


def write_atlas(atlas, folder: Path, model_label: str, images_label: str) -> Path:
    """Write every page and picture of ``atlas`` into ``folder`` (created if needed); return index.html's path.

    Args:
        atlas: a :class:`~fashion_mnist_vis.explain.atlas.Atlas`.
        folder: where to write.
        model_label: one line naming the model; images_label: one line naming the images searched.
    """
    folder = Path(folder)
    stems = {name: Path(file).stem for name, file in
             layer_file_names([layer.name for layer in atlas.layers]).items()}
    if atlas.classes is not None:
        save_plot(atlas_plots.plot_class_pictures(atlas.classes), folder / CLASSES_FILE)
    if atlas.concepts is not None:
        save_plot(atlas_plots.plot_concepts(atlas.images, atlas.labels, atlas.concepts), folder / CONCEPTS_FILE)
    first = atlas.layers[0]
    weights_file = f"{stems[first.name]}_weights.png"
    save_plot(atlas_plots.plot_filter_weights(first.weights, first.name), folder / weights_file)
    for layer in atlas.layers:
        _write_layer(atlas, layer, folder, stems[layer.name], model_label)
    write_text_atomic(folder / INDEX, _index_page(atlas, stems, weights_file, model_label, images_label))
    return folder / INDEX


def _index_page(atlas, stems, weights_file: str, model_label: str, images_label: str) -> str:
    rows = []
    for layer in atlas.layers:
        dead = int((layer.top.scores[:, 0] <= 0).sum())
        rows.append(
            f"<tr><td>{_link(stems[layer.name] + '.html', f'<code>{html.escape(layer.name)}</code>')}</td>"
            f"<td>{html.escape(layer.layer_type)}</td><td>{_shape(layer.output_shape)}</td>"
            f"<td>{html.escape(_field_text(layer))}</td><td class=\"num\">{dead}</td></tr>")
    parts = [
        page_head(f"What each channel looks for: {model_label}"),
        "<h1>What each channel looks for</h1>",
        f'<div class="summary"><p>Model: {html.escape(model_label)}<br>Images searched: {html.escape(images_label)}</p>'
        f"<p>{_timing(atlas)}</p></div>",
        "<p>A convolutional layer has many <em>channels</em>: each slides one learnt filter over its input and "
        "answers, at every position, &ldquo;how much of my pattern is here?&rdquo;. This atlas shows each "
        "channel of each convolution in three ways: the <strong>training images</strong> that excite it most, "
        "with the patch its strongest unit saw outlined in red (its <em>receptive field</em>); the "
        "<strong>input that excites it most</strong>, found by gradient ascent on the pixels (activation "
        "maximisation); and, for the first layer, its <strong>weights</strong>. Early layers see small patches "
        "and look for edges and textures; deeper layers see most of the image and respond to parts of garments "
        "or whole shapes.</p>",
        "<h2>Layers</h2>",
        "<table><tr><th>layer</th><th>type</th><th>output</th><th>receptive field</th>"
        "<th>channels never on</th></tr>", *rows, "</table>",
        "<p>&ldquo;Never on&rdquo; counts channels whose output stayed at 0 for every image searched "
        "(&ldquo;dead&rdquo; channels: the network does not use them).</p>",
    ]
    if atlas.classes is not None:
        parts.append(panel_html(Panel(CLASSES_FILE, "What each class looks like to the network", _classes_caption(),
                                      "the maximising input of each class")))
    if atlas.concepts is not None:
        parts.append(panel_html(Panel(CONCEPTS_FILE, f"Concepts in {atlas.concepts.layer_name}",
                                      _concepts_caption(atlas.concepts), "concepts of the last convolution")))
    kernel = _shape(atlas.layers[0].weights.shape[:2])
    parts.append(panel_html(Panel(
        weights_file, f"The first layer's filters ({atlas.layers[0].name})",
        f"Each square is one filter of the first convolution: the weights it multiplies a {kernel} patch of "
        "pixels by, before adding them up. Red weights reward bright pixels, blue ones "
        "dark pixels, so a filter red on one side and blue on the other responds to an edge between them. All "
        "filters share one colour scale (the colour bar; the few largest weights saturate).",
        "first layer filter weights")))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _timing(atlas) -> str:
    names = {"search": "searching the images", "channels": "maximising the channels", "classes": "the classes"}
    times = ", ".join(f"{names[key]} {seconds:.0f} s" for key, seconds in atlas.seconds.items())
    return f"Time taken: {html.escape(times)}." if times else ""


def _classes_caption() -> str:
    return (
        "Each picture is the input that raises one class's score (its logit, before the softmax) the most, by "
        "gradient ascent from the same grey noise (Simonyan et al. 2014). <strong>Top row:</strong> the "
        "picture may only be a mix of the 48 most important patterns (principal components) of the training "
        "images, plus their mean, so it stays something like a Fashion-MNIST image: the network's idea of a "
        "trouser, a sneaker, a bag. <strong>Bottom row:</strong> any pixels allowed, with only jitter, "
        "smoothness (total variation) and a small penalty on brightness to hold them back: the network is "
        "just as sure of these textures, which look like no garment (Nguyen et al. 2015, &ldquo;Deep Neural "
        "Networks are Easily Fooled&rdquo;). A classifier only learnt to tell ten classes apart, not what "
        "clothes look like; the percentages under each picture are the model's probability for its class."
    )


def _concepts_caption(concepts) -> str:
    count = concepts.found.channels.shape[0]
    return (
        f"Deep Feature Factorisation (Collins et al. 2018) on <code>{html.escape(concepts.layer_name)}</code>, the "
        f"last convolution, for one training image of each class: its channels' values at every position are "
        f"split by non-negative matrix factorisation into {count} <em>concepts</em>, groups of channels that "
        "fire together, each with a map of where it is. Each pixel takes the colour of its strongest concept, "
        "more opaque where it is stronger; the legend names each concept's three main channels (look them up "
        "on the layer's page). The same colour means the same concept in every image, so you can see which "
        "parts of different garments the network treats alike. The error is how much of the activations the "
        f"{count} concepts leave unexplained."
    )


def _layer_intro(layer) -> str:
    size = layer.field.size
    config = layer.config
    kernel = "\u00d7".join(map(str, config.get("kernel_size", ())))
    activation = config.get("activation", "linear")
    text = (f"<code>{html.escape(layer.name)}</code> is a {html.escape(layer.layer_type)} layer: "
            f"{layer.output_shape[-1]} filters of {kernel} pixels slide over its "
            f"{_shape(layer.input_shape)} input and give a {_shape(layer.output_shape)} output"
            + (f", then a {html.escape(activation)} activation." if activation != "linear" else "."))
    text += (f" Each unit of this layer sees {html.escape(_field_text(layer))}: its <em>receptive field</em>, "
             "worked out from the kernel sizes, strides and pooling of the layers before it.")
    if min(size) < 28:
        text += (" In each card the red square is the field of the unit that responded most, and the row "
                 "below shows those patches enlarged; look there for what the patches have in common.")
    else:
        text += (" The field covers the whole image, so the channel can respond to the shape of the whole "
                 "garment; no patch is outlined.")
    return text


def _cards_intro(layer) -> str:
    text = ("Each card shows one channel. <strong>Left:</strong> the training images with the strongest "
            "response (the channel's largest value over all positions), best first, with their class and "
            "that value. ")
    if layer.maximised is not None:
        text += ("<strong>Right, &ldquo;maximising&rdquo;:</strong> the input that raises the channel's centre "
                 "unit the most (before its ReLU), by gradient ascent from grey noise with jitter, smoothness "
                 "and brightness penalties; its field is outlined in orange. &ldquo;1.5x best&rdquo; means it "
                 "excites the channel 1.5 times as much as the best training image. ")
        if min(layer.field.size) >= 28:
            text += ("In a layer this deep the maximising inputs are textures: with any pixels allowed, the "
                     "strongest input for a deep unit is a dense mix of the patterns earlier layers detect, "
                     "unlike any garment (the class pictures on the index page show what a data prior changes). "
                     "Here the strongest training images say more. ")
    if layer.weights is not None:
        text += ("<strong>Far right:</strong> the filter's weights (red positive, blue negative, scaled to this "
                 "filter's largest weight).")
    return text


def _write_layer(atlas, layer, folder: Path, stem: str, model_label: str) -> None:
    card_folder = folder / stem
    cards: List[str] = []
    for channel in range(layer.output_shape[-1]):
        card_file = f"{stem}/channel_{channel:03d}.png"
        _save_image(atlas_plots.channel_card(layer, channel, atlas.images, atlas.labels), card_folder /
                    Path(card_file).name)
        alt = f"channel {channel} of {html.escape(layer.name)}"
        cards.append(f'<h3 id="channel-{channel}">channel {channel}</h3>\n<figure><img src="'
                     f'{html.escape(quote(card_file), quote=True)}" alt="{alt}">'
                     f"<figcaption>{_card_caption(layer, channel, atlas.labels)}</figcaption></figure>")
    parts = [page_head(f"{layer.name}: what each channel looks for"),
             f'<p>{_link(INDEX, "&larr; all layers")}</p>',
             f"<h1>What each channel of <code>{html.escape(layer.name)}</code> looks for</h1>",
             f"<p>{_layer_intro(layer)}</p>"]
    if layer.maximised is not None:
        grid_file = f"{stem}_maximising.png"
        save_plot(atlas_plots.plot_maximised_grid(layer), folder / grid_file)
        parts.append(panel_html(Panel(
            grid_file, "All channels at a glance",
            "The input that excites each channel's centre unit most, all channels in one grid. Patterns "
            "smaller than the image are this layer's receptive field at work: pixels outside it do not "
            "matter to the unit and stay near the grey start, darkened by the brightness penalty.",
            f"maximising inputs of {layer.name}")))
    parts += ["<h2>Channel by channel</h2>", f"<p>{_cards_intro(layer)}</p>", *cards, "</body></html>\n"]
    write_text_atomic(folder / f"{stem}.html", "\n".join(parts))


def _card_caption(layer, channel: int, labels: np.ndarray) -> str:
    scores = layer.top.scores[channel]
    if scores[0] <= 0:
        return "This channel stayed at 0 for every image searched: the network does not use it."
    classes = Counter(CLASS_NAMES[int(labels[index])] for index in layer.top.indices[channel])
    summary = ", ".join(f"{name} \u00d7 {count}" for name, count in classes.most_common())
    return f"Strongest images: {html.escape(summary)}; responses {scores[-1]:.3g} to {scores[0]:.3g}."

