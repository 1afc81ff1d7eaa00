"""The atlas's pictures: one card per channel (PIL, fast enough for hundreds), and matplotlib figures
for the class pictures, the first layer's filters and each layer's maximising inputs.

A channel card (:func:`channel_card`) is one RGB image: the channel's strongest
training images, each with its class and response written under it and the
receptive field of the unit that responded most outlined in red; below them,
when the field is smaller than the image, the outlined patches cut out and
enlarged (black outside the image: the padding); on the right the input that
maximises the channel's centre unit (that unit's field outlined in orange, and
cut out below it) and, for the first layer, the filter's weights (blue negative,
red positive, white zero, scaled to the filter's largest weight).
"""

from functools import lru_cache
from typing import Sequence, Tuple

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image, ImageDraw, ImageFont

from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.visualize.map_arrays import grid_shape, resize_map, tile_gap

SCALE = 3
"""Each 28 x 28 image is drawn at 84 x 84 pixels."""
GAP = 6
LABEL_HEIGHT = 30
FIELD_COLOUR = (230, 30, 30)
CENTRE_COLOUR = (255, 150, 0)
WEIGHT_CMAP = "RdBu_r"


@lru_cache(maxsize=2)
def _font(size: int):
    from matplotlib import font_manager  # noqa: PLC0415

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def _tile(image: np.ndarray) -> Image.Image:
    """float [0, 1] or uint8 (h, w) -> an RGB tile enlarged SCALE times (nearest neighbour)."""
    pixels = np.asarray(image)
    if pixels.dtype != np.uint8:
        pixels = np.round(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8)
    tile = Image.fromarray(pixels, "L").convert("RGB")
    return tile.resize((tile.width * SCALE, tile.height * SCALE), Image.NEAREST)


def _outline(draw: ImageDraw.ImageDraw, origin: Tuple[int, int], box: Tuple[int, int, int, int], colour) -> None:
    top, left, bottom, right = box
    x, y = origin
    draw.rectangle((x + left * SCALE, y + top * SCALE, x + right * SCALE - 1, y + bottom * SCALE - 1),
                   outline=colour, width=2)


def cut_patch(image: np.ndarray, box: Tuple[int, int, int, int]) -> np.ndarray:
    """The part of uint8 (H, W) ``image`` under ``box`` (top, left, bottom, right; may reach past the
    edges), black outside the image: uint8 (bottom - top, right - left)."""
    top, left, bottom, right = box
    height, width = image.shape
    patch = np.zeros((bottom - top, right - left), np.uint8)
    rows, columns = slice(max(top, 0), min(bottom, height)), slice(max(left, 0), min(right, width))
    patch[rows.start - top:rows.stop - top, columns.start - left:columns.stop - left] = image[rows, columns]
    return patch


def weight_tile(weights: np.ndarray, limit: float, size: int) -> Image.Image:
    """float (kh, kw) filter weights as an RGB tile of ``size`` pixels, coloured on [-limit, limit]."""
    colours = colormaps[WEIGHT_CMAP](Normalize(-limit, limit)(weights))[..., :3]
    tile = Image.fromarray(np.round(colours * 255).astype(np.uint8), "RGB")
    return tile.resize((size, size), Image.NEAREST)


def channel_card(layer, channel: int, images: np.ndarray, labels: np.ndarray) -> Image.Image:
    """One channel's card (see the module's docstring).

    Args:
        layer: a :class:`~fashion_mnist_vis.explain.atlas.LayerAtlas`.
        channel: the channel's index.
        images: uint8 (N, 28, 28), the searched images; labels: their classes.
    """
    height, width = images.shape[1:3]
    tile_w, tile_h = width * SCALE, height * SCALE
    indices, scores = layer.top.indices[channel], layer.top.scores[channel]
    boxes = [layer.field.box(*position) for position in layer.top.positions[channel]]
    show_patches = layer.field.size[0] < height or layer.field.size[1] < width
    extras = [item for item in (layer.maximised is not None, layer.weights is not None) if item]
    columns_w = len(indices) * (tile_w + GAP) + (GAP * 3 + len(extras) * (tile_w + GAP) if extras else 0)
    rows_h = tile_h + LABEL_HEIGHT + (tile_h + GAP if show_patches else 0)
    card = Image.new("RGB", (columns_w, rows_h + GAP), "white")
    draw = ImageDraw.Draw(card)
    font = _font(11)
    for number, (index, score, box) in enumerate(zip(indices, scores, boxes)):
        x = number * (tile_w + GAP)
        card.paste(_tile(images[index]), (x, 0))
        if show_patches:
            _outline(draw, (x, 0), layer.field.clipped_box(*layer.top.positions[channel][number], height, width),
                     FIELD_COLOUR)
            patch = Image.fromarray(cut_patch(images[index], box), "L").convert("RGB")
            card.paste(patch.resize((tile_w, tile_h), Image.NEAREST), (x, tile_h + LABEL_HEIGHT))
        draw.text((x + 1, tile_h + 1), CLASS_NAMES[int(labels[index])], fill="black", font=font)
        draw.text((x + 1, tile_h + 15), f"{score:.3g}", fill=(90, 90, 90), font=font)
    x = len(indices) * (tile_w + GAP) + GAP * 2
    if layer.maximised is not None:
        centre = (layer.output_shape[0] // 2, layer.output_shape[1] // 2)
        maximising = np.round(np.clip(layer.maximised.images[channel], 0.0, 1.0) * 255).astype(np.uint8)
        card.paste(_tile(maximising), (x, 0))
        _outline(draw, (x, 0), layer.field.clipped_box(*centre, height, width), CENTRE_COLOUR)
        if show_patches:
            patch = Image.fromarray(cut_patch(maximising, layer.field.box(*centre)), "L").convert("RGB")
            card.paste(patch.resize((tile_w, tile_h), Image.NEAREST), (x, tile_h + LABEL_HEIGHT))
        best = scores[0]
        ratio = f"{layer.maximised.scores[channel] / best:.1f}x best" if best > 0 else "channel never on"
        draw.text((x + 1, tile_h + 1), "maximising", fill="black", font=font)
        draw.text((x + 1, tile_h + 15), ratio, fill=(90, 90, 90), font=font)
        x += tile_w + GAP
    if layer.weights is not None:
        weights = layer.weights[:, :, channel]
        card.paste(weight_tile(weights, float(np.abs(weights).max()) or 1.0, tile_w), (x, 0))
        draw.text((x + 1, tile_h + 1), "weights", fill="black", font=font)
    return card


def plot_class_pictures(classes, class_names: Sequence[str] = CLASS_NAMES) -> Figure:
    """Each class's maximising input, with the data prior (top row) and in plain pixels (bottom),
    with the probability the model gives it for its class (a
    :class:`~fashion_mnist_vis.explain.atlas.ClassPictures`)."""
    count = len(class_names)
    figure = Figure(figsize=(1.45 * count, 3.9))
    axes = figure.subplots(2, count)
    rows = ((classes.with_prior, classes.with_prior_probability, "with the data prior"),
            (classes.pixels, classes.pixels_probability, "pixels only"))
    for row, (found, probabilities, how) in enumerate(rows):
        for index, ax in enumerate(axes[row]):
            ax.imshow(found.images[index], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"{100 * probabilities[index]:.0f}% {class_names[index]}", fontsize=8)
            if row == 0:
                ax.set_title(class_names[index], fontsize=10)
        axes[row][0].set_ylabel(how, fontsize=9)
    figure.suptitle("The input each class's score (logit) rises most for; under each: the model's "
                    "probability for that class", fontsize=10)
    figure.subplots_adjust(left=0.03, right=0.99, top=0.86, bottom=0.07, wspace=0.08, hspace=0.35)
    return figure


def _grid(tiles: np.ndarray, gap: int) -> Tuple[np.ndarray, int]:
    """float (h, w, count) -> the tiles side by side in reading order, unscaled, NaN between them
    (float32), and the number of columns (:func:`~fashion_mnist_vis.visualize.map_arrays.grid_shape`)."""
    height, width, count = tiles.shape
    rows, columns = grid_shape(count)
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), np.nan, np.float32)
    for channel in range(count):
        row, column = divmod(channel, columns)
        grid[row * (height + gap):row * (height + gap) + height,
             column * (width + gap):column * (width + gap) + width] = tiles[:, :, channel]
    return grid, columns


def plot_filter_weights(weights: np.ndarray, layer_name: str) -> Figure:
    """float (kh, kw, channels) first-layer filters as a grid on one symmetric colour scale, with a colour bar.

    The scale ends at the 98th percentile of the weights' magnitudes, so one filter with large
    weights does not wash out all the others; the largest 2% saturate (the bar's pointed ends)."""
    kernel_h, kernel_w, count = weights.shape
    grid, columns = _grid(weights, gap=1)
    magnitudes = np.abs(weights)
    limit = float(np.percentile(magnitudes, 98)) or float(magnitudes.max()) or 1.0
    figure = Figure(figsize=(6.4, 6.0))
    ax = figure.add_axes((0.05, 0.1, 0.75, 0.78))
    image = ax.imshow(grid, cmap=colormaps[WEIGHT_CMAP].with_extremes(bad="white"), vmin=-limit, vmax=limit,
                      interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{layer_name}: the {count} filters ({kernel_h} \u00d7 {kernel_w} weights each)", fontsize=10)
    ax.set_xlabel(f"channel 0 top left, then along each row ({columns} per row)", fontsize=9)
    figure.colorbar(image, cax=figure.add_axes((0.84, 0.1, 0.03, 0.78)), extend="both",
                    label=f"weight (red +, blue \u2212; the 2% beyond \u00b1{limit:.2g} saturate)")
    return figure


def plot_maximised_grid(layer) -> Figure:
    """Every channel's maximising input of a :class:`~fashion_mnist_vis.explain.atlas.LayerAtlas` in one grid."""
    images = np.moveaxis(layer.maximised.images, 0, -1)
    grid, columns = _grid(images, tile_gap(*images.shape[:2]))
    figure = Figure(figsize=(6.4, 6.6))
    ax = figure.add_axes((0.03, 0.07, 0.94, 0.85))
    ax.imshow(grid, cmap=colormaps["gray"].with_extremes(bad="white"), vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{layer.name}: the input each channel's centre unit responds to most", fontsize=10)
    ax.set_xlabel(f"channel 0 top left, then along each row ({columns} per row); black 0, white 1", fontsize=9)
    return figure



CONCEPT_CMAP = "tab10"


def concept_overlay(image: np.ndarray, heatmaps: np.ndarray, peak: float) -> np.ndarray:
    """uint8 (H, W) ``image`` with each pixel tinted by its strongest concept: float (h, w, K)
    ``heatmaps`` resized to the image; the tint's opacity is that concept's strength / ``peak``
    (at most 0.7). Returns float (H, W, 3) in [0, 1]."""
    height, width = image.shape
    maps = np.stack([resize_map(heatmaps[:, :, k], (width, height)) for k in range(heatmaps.shape[-1])], -1)
    colours = np.asarray(colormaps[CONCEPT_CMAP].colors)[:, :3]
    strongest = maps.argmax(axis=-1)
    alpha = 0.7 * np.clip(maps.max(axis=-1) / (peak or 1.0), 0.0, 1.0)[..., np.newaxis]
    grey = np.repeat(image[..., np.newaxis] / 255.0, 3, axis=-1)
    return np.clip((1 - alpha) * grey + alpha * colours[strongest % len(colours)], 0.0, 1.0)


def plot_concepts(images: np.ndarray, labels: np.ndarray, concepts, class_names: Sequence[str] = CLASS_NAMES) -> Figure:
    """Deep Feature Factorisation's concepts (a :class:`~fashion_mnist_vis.explain.atlas.ConceptMaps`)
    over the images they were found in (uint8 (N, 28, 28), labels (N,)): each pixel tinted by its
    strongest concept; a legend names each concept's three main channels."""
    found = concepts.found
    indices = concepts.indices
    count = len(indices)
    figure = Figure(figsize=(1.45 * count, 2.6))
    axes = figure.subplots(1, count, squeeze=False)[0]
    peak = float(found.heatmaps.max())
    for ax, number, index in zip(axes, range(count), indices):
        ax.imshow(concept_overlay(images[index], found.heatmaps[number], peak), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(class_names[int(labels[index])], fontsize=9)
    colours = colormaps[CONCEPT_CMAP].colors
    handles = [Rectangle((0, 0), 1, 1, color=colours[k % len(colours)]) for k in range(found.channels.shape[0])]
    names = [f"concept {k}: channels {', '.join(map(str, np.argsort(found.channels[k])[::-1][:3]))}"
             for k in range(found.channels.shape[0])]
    figure.legend(handles, names, loc="lower center", ncol=min(4, len(names)), fontsize=8, frameon=False)
    figure.suptitle(f"{concepts.layer_name}: {len(names)} concepts found by factorising its channels "
                    f"(error {100 * found.relative_error:.0f}%)", fontsize=10)
    figure.subplots_adjust(left=0.02, right=0.98, top=0.82, bottom=0.3, wspace=0.08)
    return figure
