"""What the explorer computes for one uploaded image: classify's numbers plus the page's pictures.

:class:`Explorer` holds one opened model and builds everything once (the
:class:`~fashion_mnist_vis.explain.analysis.Analyser` classify uses, the layer-output probe, one
explainer per method asked for); :meth:`Explorer.classify_upload` turns the bytes of an image
(a PNG from the drawing canvas, an uploaded photo, a test image) into one JSON-ready dict. The
probabilities come from the same :meth:`Analyser.analyse` as ``classify --json``, on the same file
bytes, so the two agree exactly. Requests from several browser tabs are served one at a time under
a lock, each with its own result.
"""

import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from fashion_mnist_vis.classes import CLASS_NAMES, NUM_CLASSES
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.activations import PROBABILITIES, SPATIAL, ActivationModel
from fashion_mnist_vis.explain.analysis import Analyser
from fashion_mnist_vis.explain.methods import TITLES, applicable_methods, build_explainer
from fashion_mnist_vis.explorer.encoding import feature_mosaic, png_data_url, thumbnail_data_url, unit_to_grey

#: The methods the page offers first when they apply (cheap ones, fast enough to follow a pen).
PREFERRED_METHODS = ("cam", "gradcam", "hirescam", "layercam", "gradcam++", "saliency")


@dataclass(frozen=True)
class ExplorerSettings:
    """How the explorer classifies.

    Attributes:
        preprocess: the keyword arguments of :func:`fashion_mnist_vis.data.preprocess.preprocess`
            (``invert``, ``crop``, ``method``, ``flatten``), as classify takes them.
        mirror_average: average each image's probabilities with its mirror image's (classify's default).
        data: the :class:`~fashion_mnist_vis.data.datasets.DataSettings` whose test set
            "a random test image" draws from, or None for no test images.
        top_k: how many classes ``top_k`` lists (classify's ``--top-k``).
        channel_search_images: how many training images (the first ones) are searched for the images
            that excite each channel most.
    """

    preprocess: Dict[str, object] = field(default_factory=lambda: {
        "invert": "auto", "crop": True, "method": "standard", "flatten": True})
    mirror_average: bool = True
    data: Optional[object] = None
    top_k: int = 3
    channel_search_images: int = 2000


class Explorer:
    """Classifies and explains uploaded images with one model, for the explorer's JSON API.

    Args:
        handle: the opened model (:func:`fashion_mnist_vis.models.model_handle.open_model`).
        settings: see :class:`ExplorerSettings`.
        examples: an :class:`~fashion_mnist_vis.explain.examples.ExampleFinder` (nearest training
            images), or None.
        unfamiliarity: an :class:`~fashion_mnist_vis.explain.unfamiliarity.UnfamiliarityScorer`, or None.

    Raises:
        UserError: if the model does not output one score per Fashion-MNIST class.
    """

    def __init__(self, handle, settings: ExplorerSettings = ExplorerSettings(), examples=None, unfamiliarity=None):
        self.handle = handle
        self.settings = settings
        self.analyser = Analyser(handle, top_k=settings.top_k, examples=examples, unfamiliarity=unfamiliarity,
                                 mirror_average=settings.mirror_average, **settings.preprocess)
        self.activations = ActivationModel(handle.model, handle.graph)
        self.methods = {key: reason for key, reason in applicable_methods(handle).items()}
        usable = [key for key in PREFERRED_METHODS if self.methods.get(key) is None]
        self.default_method = usable[0] if usable else next((k for k, r in self.methods.items() if r is None), None)
        self._explainers: Dict[str, object] = {}
        self._lock = threading.Lock()
        self._test_set = None
        self._mistakes: Optional[np.ndarray] = None
        self._channel_examples = None
        self._random = np.random.default_rng()

    def info(self) -> Dict[str, object]:
        """The model's name and engine, the classes, and every method (with why it does not apply)."""
        return {"model": self.handle.describe(), "engine": self.handle.engine, "classes": list(CLASS_NAMES),
                "input_shape": list(self.analyser.input_shape), "default_method": self.default_method,
                "methods": [{"key": key, "title": TITLES[key], "unavailable": reason}
                            for key, reason in self.methods.items()],
                "test_images": self.settings.data is not None,
                "neighbours": self.analyser.examples is not None}

    def classify_upload(self, data: bytes, method: Optional[str] = None,
                        contrast: Optional[int] = None) -> Dict[str, object]:
        """Classify the image file ``data`` (any format classify reads) and explain it.

        Args:
            data: the file's bytes.
            method: the class map's method (a key of ``info()["methods"]``); None for the default.
            contrast: a class index B for "why the prediction and not B", or None.

        Raises:
            UserError: if ``data`` is not an image, is too large, or ``method``/``contrast`` are unknown
                (one line that names no temporary file).
        """
        method = method or self.default_method
        if method is not None and method not in self.methods:
            raise UserError(f"unknown explanation method {method!r}")
        if contrast is not None and not 0 <= contrast < NUM_CLASSES:
            raise UserError(f"contrast class {contrast} is not a class index 0-{NUM_CLASSES - 1}")
        started = time.perf_counter()
        with self._lock, tempfile.TemporaryDirectory(prefix="fmv-explore-") as folder:
            path = Path(folder) / "upload"
            path.write_bytes(data)
            try:
                analysis = self.analyser.analyse(path)
            except UserError as error:
                name = repr(str(path))  # load_image says "image file '<path>' ...": the upload has no name
                message = str(error).replace(f"image file {name}", "the upload").replace(name, "the upload")
                raise UserError(message) from None
            record = self._record(analysis)
            record["map"] = self._class_map(analysis.prepared.model_input, analysis.predicted, method, contrast)
            record["layers"] = self._layers(analysis.prepared.model_input)
        record["milliseconds"] = round(1000 * (time.perf_counter() - started), 1)
        return record

    def _record(self, analysis) -> Dict[str, object]:
        """classify --json's fields (same rounding), all ten probabilities and the preprocessing stages."""
        prepared = analysis.prepared
        record = {
            "prediction": analysis.prediction, "class_index": analysis.predicted,
            "score": round(analysis.score, 6),
            "top_k": [{"class": CLASS_NAMES[index], "class_index": index, "score": round(score, 6)}
                      for index, score in analysis.top_k],
            "probabilities": [round(float(p), 6) for p in analysis.probabilities],
            "stages": [
                {"title": "your image", "image": thumbnail_data_url(analysis.photo)},
                {"title": "greyscale" + (", inverted" if prepared.inverted else ""),
                 "image": thumbnail_data_url_from_array(prepared.greyscale)},
                {"title": "cropped, levelled and padded", "image": png_data_url(prepared.prepared)},
                {"title": "model input {}x{}".format(*prepared.model_input.shape[:2]),
                 "image": png_data_url(unit_to_grey(prepared.model_input[:, :, 0]))},
            ],
        }
        examples = analysis.examples
        if examples is not None:
            record["neighbours"] = [{"class": CLASS_NAMES[example.label], "class_index": example.label,
                                     "distance": round(example.distance, 4), "train_index": example.train_index,
                                     "image": png_data_url(example.image)} for example in examples.nearest]
        if analysis.unfamiliarity is not None:
            record["unfamiliarity"] = analysis.unfamiliarity.to_dict()
        return record

    def _class_map(self, model_input: np.ndarray, predicted: int, method: Optional[str],
                   contrast: Optional[int]) -> Dict[str, object]:
        """The heatmap (H, W) in [0, 1] of ``method`` for the prediction, or the reason there is none."""
        if method is None:
            return {"error": "no explanation method applies to this model"}
        if self.methods[method] is not None:
            return {"method": method, "error": self.methods[method]}
        if contrast == predicted:
            contrast = None
        explainer = self._explainers.get(method)
        if explainer is None:
            explainer = self._explainers[method] = build_explainer(self.handle, method)
        explanation = explainer(model_input, predicted, contrast)
        return {"method": method, "title": explanation.title, "class": CLASS_NAMES[predicted],
                "contrast": None if explanation.contrast_index is None else CLASS_NAMES[explanation.contrast_index],
                "layer": explanation.layer_name,
                "heatmap": np.round(explanation.heatmap.astype(np.float64), 3).tolist()}

    def _layers(self, model_input: np.ndarray) -> List[Dict[str, object]]:
        """Every plotted layer's output: spatial ones as mosaics, vectors as numbers."""
        layers = []
        for output in self.activations.run(model_input):
            entry = {"name": output.name, "type": output.layer_type, "kind": output.kind,
                     "shape": list(output.values.shape)}
            if output.kind == SPATIAL:
                entry.update(feature_mosaic(output.values))
            elif output.kind != PROBABILITIES:
                entry["values"] = [round(float(v), 4) for v in output.values]
            layers.append(entry)
        return layers

    def random_test_image(self, mistake: bool = False) -> Dict[str, object]:
        """A random image of the test set (uint8 28x28 as a PNG data URL) with its true class; with
        ``mistake``, one the model misclassifies (the test set is classified once, on first use).

        Raises:
            UserError: without test data, or when the model gets every test image right.
        """
        with self._lock:
            images, labels = self._test_images()
            if mistake:
                wrong = self._wrong_indices(images, labels)
                if not len(wrong):
                    raise UserError("the model classifies every test image correctly: there is no mistake to show")
                index = int(self._random.choice(wrong))
            else:
                index = int(self._random.integers(len(labels)))
        return {"index": index, "class_index": int(labels[index]), "class": CLASS_NAMES[int(labels[index])],
                "image": png_data_url(images[index])}

    def channel_examples(self, layer_name: str, channel: int) -> Dict[str, object]:
        """The training images that excite ``channel`` of ``layer_name`` most (see
        :class:`~fashion_mnist_vis.explorer.channel_examples.ChannelExamples`; searched on first use).

        Raises:
            UserError: without data, or for an unknown layer or channel.
        """
        with self._lock:
            if self._channel_examples is None:
                if self.settings.data is None:
                    raise UserError("no training images: the explorer was started without a dataset")
                from fashion_mnist_vis.data.datasets import load_splits
                from fashion_mnist_vis.explorer.channel_examples import ChannelExamples

                splits = load_splits(replace(self.settings.data, val_split=0.0), seed=0)  # every training image
                count = self.settings.channel_search_images
                spatial = [layer.name for layer, kind in self.activations.layers if kind == SPATIAL]
                self._channel_examples = ChannelExamples(self.handle, spatial, splits.x_train[:count],
                                                         splits.y_train[:count])
            examples = self._channel_examples.strongest(layer_name, channel)
        return {"layer": layer_name, "channel": channel, "searched": len(self._channel_examples.labels),
                "images": [{"class": CLASS_NAMES[item["label"]], "index": item["index"],
                            "score": round(item["score"], 4), "image": png_data_url(item["pixels"])}
                           for item in examples]}

    def _test_images(self):
        if self.settings.data is None:
            raise UserError("no test images: the explorer was started without a dataset")
        if self._test_set is None:
            from fashion_mnist_vis.data.datasets import load_test_split

            splits = load_test_split(self.settings.data, seed=0)
            self._test_set = (splits.x_test, splits.y_test)
        return self._test_set

    def _wrong_indices(self, images: np.ndarray, labels: np.ndarray, batch: int = 500) -> np.ndarray:
        """Positions of the test images whose most probable class is wrong, the test arrays classified as the
        explorer classifies them (averaged with their mirror images when it does so)."""
        if self._mistakes is None:
            from fashion_mnist_vis.data.pipeline import to_model_input
            from fashion_mnist_vis.models.scores import as_probabilities

            forward = self.handle.graph.probe([self.handle.graph.model_output])

            def probabilities(inputs: np.ndarray) -> np.ndarray:
                return as_probabilities(np.asarray(forward(inputs, training=False)[0]))

            predicted = []
            for start in range(0, len(labels), batch):
                inputs = to_model_input(images[start:start + batch])
                chunk = probabilities(inputs)
                if self.settings.mirror_average:
                    chunk = (chunk + probabilities(np.ascontiguousarray(inputs[:, :, ::-1]))) / 2.0
                predicted.append(np.argmax(chunk, axis=1))
            self._mistakes = np.flatnonzero(np.concatenate(predicted) != labels)
        return self._mistakes


def thumbnail_data_url_from_array(grey: np.ndarray) -> str:
    """:func:`thumbnail_data_url` of a uint8 (H, W) array."""
    from PIL import Image

    return thumbnail_data_url(Image.fromarray(np.asarray(grey, dtype=np.uint8)))
