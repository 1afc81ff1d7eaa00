"""Where a command's unfamiliarity score comes from: the model's cached training index, or one built now.

Every command that classifies images reports how unlike the training images
each one is (:mod:`fashion_mnist_vis.explain.unfamiliarity`). The score needs
the model's training index with its calibrated threshold
(:mod:`fashion_mnist_vis.explain.index_cache`, ``MODEL.neighbours.npz``),
which train.py writes for the model it saves. :class:`UnfamiliarityPlan`
finds it before the model is opened, without loading any training image
(the cache is looked up by the model file's SHA-256 alone, whatever data
it was built from), so a command starts as fast as without it. When there is
none, the training and test images are loaded from this machine (never
downloaded) and the index is built and calibrated once; when they are not on
this machine, the score is left out and :attr:`UnfamiliarityPlan.unavailable`
says why in one line.
"""

import time
from pathlib import Path
from typing import Optional, TextIO

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.examples import ExamplePlan, ExampleSettings
from fashion_mnist_vis.explain.training_index import DEFAULT_LAYER
from fashion_mnist_vis.explain.unfamiliarity import is_current

IMAGES_PER_SECOND = 600
"""Images a gap_cnn embeds per second with Keras on a 2-core Xeon (measured: 662 under load, see the
README): for the rough time said before an index is built (of the training images and the test images,
about a sixth as many in Fashion-MNIST)."""


class UnfamiliarityPlan:
    """The unfamiliarity score's steps before and after the model is opened.

    Use :meth:`prepare` (before opening the model), :attr:`needs_model_pass` (the
    model will embed many images: Keras is the faster engine), then :meth:`scorer`.
    """

    def __init__(self, index=None, builder: Optional[ExamplePlan] = None, unavailable: Optional[str] = None):
        self.index, self.builder, self.unavailable = index, builder, unavailable

    @classmethod
    def prepare(cls, settings: ExampleSettings, model_path: Path,
                examples: Optional[ExamplePlan] = None) -> "UnfamiliarityPlan":
        """Find the calibrated index of ``model_path``, or get ready to build it from ``settings.data``.

        ``examples`` is the plan of explanation by example when one is made
        (it already holds the index of the same training images, and builds it).

        Raises:
            UserError: if the model file cannot be read.
        """
        from fashion_mnist_vis.explain.index_cache import file_sha256, find_cached_for_model
        from fashion_mnist_vis.models.model_io import check_model_file

        if examples is not None:
            return cls(builder=examples)
        check_model_file(Path(model_path))
        try:
            model_sha256 = file_sha256(Path(model_path))
        except OSError as error:
            raise UserError(f"cannot read the model file {str(model_path)!r}: {error.strerror or error}") from None
        index, _ = find_cached_for_model(Path(model_path), model_sha256, settings.layer_name or DEFAULT_LAYER)
        if index is not None and is_current(index.unfamiliarity):
            return cls(index=index)
        try:
            return cls(builder=ExamplePlan.prepare(settings, model_path, download=False))
        except UserError as error:
            return cls(unavailable=f"unfamiliarity not computed: the model has no calibrated training index yet and "
                       f"{missing_data_reason(settings, error)}")

    @property
    def needs_model_pass(self) -> bool:
        """True when the index must be built or calibrated: the model will embed many images."""
        return self.builder is not None and self.builder.needs_model_pass

    def scorer(self, handle, notes: Optional[TextIO] = None):
        """The :class:`~fashion_mnist_vis.explain.unfamiliarity.UnfamiliarityScorer` for the opened model
        ``handle`` (building, calibrating and caching the index first if needed), or None when the score
        is unavailable (:attr:`unavailable` says why); ``notes`` receives a line on what is built and
        roughly how long it takes."""
        from fashion_mnist_vis.explain.unfamiliarity import UnfamiliarityScorer

        if self.unavailable is not None:
            return None
        if self.index is None:
            if notes is not None and self.builder.index is None:
                print(f"Unfamiliarity: no training index for this model file yet; embedding its "
                      f"{len(self.builder.labels):,} training images and calibrating on the test images, "
                      f"once (roughly {rough_build_time(len(self.builder.labels) * 7 // 6)} on a 2-core CPU; "
                      "cached beside the model)", file=notes, flush=True)
            self.index = self.builder.ready_index(handle, notes)
        return UnfamiliarityScorer(handle, self.index)


def missing_data_reason(settings: ExampleSettings, error: UserError) -> str:
    """One clause on why the training images could not be loaded without downloading them."""
    data = settings.data
    if data.dataset == "fashion_mnist" and data.data_dir is None:
        from fashion_mnist_vis.data.fashion_mnist import default_cache_dir, default_system_dir

        return (f"its training images are not on this machine (Fashion-MNIST is neither in {default_cache_dir()} "
                f"nor in {default_system_dir()})")
    return f"its training images could not be loaded ({error})"


def rough_build_time(images: int) -> str:
    """How long embedding ``images`` images roughly takes, in words: '2 minutes', '20 seconds'."""
    seconds = images / IMAGES_PER_SECOND
    if seconds >= 90:
        return f"{round(seconds / 60)} minutes"
    return f"{max(5, 5 * round(seconds / 5))} seconds"


def build_for_trained_model(model_path: Path, settings: ExampleSettings, handle=None) -> str:
    """Build, calibrate and cache the training index of a model train.py just saved; one line on what
    was done and how long it took. ``handle``: the model opened with Keras (None: opened here).

    Raises:
        UserError: if the data or the model cannot be read.
    """
    from fashion_mnist_vis.models.model_handle import open_model

    started = time.perf_counter()
    plan = ExamplePlan.prepare(settings, model_path)
    handle = handle if handle is not None else open_model(model_path, "keras", many_images=True)
    index = plan.ready_index(handle)
    calibration = index.unfamiliarity
    return (f"Unfamiliarity index: {len(index):,} training images embedded and the thresholds calibrated on "
            f"{calibration['images']} (distance {calibration['threshold']:.4f}, Mahalanobis distance "
            f"{calibration['mahalanobis_threshold']:.1f}) in {time.perf_counter() - started:.1f} s; "
            f"cached in {plan.cached_at}")
