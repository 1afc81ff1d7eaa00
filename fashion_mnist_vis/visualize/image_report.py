"""Write every plot of one classified image, and its ``index.html``, into a folder.

Files written (and no others; each is written to a temporary file in the
same folder and renamed, so a symbolic link in the folder is replaced, never
followed):

* ``input_image.png``, ``greyscale_input.png``, ``rescaled_model_input.png``;
* one PNG per plotted layer, named after the layer (``conv2d.png``, ...,
  ``global_average_pooling2d.png``, and the output layer's ``dense.png``);
  names are reduced to letters, digits, ``.``, ``_`` and ``-``, and a name
  that clashes with one of the fixed names gets ``_layer`` appended;
* ``cam.png``, ``cam_on_input.png`` and, when both CAM and Grad-CAM apply,
  ``cam_compare.png``;
* with explanation by example, ``neighbours.png``, ``prototypes.png`` and
  ``atypical.png`` (see :mod:`fashion_mnist_vis.visualize.example_section`);
* ``index.html``.
"""

import html
import re
from pathlib import Path
from typing import Dict, Iterable, List

from fashion_mnist_vis.visualize import cam_plots, html_page, input_plots, layer_plots
from fashion_mnist_vis.explain.activations import PROBABILITIES, SPATIAL
from fashion_mnist_vis.explain.analysis import Analysis
from fashion_mnist_vis.atomic import write_text_atomic
from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.visualize.example_section import FILES as EXAMPLE_FILES, example_section
from fashion_mnist_vis.visualize.html_page import ImagePage, Panel, Section
from fashion_mnist_vis.visualize.plots import save_figure

INPUT_IMAGE = "input_image.png"
GREYSCALE_INPUT = "greyscale_input.png"
MODEL_INPUT = "rescaled_model_input.png"
CAM_FILE = "cam.png"
CAM_ON_INPUT = "cam_on_input.png"
CAM_COMPARE = "cam_compare.png"
INDEX = "index.html"
FIXED_NAMES = (INPUT_IMAGE, GREYSCALE_INPUT, MODEL_INPUT, CAM_FILE, CAM_ON_INPUT, CAM_COMPARE, INDEX, *EXAMPLE_FILES)


def safe_name(text: str, fallback: str = "image") -> str:
    """``text`` reduced to a safe file name stem: letters, digits, ``.``, ``_``, ``-``; no leading dot."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return cleaned[:100] or fallback


def layer_file_names(layer_names: Iterable[str]) -> Dict[str, str]:
    """Map each layer name to its PNG file name, unique and distinct from the fixed names.

    Comparison ignores case, so the files are distinct on case-insensitive file systems too.
    """
    taken = {name.casefold() for name in FIXED_NAMES}
    files = {}
    for layer_name in layer_names:
        stem = safe_name(layer_name, fallback="layer")
        candidate, number = f"{stem}.png", 1
        if candidate.casefold() in taken:
            candidate = f"{stem}_layer.png"
        while candidate.casefold() in taken:
            number += 1
            candidate = f"{stem}_layer{number}.png"
        taken.add(candidate.casefold())
        files[layer_name] = candidate
    return files


def unique_folder_names(paths: Iterable[Path]) -> List[str]:
    """One sub-folder name per image: its safe stem, with ``_2``, ``_3``, ... for repeats (case-insensitive)."""
    taken = {INDEX.casefold()}
    names = []
    for path in paths:
        stem = safe_name(Path(path).stem)
        candidate, number = stem, 1
        while candidate.casefold() in taken:
            number += 1
            candidate = f"{stem}_{number}"
        taken.add(candidate.casefold())
        names.append(candidate)
    return names


PNG_COMPRESS_LEVEL = 1
"""zlib level of the plots: twice as fast to write as the default 6, files about 20% larger."""


def save_plot(figure, path: Path) -> Path:
    """Write ``figure`` (laid out in inches) as a PNG at ``path``, atomically; return the path."""
    return save_figure(figure, path, tight=False, compress_level=PNG_COMPRESS_LEVEL)


def write_page(folder: Path, text: str) -> Path:
    """Write ``text`` as the folder's ``index.html``, atomically; return its path."""
    path = Path(folder) / INDEX
    write_text_atomic(path, text)
    return path


def write_image_report(analysis: Analysis, folder: Path, model_label: str, comparison=None) -> List[Path]:
    """Write every plot of ``analysis`` and ``index.html`` into ``folder``; return the paths written.

    Args:
        analysis: a result of ``Analyser(..., explain=True).analyse(...)``: all
            this draws (the page is built from its data alone).
        model_label: a one-line description of the model for the page
            (see :meth:`fashion_mnist_vis.models.model_handle.ModelHandle.describe`).
        comparison: the explanation methods compared on the image
            (an :class:`~fashion_mnist_vis.explain.method_comparison.ImageComparison`), shown
            in a section of its own (:func:`fashion_mnist_vis.visualize.explanation_report.method_sections`);
            None for none.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: List[Path] = []

    def save(figure, name: str) -> str:
        written.append(save_plot(figure, folder / name))
        return name

    sections = [
        Section("input", "1. From photo to model input",
                "A Fashion-MNIST model only knows small greyscale pictures of a light item on a black "
                "background, centred and filling the frame. These steps turn the photo into one.",
                input_panels(analysis, save)),
    ]
    layer_panels = _layer_panels(analysis, save)
    sections.append(Section(
        "layers", "2. Layer by layer",
        f"The network's layers in order ({len(layer_panels)} shown). Each one takes the previous "
        "layer's output; the feature maps shrink while the channels respond to ever more "
        "specific patterns, until the last layer gives one probability per class."
        + _skipped_sentence(analysis.skipped_layers),
        layer_panels))
    cam_panels = _cam_panels(analysis, save)
    if cam_panels:
        sections.append(Section(
            "cam", "3. Where the model looked",
            "Class activation maps highlight the regions of the image that raised the score of a class.",
            cam_panels))
    if analysis.examples is not None:
        sections.append(example_section(analysis.examples, save, len(sections) + 1, analysis.unfamiliarity))
    if comparison is not None:
        from fashion_mnist_vis.visualize.explanation_report import method_sections

        sections.extend(method_sections(comparison, analysis, save, number=len(sections) + 1))
    page = ImagePage(
        source=str(analysis.path),
        prediction=analysis.prediction,
        score=analysis.score,
        top_k=[(CLASS_NAMES[index], score) for index, score in analysis.top_k],
        model=model_label,
        settings=describe_settings(**analysis.settings),
        sections=sections,
        notes=_notes(analysis),
    )
    written.append(write_page(folder, html_page.render_image_page(page)))
    return written


def input_panels(analysis: Analysis, save) -> List[Panel]:
    """The photo, its preprocessing and the model input, each saved with ``save(figure, name)``."""
    prepared = analysis.prepared
    model_input = prepared.model_input
    return [
        Panel(save(input_plots.plot_photo(analysis.photo, f"Original image: {analysis.path.name}"), INPUT_IMAGE),
              "The original image",
              "The image as read from the file: upright (using its EXIF orientation) and with any "
              "transparency painted white."),
        Panel(save(input_plots.plot_greyscale_steps(prepared), GREYSCALE_INPUT),
              "Greyscale, inverted, cropped and padded",
              _greyscale_caption(prepared)),
        Panel(save(input_plots.plot_model_input(model_input), MODEL_INPUT),
              "What the model saw",
              f"The image resized to {model_input.shape[0]} \u00d7 {model_input.shape[1]} pixels and scaled "
              "to values between 0 (black) and 1 (white), drawn with one square per pixel. These "
              f"{model_input.shape[0] * model_input.shape[1]} numbers are the network's whole input."),
    ]


def _layer_panels(analysis: Analysis, save) -> List[Panel]:
    """One panel per plotted layer output, each figure saved with ``save(figure, name)``."""
    files = layer_file_names(output.name for output in analysis.layer_outputs)
    panels = []
    grids = layer_plots.ChannelGridFigure()
    for output in analysis.layer_outputs:
        heading = f"{output.name} ({output.layer_type})"
        if output.kind == SPATIAL:
            figure = grids.plot(output.values, output.name, output.layer_type)
            caption = html_page.layer_caption(output.layer_type, output.config, output.values.shape,
                                              output.input_shape)
        elif output.kind == PROBABILITIES:
            figure = layer_plots.plot_probabilities(
                analysis.probabilities,
                f"{output.name} ({output.layer_type}): class probabilities",
                highlight=analysis.predicted,
            )
            caption = html_page.classifier_caption(output.name, analysis.prediction, analysis.score)
        else:
            pooled = "Pooling" in output.layer_type
            figure = layer_plots.plot_vector(
                output.values,
                f"{output.name} ({output.layer_type}): {output.values.shape[0]} values",
                "channel" if pooled else "unit",
                "average activation" if "Average" in output.layer_type else "activation",
            )
            caption = html_page.layer_caption(output.layer_type, output.config, output.values.shape,
                                              output.input_shape)
        panels.append(Panel(save(figure, files[output.name]), heading, caption))
    return panels


def _cam_panels(analysis: Analysis, save) -> List[Panel]:
    """The class activation map over the model input and the photo, and the two methods compared."""
    if not analysis.cams:
        return []
    prepared, model_input = analysis.prepared, analysis.prepared.model_input
    primary = analysis.cams[0]
    class_name = CLASS_NAMES[analysis.cam_class]
    panels = [
        Panel(save(cam_plots.plot_cam(primary, model_input, class_name), CAM_FILE),
              f"{primary.method} over the model input",
              html_page.cam_caption(primary.method, primary.layer_name, class_name, primary.heatmap.shape)),
        Panel(save(cam_plots.plot_cam_on_photo(
                  primary.heatmap, analysis.photo, prepared.canvas_box,
                  f"{primary.method} for \u201c{class_name}\u201d on the original image"), CAM_ON_INPUT),
              f"{primary.method} on the original image",
              html_page.cam_photo_caption(primary.method, prepared.canvas_box is not None)),
    ]
    if len(analysis.cams) > 1:
        correlation = cam_plots.map_correlation(analysis.cams[0].heatmap, analysis.cams[1].heatmap)
        panels.append(Panel(
            save(cam_plots.plot_cam_comparison(analysis.cams, model_input, class_name), CAM_COMPARE),
            " and ".join(result.method for result in analysis.cams) + " compared",
            html_page.cam_compare_caption(analysis.cams, correlation),
        ))
    return panels


def _notes(analysis: Analysis) -> List[str]:
    notes = unfamiliarity_notes(analysis)
    if not analysis.cams:
        notes.append(f"No class activation map: {analysis.no_map_reason}.")
    if analysis.cam_class != analysis.predicted:
        notes.append(
            f"The maps explain \u201c{CLASS_NAMES[analysis.cam_class]}\u201d (chosen with --cam-class), "
            f"not the prediction \u201c{analysis.prediction}\u201d."
        )
    return notes


def unfamiliarity_notes(analysis: Analysis) -> List[str]:
    """The page's note on how unlike the training images the image is: a warning when flagged, else
    one sentence (none when the page has the examples section, which says it, or when not scored)."""
    notes = []
    unfamiliarity = analysis.unfamiliarity
    if unfamiliarity is not None and unfamiliarity.flagged:
        notes.append(
            f"\u26a0 This does not look like a Fashion-MNIST garment: {unfamiliarity.reasons()} (each beyond "
            f"its threshold; together the thresholds flag {100 * unfamiliarity.flagged_share:g}% of real test images). The network "
            "can only answer with one of its 10 classes, so the prediction above means little"
            + (" (see \u201cTraining images it resembles\u201d below)." if analysis.examples is not None else "."))
    elif unfamiliarity is not None and analysis.examples is None:
        notes.append(f"Familiar: this image looks like the training images ({unfamiliarity.embedding_figures()}; "
                     f"the thresholds, with those of the image's own pixels, flag "
                     f"{100 * unfamiliarity.flagged_share:g}% of real test images).")
    return notes


def write_batch_index(folder: Path, entries, model_label: str) -> Path:
    """Write ``index.html`` in the batch's plot folder, linking every image's own page."""
    return write_page(folder, html_page.render_batch_page(entries, model_label))


def _skipped_sentence(skipped) -> str:
    if not skipped:
        return ""
    listed = "; ".join(f"<code>{html.escape(name)}</code> ({html.escape(reason)})" for name, reason in skipped)
    return f" Not shown: {listed}."


def _greyscale_caption(prepared) -> str:
    if prepared.method == "original":
        return ("The original demo's transform (<code>--preprocess original</code>): the photo is only "
                "converted to greyscale and resized; no inversion and no crop. Product photos on white "
                "then look nothing like Fashion-MNIST's light items on black.")
    if prepared.passed_through:
        return ("The image already has the model's input size and a dark background, like a "
                "Fashion-MNIST item, so it is used exactly as it is.")
    steps = ["Left: the photo in greyscale (0.299 R + 0.587 G + 0.114 B)."]
    if prepared.inverted:
        steps.append("Its border is light, so the grey levels are inverted (255 \u2212 value): a dark item "
                     "on white becomes a light item on black.")
    else:
        steps.append("Its grey levels are not inverted.")
    if prepared.crop_box is not None:
        steps.append("It is cropped to the object (red box), the background is made black and the "
                     "crop is padded to a square (right).")
    else:
        steps.append("Nothing is cropped; the image is padded to the model's shape (right).")
    if prepared.stretch_factor > 1.0:
        steps.append(f"Its grey levels are then multiplied by {prepared.stretch_factor:.2f} so its brightest "
                     "pixel is white, as in Fashion-MNIST's items.")
    return " ".join(steps)


def describe_settings(invert: str, crop: bool, method: str, flatten: bool = True,
                      mirror_average: bool = False) -> str:
    """One line describing the preprocessing flags, for the page."""
    averaged = "; scores averaged with the mirror image's" if mirror_average else ""
    if method == "original":
        return f"original (greyscale and bicubic resize only, as in the original demo){averaged}"
    return (f"standard (invert: {invert}, crop: {'yes' if crop else 'no'}, "
            f"even light: {'yes' if flatten else 'no'}){averaged}")
