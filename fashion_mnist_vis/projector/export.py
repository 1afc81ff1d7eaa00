"""Writing embeddings for the TensorFlow Embedding Projector, online and offline.

One export folder serves both viewers, with no file stored twice:

* the standalone Projector (https://projector.tensorflow.org/?config=URL)
  reads ``config.json``, whose ``tensorPath``, ``metadataPath`` and
  ``sprite.imagePath`` are absolute URLs (the page fetches them from the
  user's machine, see :mod:`fashion_mnist_vis.serve`);
* TensorBoard's projector plugin (``tensorboard --logdir FOLDER``, offline)
  reads ``projector_config.pbtxt`` from the logdir itself, whose paths are
  relative to the pbtxt's folder (the plugin refuses paths that resolve
  outside it, so the files must live beside it).

Files (names fixed, so a re-export replaces exactly its own files):

==========================  ================================================
``embeddings.bytes``        float32 (N, D) row-major, little-endian: the
                            standalone Projector's tensor (``--format`` bytes/both)
``embeddings.tsv``          the same numbers as text, one row per point,
                            ``%.5g``: TensorBoard's tensor (tsv/both)
``pixels.bytes|.tsv``       with ``raw``: the 784 input pixels in [0, 1]
``metadata.tsv``            header + one row per point: index, label,
                            predicted, score, correct, entropy
``sprite.png``              the N thumbnails in a square grid, row-major
``config.json``             standalone Projector configuration (URLs)
``projector_config.pbtxt``  TensorBoard projector configuration (relative paths)
``export.json``             what was exported, how, and the files written
                            (:mod:`~fashion_mnist_vis.projector.manifest`)
``pca|tsne|umap.png|.csv``  2-D maps of the embeddings and their coordinates
``neighbors.csv``           each point's k nearest neighbours by cosine
                            distance (:mod:`~fashion_mnist_vis.projector.neighbour_table`)
``atlas.parquet``           one row per point for Apple's Embedding Atlas
                            (:mod:`~fashion_mnist_vis.projector.atlas`)
==========================  ================================================

Why both tensor formats by default: the standalone Projector reads a
``.bytes`` file straight into a Float32Array (no parsing, 4 bytes a value);
TensorBoard's plugin reads ``tensor_path`` as TSV and only falls back to
binary when the file's first line fails to decode as UTF-8, which depends on
the numbers, so TensorBoard gets TSV.

Every file is written to a hidden temporary file beside its target and renamed
into place only when the whole export has succeeded (see
:mod:`fashion_mnist_vis.atomic`): a failed export leaves the previous one
intact, and nothing else in the folder is touched.
"""

import contextlib
import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from fashion_mnist_vis.atomic import atomic_path, check_writable_folder
from fashion_mnist_vis.classes import CLASS_NAMES, IMAGE_SIZE
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.projector.config import (
    METADATA_TSV,
    SPRITE_PNG,
    TensorFiles,
    base_url,
    projector_config_json,
    projector_config_pbtxt,
)
from fashion_mnist_vis.projector.sprite import SpriteLayout, SpriteSheet, sprite_layout

CONFIG_JSON = "config.json"
PROJECTOR_PBTXT = "projector_config.pbtxt"  # the name TensorBoard's projector plugin looks for
EMBEDDINGS_STEM = "embeddings"
PIXELS_STEM = "pixels"
PLOT_FILES = tuple(f"{stem}.{suffix}" for stem in ("pca", "tsne", "umap") for suffix in ("png", "csv"))
NEIGHBOURS_CSV = "neighbors.csv"
ATLAS_PARQUET = "atlas.parquet"

FORMATS = ("both", "bytes", "tsv")
TSV_NUMBER_FORMAT = "%.5g"
"""Tensor TSV numbers: 5 significant digits (float32 embeddings carry ~7; the
Projector's PCA/t-SNE cannot tell the difference), 'e' notation only when needed."""

METADATA_COLUMNS = ("index", "label", "predicted", "score", "correct", "entropy")

MAX_EMBEDDING_BYTES = 1 << 30
"""The embeddings are kept in memory (for PCA and t-SNE): at most this many bytes."""


# ----------------------------------------------------------------------------
# Tensor and metadata text


def format_tsv(rows: np.ndarray, number_format: str = TSV_NUMBER_FORMAT) -> str:
    """float (B, D) -> B lines of D tab-separated numbers, each line ending in a newline.

    >>> format_tsv(np.array([[0.5, -1.25e-7], [1234567.0, 0.0]], dtype=np.float32))
    '0.5\\t-1.25e-07\\n1.2346e+06\\t0\\n'
    """
    buffer = io.StringIO()
    np.savetxt(buffer, np.asarray(rows).reshape(len(rows), -1), fmt=number_format, delimiter="\t")
    return buffer.getvalue()


def _pixel_strings() -> np.ndarray:
    """The TSV text of each model input value k/255 (k = 0..255), as :func:`format_tsv` writes it."""
    values = np.arange(256, dtype=np.float32) / np.float32(255.0)
    return np.array([TSV_NUMBER_FORMAT % value for value in values.tolist()], dtype=object)


_PIXEL_STRINGS = _pixel_strings()


def format_pixel_tsv(images: np.ndarray) -> str:
    """uint8 (B, 28, 28) images -> B TSV lines of their 784 model inputs (k/255).

    Same text as ``format_tsv(images / 255)``, several times faster (a table
    lookup per pixel).
    """
    table = _PIXEL_STRINGS[np.asarray(images, dtype=np.uint8).reshape(len(images), -1)]
    return "".join("\t".join(row) + "\n" for row in table.tolist())


def metadata_header() -> str:
    """The first line of metadata.tsv (the Projector needs one when there are several columns)."""
    return "\t".join(METADATA_COLUMNS) + "\n"


def format_metadata(
    indices: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
) -> str:
    """Metadata lines (no header) for one batch of points.

    Args:
        indices: integer (B,) position of each image in the exported split (test or training set).
        labels: integer (B,) true classes.
        probabilities: float (B, K) predicted class probabilities.

    Columns: index; label and predicted as class names; score (the predicted
    class's probability, 4 decimals); correct ("true"/"false"); entropy of
    the prediction in nats (4 decimals, 0 = certain, ln 10 = 2.3026 = uniform).
    """
    from fashion_mnist_vis.explain.embeddings import entropy

    names = [_tsv_field(name) for name in class_names]
    predicted = probabilities.argmax(axis=1)
    score = probabilities[np.arange(len(predicted)), predicted]
    uncertainty = entropy(probabilities)
    return "".join(
        f"{int(index)}\t{names[int(label)]}\t{names[int(guess)]}\t{float(s):.4f}\t"
        f"{'true' if int(label) == int(guess) else 'false'}\t{float(h):.4f}\n"
        for index, label, guess, s, h in zip(indices, labels, predicted, score, uncertainty)
    )


def _tsv_field(text: str) -> str:
    return " ".join(str(text).replace("\t", " ").split())


# ----------------------------------------------------------------------------
# The export


@dataclass(frozen=True)
class ExportOptions:
    """How to export (see tensorboard_visualise.py's flags).

    ``formats``: "both", "bytes" or "tsv"; ``url``: where config.json says the
    files are served; ``raw``: also export the 784 input pixels as a tensor;
    ``tint_sprite``: colour thumbnails by class; ``layer``: the embedding
    layer (None: GAP output, else the last Dense layer's input).
    """

    output: Path
    url: str = base_url("localhost", 8000)
    formats: str = "both"
    raw: bool = False
    tint_sprite: bool = True
    batch_size: int = 100
    layer: Optional[str] = None


@dataclass
class ExportResult:
    """What :func:`export_projector` wrote.

    ``embeddings`` float32 (N, D), ``predictions`` int (N,) and
    ``confidences`` float32 (N,) (the predicted class's probability, in [0, 1])
    are kept for plots, the neighbour table, the atlas and summaries;
    ``files`` lists the names written (in ``output``).
    """

    source: object  # embeddings.EmbeddingSource
    embeddings: np.ndarray
    predictions: np.ndarray
    confidences: np.ndarray
    accuracy: float
    layout: SpriteLayout
    tensors: List[TensorFiles]
    files: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)


def export_projector(
    handle,
    images: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    options: ExportOptions,
    progress: Optional[Callable[[int, int], None]] = None,
) -> ExportResult:
    """Embed ``images`` with a model and write the Projector files into ``options.output``.

    Args:
        handle: the classifier, from :func:`fashion_mnist_vis.models.model_handle.open_model`
            (either engine), taking (B, 28, 28, 1|3) float32 in [0, 1].
        images: uint8 (N, 28, 28) in 0..255.
        labels: integer (N,) true classes in 0..9.
        indices: integer (N,) each image's position in the exported split (the
            metadata's ``index`` column).
        progress: called as ``progress(done, N)`` after each batch.

    Batches are predicted and their rows appended to the tensor, metadata
    and sprite files as they come; all files appear (renamed from hidden
    temporary files) only once everything has been written. Plots and the
    manifest are written afterwards (:func:`write_plot_files`,
    :func:`fashion_mnist_vis.projector.manifest.finish_export`).

    Raises:
        UserError: bad options, a layer that does not exist, embeddings too
            large to keep in memory, too many points for the sprite, or an OS
            error while writing.
    """
    from fashion_mnist_vis.explain.embeddings import embedding_probe

    if options.formats not in FORMATS:
        raise UserError(f"unknown format {options.formats!r}; choose one of: {', '.join(FORMATS)}")
    if len(images) < 1:
        raise UserError("there are no images to export")
    count = len(images)
    layout = sprite_layout(count)
    probe, source = embedding_probe(handle.model, handle.graph, options.layer)
    tensors, suffixes = _tensor_files(count, source, options)
    output = check_writable_folder(options.output, "output")
    embeddings = np.empty((count, source.dims), dtype=np.float32)
    predictions = np.empty(count, dtype=np.int64)
    confidences = np.empty(count, dtype=np.float32)
    sprite = SpriteSheet(layout, tint=options.tint_sprite)

    def stream_rows(handles: contextlib.ExitStack, temp_for: Callable[[str], Path]) -> None:
        rows = _Rows(handles, temp_for, tensors, sprite, embeddings, predictions, confidences)
        rows.stream(probe, handle.model.input_shape, images, labels, indices, options, progress)

    files, notes = _write_files(output, tensors, suffixes, options, layout, sprite, stream_rows)
    accuracy = float((predictions == np.asarray(labels)).mean())
    return ExportResult(source, embeddings, predictions, confidences, accuracy, layout, tensors, files, notes)


def _write_files(output: Path, tensors: List[TensorFiles], suffixes, options: ExportOptions, layout: SpriteLayout,
                 sprite: SpriteSheet, stream_rows: Callable[[contextlib.ExitStack, Callable[[str], Path]], None]):
    """Write the export's streamed files, the sprite and both configurations into ``output``.

    ``stream_rows(handles, temp_for)`` writes the tensor and metadata rows, opening its files in
    ``handles`` on the temporary paths ``temp_for(name)`` gives. Every file is written under a hidden
    temporary name and renamed into place only when all are complete, the configurations last.

    Returns:
        (the names of the files written, notes for the user).

    Raises:
        UserError: an OS error while writing.
    """
    files: List[str] = []
    notes: List[str] = []
    try:
        with contextlib.ExitStack() as renames:
            temps: Dict[str, Path] = {}

            def temp_for(name: str) -> Path:  # renamed into place when `renames` closes
                temps[name] = renames.enter_context(atomic_path(output / name))
                files.append(name)
                return temps[name]

            # Entered first, so renamed last: the configs appear after the files they name.
            config_json, config_pbtxt = temp_for(CONFIG_JSON), None
            if "tsv" in suffixes:
                config_pbtxt = temp_for(PROJECTOR_PBTXT)
            else:
                notes.append(
                    f"no {PROJECTOR_PBTXT} for offline TensorBoard: it needs TSV tensors (--format both or tsv)"
                )
            with contextlib.ExitStack() as handles:
                stream_rows(handles, temp_for)
            sprite.save(temp_for(SPRITE_PNG))
            config_json.write_text(json.dumps(projector_config_json(tensors, options.url, layout.cell), indent=2) + "\n")
            if config_pbtxt is not None:
                config_pbtxt.write_text(projector_config_pbtxt(tensors, layout.cell))
    except OSError as error:  # a failed os.replace names the file in the way second
        where = repr(str(error.filename2)) if error.filename2 else f"the export to {str(output)!r}"
        raise UserError(f"could not write {where}: {error.strerror or error}") from error
    return files, notes


@dataclass
class _Rows:
    """Where each batch's rows go: the metadata and tensor files (opened in ``handles`` on
    ``temp_for``'s temporary paths), the sprite, and the ``embeddings``, ``predictions`` and
    ``confidences`` arrays."""

    handles: contextlib.ExitStack
    temp_for: Callable[[str], Path]
    tensors: List["TensorFiles"]
    sprite: "SpriteSheet"
    embeddings: np.ndarray
    predictions: np.ndarray
    confidences: np.ndarray

    def stream(self, probe, input_shape, images, labels, indices, options: ExportOptions, progress) -> None:
        """Predict ``images`` batch by batch and append every batch's rows as it comes."""
        from fashion_mnist_vis.explain.embeddings import iter_embeddings

        metadata = self.handles.enter_context(open(self.temp_for(METADATA_TSV), "w", encoding="utf-8", newline="\n"))
        metadata.write(metadata_header())
        writers = _open_writers(self.handles, self.tensors, self.temp_for)
        for batch in iter_embeddings(probe, images, input_shape, options.batch_size):
            part = slice(batch.start, batch.start + len(batch.embeddings))
            self.embeddings[part] = batch.embeddings
            self.predictions[part] = batch.probabilities.argmax(axis=1)
            self.confidences[part] = batch.probabilities.max(axis=1)
            _write_rows(writers, EMBEDDINGS_STEM, batch.embeddings, format_tsv)
            if options.raw:
                _write_rows(writers, PIXELS_STEM, images[part], format_pixel_tsv)
            metadata.write(format_metadata(indices[part], labels[part], batch.probabilities))
            self.sprite.add(batch.start, images[part], labels[part])
            if progress is not None:
                progress(part.stop, len(images))


def _tensor_files(count: int, source, options: ExportOptions):
    """The tensors to write (the embedding, and with ``options.raw`` the pixels) and the file suffixes.

    Raises:
        UserError: if the embeddings would not fit in memory.
    """
    if count * source.dims * 4 > MAX_EMBEDDING_BYTES:
        raise UserError(
            f"{count} embeddings of {source.dims} values (layer {source.layer_name!r}) need "
            f"{count * source.dims * 4 / 2**30:.1f} GiB of memory; export fewer points or a narrower layer",
            settings=("num", "layer"),
        )
    suffixes = {"both": ("bytes", "tsv"), "bytes": ("bytes",), "tsv": ("tsv",)}[options.formats]
    stems = [(EMBEDDINGS_STEM, f"{source.layer_name} ({source.dims}-d)", source.dims)]
    if options.raw:
        stems.append((PIXELS_STEM, f"raw pixels ({IMAGE_SIZE * IMAGE_SIZE}-d)", IMAGE_SIZE * IMAGE_SIZE))
    tensors = [
        TensorFiles(name, (count, dims), *(f"{stem}.{suffix}" if suffix in suffixes else None for suffix in ("tsv", "bytes")))
        for stem, name, dims in stems
    ]
    return tensors, suffixes


def _open_writers(handles: contextlib.ExitStack, tensors, temp_for) -> Dict:
    """File name -> open file (text for .tsv, binary for .bytes) of every tensor file, closed by ``handles``."""
    writers = {}
    for tensor in tensors:
        for name in (tensor.tsv, tensor.bytes):
            if name is not None:
                text = name.endswith(".tsv")
                writers[name] = handles.enter_context(
                    open(temp_for(name), "w" if text else "wb", **({"encoding": "ascii", "newline": "\n"} if text else {}))
                )
    return writers


def _write_rows(writers: Dict, stem: str, rows: np.ndarray, to_tsv: Callable[[np.ndarray], str]) -> None:
    """Append ``rows`` to the stem's open .tsv (as text) and .bytes (float32 little-endian) files."""
    if f"{stem}.tsv" in writers:
        writers[f"{stem}.tsv"].write(to_tsv(rows))
    if f"{stem}.bytes" in writers:
        values = rows.reshape(len(rows), -1)
        if values.dtype == np.uint8:  # raw pixels: the model inputs k/255
            values = values.astype(np.float32) / np.float32(255.0)
        writers[f"{stem}.bytes"].write(np.ascontiguousarray(values, dtype="<f4").tobytes())


def write_projection_csv(path: Path, projection, indices: np.ndarray, labels: np.ndarray, axis_names) -> None:
    """CSV with a header: index (position in the exported split), label, class, then the two coordinates.

    ``projection`` is an :class:`~fashion_mnist_vis.explain.embeddings.Projection`;
    ``indices`` and ``labels`` are for all exported points (projection.indices picks rows).
    """
    with atomic_path(path) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["index", "label", "class", *axis_names])
        for row, (x, y) in zip(projection.indices, projection.coords):
            label = int(labels[row])
            writer.writerow([int(indices[row]), label, CLASS_NAMES[label], f"{x:.5g}", f"{y:.5g}"])
