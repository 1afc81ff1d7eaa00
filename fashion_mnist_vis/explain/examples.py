"""Explanation by example: the training images a photo resembles, in the model's own embedding space.

For a classified image, :class:`ExampleFinder` gives an :class:`ExampleExplanation`:

* its K nearest training images by cosine distance between embeddings
  (:mod:`fashion_mnist_vis.explain.neighbours`, exact search), with their
  labels; neighbours of another class than the prediction are marked;
* the predicted class's prototypes (the medoids of its clusters) and its
  most atypical training images (:mod:`fashion_mnist_vis.explain.class_examples`).

This is the case-based view of a network (Caruana et al. 1999, "Case-based
explanation of non-case-based learning methods"; the deep k-NN of Papernot &
McDaniel 2018 uses the same neighbours to judge a prediction): a prediction
whose neighbours share its class is backed by similar training data, one
whose neighbours disagree is not.

Work is split around the opening of the model (:class:`ExamplePlan`): the
training images are loaded and K is checked first, and the cached index is
looked up by the model file's hash, so a command knows whether the model must
run over the whole training set (then Keras is the faster engine) before it
opens the model once.
"""

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, TextIO

import numpy as np

from fashion_mnist_vis.classes import CLASS_NAMES
from fashion_mnist_vis.data.datasets import DataSettings
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.training_index import DEFAULT_LAYER, IndexKey, TrainingIndex
from fashion_mnist_vis.explain.unfamiliarity import is_current

DEFAULT_SEED = 42
"""The data seed (synthetic data, subsets) of train.py's default: the same training set it used."""


@dataclass(frozen=True)
class ExampleSettings:
    """What explanation by example shows and where its training images come from.

    Attributes:
        neighbours: nearest training images per classified image (K), 1..N.
        data: the training data (its training split, all of it: ``val_split`` is ignored).
        seed: the data seed (synthetic data and ``train_size`` subsets).
        layer_name: the embedding layer, None for the default (GAP output, else the last Dense layer's input).
        prototypes_per_class, atypical_per_class: examples per class, at least 1.
    """

    neighbours: int
    data: DataSettings = DataSettings()
    seed: int = DEFAULT_SEED
    layer_name: Optional[str] = None
    prototypes_per_class: int = 3
    atypical_per_class: int = 5


@dataclass(frozen=True)
class Example:
    """One training image shown as an example.

    ``train_index`` is its position in the training set, ``label`` its class
    index, ``distance`` a cosine distance in [0, 2] (what it measures depends
    on the list: see :class:`ExampleExplanation`) and ``image`` uint8 (28, 28)
    its pixels in 0..255 (a light item on black).
    """

    train_index: int
    label: int
    distance: float
    image: np.ndarray


@dataclass(frozen=True)
class ExampleExplanation:
    """The training images that explain one prediction.

    Attributes:
        predicted: the class the lists below are about (the prediction).
        nearest: the K nearest training images, nearest first; ``distance`` from the image.
        prototypes: the predicted class's prototypes; ``distance`` from the image.
        atypical: the predicted class's most atypical images; ``distance`` from their class's centroid.
        layer_name, layer_role: the embedding's layer and tensor.
        training_source: one line on where the training images came from.
        training_size: how many training images were searched.
    """

    predicted: int
    nearest: List[Example]
    prototypes: List[Example]
    atypical: List[Example]
    layer_name: str
    layer_role: str
    training_source: str
    training_size: int

    @property
    def agreement(self) -> float:
        """The fraction of the nearest neighbours labelled with the prediction, in [0, 1]."""
        return sum(example.label == self.predicted for example in self.nearest) / len(self.nearest)

    def to_dict(self) -> Dict[str, object]:
        """JSON-ready: the lists with training positions, class names and distances (no pixels)."""
        def items(examples: List[Example], distance: str) -> List[Dict[str, object]]:
            return [{"train_index": example.train_index, "class": CLASS_NAMES[example.label],
                     "class_index": example.label, distance: round(example.distance, 6),
                     "other_class": example.label != self.predicted} for example in examples]

        return {
            "k": len(self.nearest),
            "embedding": {"layer": self.layer_name, "role": self.layer_role},
            "training_images": {"source": self.training_source, "count": self.training_size},
            "agreement": round(self.agreement, 6),
            "nearest": items(self.nearest, "distance"),
            "class": CLASS_NAMES[self.predicted],
            "prototypes": items(self.prototypes, "distance"),
            "atypical": items(self.atypical, "distance_from_centroid"),
        }


class ExampleFinder:
    """Finds the examples of one image after another (see the module's docstring).

    Args:
        handle: the model (from :func:`fashion_mnist_vis.models.model_handle.open_model`).
        index: the training set's index for this model file.
        images: uint8 (N, 28, 28), the training images ``index`` was built from (for the thumbnails).
        k: nearest neighbours per image, 1..N.
    """

    def __init__(self, handle, index: TrainingIndex, images: np.ndarray, k: int):
        from fashion_mnist_vis.explain.training_index import QueryEmbedder

        self.embed = QueryEmbedder(handle, index)
        self.index, self.images, self.k = index, images, k

    def explain(self, model_input: np.ndarray, predicted: int,
                query: Optional[np.ndarray] = None) -> ExampleExplanation:
        """The examples of one float32 model input (H, W, C) in [0, 1] whose prediction is ``predicted``;
        ``query`` is its embedding when already computed (float32 (D,))."""
        from fashion_mnist_vis.explain.neighbours import unit_rows

        query = self.embed(model_input) if query is None else query
        found = self.index.search.search(query, self.k)
        examples = self.index.examples
        prototypes = examples.prototypes_of(predicted)
        query_unit = unit_rows(query[np.newaxis])[0]
        to_prototypes = np.clip(1.0 - self.index.search.units[prototypes] @ query_unit, 0.0, 2.0)
        atypical = examples.atypical_of(predicted)
        return ExampleExplanation(
            predicted=predicted,
            nearest=[self._example(i, d) for i, d in zip(found.indices[0], found.distances[0])],
            prototypes=[self._example(i, d) for i, d in zip(prototypes, to_prototypes)],
            atypical=[self._example(i, d) for i, d in zip(atypical, examples.atypical_distances[predicted])],
            layer_name=self.index.layer_name,
            layer_role=self.index.layer_role,
            training_source=str(self.index.data.get("source", "")),
            training_size=len(self.index),
        )

    def _example(self, position, distance) -> Example:
        position = int(position)
        return Example(position, int(self.index.labels[position]), float(distance), self.images[position])


class ExamplePlan:
    """The steps of explanation by example before and after the model is opened.

    :meth:`prepare` loads the training images, checks K against their number
    and looks for a cached index of the model file; :attr:`needs_model_pass`
    then says whether the model must embed the whole training set; :meth:`finder`,
    given the opened model, builds and caches the index if needed and returns
    an :class:`ExampleFinder`.
    """

    def __init__(self, settings: ExampleSettings, model_path: Path, images: np.ndarray, labels: np.ndarray,
                 source: str, key: IndexKey, download: bool = True):
        from fashion_mnist_vis.explain.index_cache import find_cached

        self.settings, self.model_path, self.download = settings, Path(model_path), download
        self._told = False
        self.data = dataclasses.replace(settings.data, val_split=0.0)
        self.images, self.labels, self.source, self.key = images, labels, source, key
        self.index, self.cached_at = find_cached(self.model_path, key)

    @classmethod
    def prepare(cls, settings: ExampleSettings, model_path: Path, download: bool = True) -> "ExamplePlan":
        """Load the training images and look for a cached index of ``model_path``; ``download``: the real
        data may be downloaded when it is not on this machine (False: a UserError says it is not).

        Raises:
            UserError: if the training data cannot be loaded, K is outside
                1..N, or the model file cannot be read.
        """
        from fashion_mnist_vis.data.datasets import array_digest, load_splits
        from fashion_mnist_vis.explain.index_cache import file_sha256
        from fashion_mnist_vis.models.model_io import check_model_file

        if settings.neighbours < 1:
            raise UserError(f"the number of neighbours must be at least 1, not {settings.neighbours}",
                            settings=("neighbours",))
        data = dataclasses.replace(settings.data, val_split=0.0)
        splits = load_splits(data, settings.seed, download=download)
        count = len(splits.y_train)
        if settings.neighbours > count:
            raise UserError(f"cannot show {settings.neighbours} neighbours: the training set has {count} images",
                            settings=("neighbours", "train_size"))
        check_model_file(Path(model_path))
        try:
            model_sha256 = file_sha256(Path(model_path))
        except OSError as error:
            raise UserError(f"cannot read the model file {str(model_path)!r}: {error.strerror or error}") from None
        key = IndexKey(model_sha256, settings.layer_name or DEFAULT_LAYER,
                       array_digest(splits.x_train, splits.y_train),
                       settings.prototypes_per_class, settings.atypical_per_class)
        return cls(settings, model_path, splits.x_train, splits.y_train, splits.source, key, download)

    @property
    def needs_model_pass(self) -> bool:
        """True when no cached index fits, or it lacks the unfamiliarity calibration: the model must embed
        every training image, or every test image."""
        return self.index is None or not is_current(self.index.unfamiliarity)

    def finder(self, handle, notes: Optional[TextIO] = None) -> ExampleFinder:
        """The finder for the opened model ``handle``, building and caching the index if needed
        (see :meth:`ready_index`)."""
        return ExampleFinder(handle, self.ready_index(handle, notes), self.images, self.settings.neighbours)

    def ready_index(self, handle, notes: Optional[TextIO] = None) -> TrainingIndex:
        """The index, built and calibrated for the opened model ``handle`` if needed, and cached.

        ``notes`` receives a line on what was done (built and where it was
        cached, or where the cache was found; said once); None for silence.
        """
        if self.index is None:
            self.index = self._build(handle, notes)
        elif notes is not None and not self._told:
            print(f"Neighbour index of {len(self.index):,} training images read from {self.cached_at}",
                  file=notes, flush=True)
        self._told = True
        if not is_current(self.index.unfamiliarity):
            self._calibrate(handle, notes)
        return self.index

    def _calibrate(self, handle, notes: Optional[TextIO]) -> None:
        """Calibrate the unfamiliarity threshold on the test images of the same data (none of them is in
        the index) so that 1% of them are flagged, and store it with the index."""
        from fashion_mnist_vis.data.datasets import load_test_split
        from fashion_mnist_vis.explain.index_cache import store
        from fashion_mnist_vis.explain.unfamiliarity import calibrate_index

        test = load_test_split(self.data, self.settings.seed, download=self.download)
        self.index.unfamiliarity = calibrate_index(handle, self.index, test.x_test, f"the test set: {test.source}")
        try:
            self.cached_at, note = store(self.index, self.model_path)
        except OSError as error:
            note = f"the unfamiliarity threshold could not be cached ({error.strerror or error})"
        if notes is not None:
            calibration = self.index.unfamiliarity
            checks = "".join(f", {name.replace('_', ' ')} {value:.4f}" for name, value in calibration["input_checks"].items())
            print(f"Unfamiliarity thresholds calibrated on {calibration['images']}: nearest-image distance "
                  f"{calibration['threshold']:.4f}, Mahalanobis distance {calibration['mahalanobis_threshold']:.1f}"
                  f"{checks}" + (f"; note: {note}" if note else ""),
                  file=notes, flush=True)

    def _build(self, handle, notes: Optional[TextIO]) -> TrainingIndex:
        from fashion_mnist_vis.explain.index_cache import store
        from fashion_mnist_vis.explain.training_index import build_training_index

        data = {"settings": self.data.to_dict(), "seed": self.settings.seed, "source": self.source}
        if notes is not None:
            print(f"Embedding {len(self.labels):,} training images for the neighbour index (once per model "
                  "file; it is cached)...", file=notes, flush=True)
        index = build_training_index(handle, self.images, self.labels, self.key, data, self.settings.layer_name)
        try:
            self.cached_at, note = store(index, self.model_path)
        except OSError as error:
            note = f"the neighbour index could not be cached ({error.strerror or error}); it is rebuilt next time"
        if notes is not None:
            if note:
                print(f"note: {note}", file=notes, flush=True)
            print(f"Neighbour index built in {index.build_seconds:.1f} s"
                  + (f", cached in {self.cached_at}" if not note else ""), file=notes, flush=True)
        return index
