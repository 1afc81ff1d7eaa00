"""The ``index.html`` pages that tie a classification's plots together for a reader.

:func:`render_image_page` returns one self-contained HTML page (inline CSS,
no scripts, no external resources, only relative links to the PNG files in
its own folder) that walks through the input, every layer in model order and
the class activation maps, each with a caption written for someone learning
how CNNs work. :func:`render_batch_page` lists several classified images and
links to their pages.

The caption helpers (:func:`layer_caption`, :func:`cam_caption`, ...) are
plain text builders; they take layer configurations as dicts
(``layer.get_config()``) so this module needs no TensorFlow.
"""

import html
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple
from urllib.parse import quote

from fashion_mnist_vis.explain.cam import CAM, GRAD_CAM

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1000px;
       margin: 0 auto; padding: 1rem 1.5rem 3rem; color: #222; line-height: 1.5; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; }
h3 { font-size: 1.05rem; margin: 1.6rem 0 0.3rem; font-family: Menlo, Consolas, monospace; }
figure { margin: 0.5rem 0 1.5rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { font-size: 0.93rem; color: #444; margin-top: 0.3rem; }
.summary { background: #f4f7fb; border: 1px solid #d5e0ee; border-radius: 6px; padding: 0.8rem 1.2rem; }
.prediction { font-size: 1.3rem; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #d0d0d0; padding: 0.25rem 0.7rem; text-align: left; }
th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #6b4e00; background: #fff7e0; border-left: 4px solid #e0b000; padding: 0.4rem 0.8rem; }
nav ul { font-size: 0.93rem; }
code { font-family: Menlo, Consolas, monospace; font-size: 0.92em; }
"""


@dataclass(frozen=True)
class Panel:
    """One figure on the page: a PNG in the page's folder with a heading and a caption."""

    file: str
    heading: str
    caption: str
    alt: str = ""


@dataclass(frozen=True)
class Section:
    """A group of panels under one heading, with an introduction."""

    anchor: str
    heading: str
    intro: str
    panels: Sequence[Panel] = ()


@dataclass
class ImagePage:
    """Everything :func:`render_image_page` shows.

    Attributes:
        source: the classified file's name, as given.
        prediction: the predicted class name; score: its probability (0..1).
        top_k: (class name, probability) pairs, best first.
        model: a one-line description of the model.
        settings: a one-line description of the preprocessing settings.
        sections: the page's sections in order.
        notes: sentences shown in a highlighted box (e.g. "no CAM for this model").
        heading: the page's title, followed by the file's name.
    """

    source: str
    prediction: str
    score: float
    top_k: List[Tuple[str, float]]
    model: str
    settings: str
    sections: List[Section] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    heading: str = "What the network sees in"


# --------------------------------------------------------------------------- captions


def _size(shape: Sequence[int]) -> str:
    return " \u00d7 ".join(str(int(size)) for size in shape)


def _pair(value) -> str:
    if isinstance(value, (list, tuple)):
        return "\u00d7".join(str(v) for v in value)
    return f"{value}\u00d7{value}"


def _activation_sentence(config: dict) -> str:
    activation = config.get("activation")
    if activation == "relu":
        return (" Its ReLU sets negative responses to 0, so dark areas mean "
                "\u201cthis pattern is not here\u201d.")
    if activation in (None, "linear"):
        return ""
    return f" A {activation} activation is applied to each value."


def layer_caption(layer_type: str, config: dict, output_shape: Sequence[int], input_shape: Sequence[int]) -> str:
    """A sentence or three explaining what a layer does to its input, for a learner (escaped HTML).

    Args:
        layer_type: the layer's class name, e.g. ``Conv2D``.
        config: ``layer.get_config()``.
        output_shape, input_shape: one image's output and input shapes (no batch axis).
    """
    return html.escape(_layer_text(layer_type, config, output_shape, input_shape), quote=False)


def _layer_text(layer_type: str, config: dict, output_shape: Sequence[int], input_shape: Sequence[int]) -> str:
    out, inp = _size(output_shape), _size(input_shape)
    if layer_type in ("Conv2D", "SeparableConv2D", "DepthwiseConv2D"):
        filters = config.get("filters", output_shape[-1])
        stride = config.get("strides", (1, 1))
        stride_text = "" if tuple(stride) in ((1, 1), (1,)) else f" with stride {_pair(stride)}"
        padding = "kept the size (\u201csame\u201d padding)" if config.get("padding") == "same" else \
            "shrinks the map a little at the edges (\u201cvalid\u201d padding)"
        return (
            f"A convolution slides {filters} small filters of {_pair(config.get('kernel_size', 3))} pixels "
            f"over its {inp} input{stride_text}; it {padding}. Each tile is one filter's response "
            f"map ({out} in all): bright where the filter's pattern (an edge, a stripe, a corner, or in "
            "deeper layers a combination of them) appears." + _activation_sentence(config)
        )
    if layer_type in ("MaxPooling2D", "AveragePooling2D"):
        how = "largest" if layer_type.startswith("Max") else "average"
        return (
            f"Pooling keeps the {how} value of each {_pair(config.get('pool_size', 2))} window, "
            f"shrinking every channel from {inp} to {out}. The maps get coarser, but still say "
            "whether a pattern was present in each region, and later layers see a wider area."
        )
    if layer_type == "BatchNormalization":
        return (
            "Batch normalisation rescales each channel with a mean and spread learnt during "
            "training, then applies a learnt scale and shift. Because each tile is scaled to its "
            "own range, the tiles look like the previous layer's; the values (in the title) differ."
        )
    if layer_type == "Add":
        return (
            "A residual connection adds the block's output to its input (the shortcut), so the "
            "block only has to learn a correction (He et al. 2016). "
            f"Output {out}."
        )
    if layer_type in ("ReLU", "Activation", "LeakyReLU", "ELU"):
        return f"An activation layer ({config.get('activation', layer_type)}): negative values become 0. Output {out}."
    if layer_type in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        how = "averaged" if "Average" in layer_type else "reduced to its maximum"
        return (
            f"Global pooling: each of the {output_shape[-1]} channels of the {inp} input is {how} "
            f"into one number. These {output_shape[-1]} numbers describe the whole image and are all "
            "the classifier gets to see (they are also the \u201cembedding\u201d of the image)."
        )
    if layer_type == "Dense":
        return (
            f"A fully connected layer: each of its {output_shape[-1]} units computes a weighted sum of "
            f"all {inp} input values." + _activation_sentence(config)
        )
    return f"A {layer_type} layer: {inp} in, {out} out."


def classifier_caption(layer_name: str, prediction: str, score: float) -> str:
    """Caption of the final layer's probability chart."""
    return (
        f"The last layer, <code>{html.escape(layer_name)}</code>, turns its inputs into one score per "
        "class; softmax makes the scores probabilities that add up to 100%. The model's answer is the "
        f"largest: <strong>{html.escape(prediction)}</strong> ({100 * score:.1f}%). A high probability "
        "means the model is sure, not that it is right: it only knows the ten Fashion-MNIST classes."
    )


def cam_caption(method: str, layer_name: str, class_name: str, map_shape: Sequence[int]) -> str:
    """Caption of a class activation map."""
    name = html.escape(class_name)
    layer = f"<code>{html.escape(layer_name)}</code>"
    if method == CAM:
        return (
            f"Class activation map (CAM, Zhou et al. 2016) for <strong>{name}</strong>. This network ends "
            "with global average pooling followed by one dense layer, so the score of a class is the "
            "average over all positions of (dense weights \u00d7 feature maps) plus a bias. The map is "
            f"exactly that sum at each position of {layer} ({_size(map_shape)}), the layer feeding the "
            "pooling: it shows how much each region adds to the score. Red: strong evidence; blue: none. "
            "It is computed at low resolution and smoothly resized for display."
        )
    return (
        f"Grad-CAM (Selvaraju et al. 2017) for <strong>{name}</strong>, on the last convolution {layer} "
        f"({_size(map_shape)}). Each channel is weighted by how much the class score rises when that "
        "channel rises (its average gradient), the weighted channels are added up and only the positive "
        "part is kept. It works for any convolutional network. Red: strong evidence; blue: none."
    )


def cam_photo_caption(method: str, cropped: bool) -> str:
    """Caption of the map laid over the original photo."""
    how = ("through the crop and padding that preprocessing applied, so it lands on the item"
           if cropped else "over the whole photo, which is what the model saw (resized)")
    return (
        f"The same {method} map placed back on the original photo, {how}. "
        "Areas without colour were not part of the model's input."
    )


def cam_compare_caption(results: Sequence, correlation: Optional[float]) -> str:
    """Caption of the CAM / Grad-CAM comparison."""
    names = {result.method: result.layer_name for result in results}
    text = (
        "CAM (Zhou et al. 2016) and Grad-CAM (Selvaraju et al. 2017) side by side. For a network ending "
        "in global average pooling and one dense layer, Grad-CAM computed on the pooling layer's input "
        "gives exactly the CAM map (its channel weights are the dense weights divided by the number of "
        "positions)."
    )
    if CAM in names and GRAD_CAM in names and names[CAM] != names[GRAD_CAM]:
        text += (
            f" Here Grad-CAM uses the last convolution, <code>{html.escape(names[GRAD_CAM])}</code>, while "
            f"CAM uses <code>{html.escape(names[CAM])}</code>; the layers in between (such as batch "
            "normalisation) shift and scale each channel, so the maps can differ."
        )
    if correlation is not None and correlation == correlation:  # not NaN
        text += f" Correlation between the two maps: {correlation:.2f} (1 = the same pattern)."
    return text


# --------------------------------------------------------------------------- pages


def _img(panel: Panel) -> str:
    alt = html.escape(panel.alt or panel.heading, quote=True)
    return f'<img src="{html.escape(quote(panel.file), quote=True)}" alt="{alt}">'


def panel_html(panel: Panel) -> str:
    """One figure: its heading (anchored by the file name), the image and its caption (an HTML fragment)."""
    return (
        f'<h3 id="{html.escape(quote(panel.file), quote=True)}">{html.escape(panel.heading)}</h3>\n'
        f"<figure>{_img(panel)}<figcaption>{panel.caption}</figcaption></figure>"
    )


def _top_k_table(top_k: Sequence[Tuple[str, float]]) -> str:
    rows = "".join(
        f'<tr><td class="num">{rank}</td><td>{html.escape(name)}</td><td class="num">{100 * score:.1f}%</td></tr>'
        for rank, (name, score) in enumerate(top_k, start=1)
    )
    return f"<table><tr><th>#</th><th>class</th><th>probability</th></tr>{rows}</table>"


def page_head(title: str) -> str:
    """The start of every page, up to and including ``<body>``: UTF-8, the viewport, the escaped
    ``title`` and the shared inline style."""
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
    ])


def render_image_page(page: ImagePage) -> str:
    """The whole ``index.html`` for one classified image.

    Captions in ``page`` are HTML fragments (built by this module's caption
    helpers, which escape their inputs); every other string is escaped here.
    """
    source = html.escape(page.source)
    parts = [
        page_head(f"{page.prediction}: {page.heading.lower()} {page.source}"),
        f"<h1>{html.escape(page.heading)} <code>{source}</code></h1>",
        '<div class="summary">',
        f'<p class="prediction">Prediction: <strong>{html.escape(page.prediction)}</strong> '
        f"({100 * page.score:.1f}%)</p>",
        _top_k_table(page.top_k),
        f"<p>Model: {html.escape(page.model)}<br>Preprocessing: {html.escape(page.settings)}</p>",
        "</div>",
    ]
    for note in page.notes:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    parts.append("<nav><h2>Contents</h2><ul>")
    for section in page.sections:
        parts.append(f'<li><a href="#{section.anchor}">{html.escape(section.heading)}</a></li>')
    parts.append("</ul></nav>")
    for section in page.sections:
        parts.append(f'<section id="{section.anchor}"><h2>{html.escape(section.heading)}</h2>')
        parts.append(f"<p>{section.intro}</p>")
        parts.extend(panel_html(panel) for panel in section.panels)
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


@dataclass(frozen=True)
class BatchEntry:
    """One row of the batch page: an image, its prediction (or error) and its folder."""

    source: str
    prediction: Optional[str] = None
    score: Optional[float] = None
    folder: Optional[str] = None
    thumbnail: Optional[str] = None
    error: Optional[str] = None


def render_batch_page(entries: Sequence[BatchEntry], model: str) -> str:
    """A page listing every image of a batch with its prediction and a link to its own page."""
    rows = []
    for entry in entries:
        source = html.escape(entry.source)
        if entry.error is not None:
            rows.append(f"<tr><td></td><td><code>{source}</code></td><td colspan=2>"
                        f"not classified: {html.escape(entry.error)}</td></tr>")
            continue
        link = f"{quote(entry.folder)}/index.html"
        thumbnail = (f'<img src="{html.escape(quote(entry.folder) + "/" + quote(entry.thumbnail), quote=True)}" '
                     f'alt="{source}" style="width:96px;height:auto">' if entry.thumbnail else "")
        rows.append(
            f'<tr><td>{thumbnail}</td><td><a href="{html.escape(link, quote=True)}"><code>{source}</code></a></td>'
            f"<td>{html.escape(entry.prediction or '')}</td>"
            f'<td class="num">{100 * (entry.score or 0.0):.1f}%</td></tr>'
        )
    return "\n".join([
        page_head("Classified images"),
        "<h1>Classified images</h1>",
        f"<p>Model: {html.escape(model)}. Click an image's name to see what every layer of the "
        "network saw in it.</p>",
        "<table><tr><th>photo</th><th>file</th><th>prediction</th><th>probability</th></tr>",
        *rows,
        "</table></body></html>\n",
    ])
