"""The flags and steps shared by the commands that classify images against the model's training index.

Every such command (classify, explain, webcam_classify, explore) reports each
image's unfamiliarity by default (:mod:`fashion_mnist_vis.explain.unfamiliarity_plan`);
``--no-unfamiliarity`` turns it off. classify and explore can also show the
nearest training images (``--neighbours K``, :mod:`fashion_mnist_vis.explain.examples`).
Both use the same cached index, found (or built) around the one opening of the model.
"""

import argparse
import sys
from dataclasses import dataclass
from typing import Optional

from fashion_mnist_vis.commands import cli


def add_unfamiliarity_arguments(parser: argparse.ArgumentParser, data_flags: bool = True) -> None:
    """``--no-unfamiliarity`` and (``data_flags``) the data flags naming the training images, used
    when the model has no cached index yet."""
    group = parser.add_argument_group("unfamiliar images")
    group.add_argument("--no-unfamiliarity", "--no_unfamiliarity", dest="no_unfamiliarity", action="store_true",
                       help="do not say whether each image looks unlike every training image (by default it "
                       "is said: the cosine distance of its embedding to the nearest training image's, against "
                       "a threshold 1%% of real test images exceed, from the training index train.py caches "
                       "beside the model as MODEL.neighbours.npz; built once from the training images on this "
                       "machine when missing)")
    if data_flags:
        cli.add_data_arguments(parser, validation=False, testing=False)


@dataclass
class OpenedModel:
    """The model opened once by a command, with what it needs of its training index.

    Attributes:
        handle: the :class:`~fashion_mnist_vis.models.model_handle.ModelHandle`.
        examples: the :class:`~fashion_mnist_vis.explain.examples.ExampleFinder` of ``--neighbours`` or None.
        unfamiliarity: the :class:`~fashion_mnist_vis.explain.unfamiliarity.UnfamiliarityScorer`, or None.
        note: why unfamiliarity is not reported (None when it is, or when it was turned off): the
            command says it once, with its first result, so that a lone bad image still gets one error line.
    """

    handle: object
    examples: Optional[object]
    unfamiliarity: Optional[object]
    note: Optional[str]


def open_with_training_index(args: argparse.Namespace, examples=None, many_images: bool = False) -> OpenedModel:
    """Open the model of ``args`` once, with what it needs of its training index.

    ``examples`` is the :class:`~fashion_mnist_vis.explain.examples.ExamplePlan` of ``--neighbours``
    (None without it). The cached index is looked up before the model is opened, so that building it
    (many images) picks the faster engine under ``--engine auto``. Lines on what is built go to stderr.
    """
    from fashion_mnist_vis.explain.examples import ExampleSettings
    from fashion_mnist_vis.explain.unfamiliarity_plan import UnfamiliarityPlan

    plan = None
    if not args.no_unfamiliarity:
        plan = UnfamiliarityPlan.prepare(ExampleSettings(1, cli.data_settings_from_args(args)), args.saved_model,
                                         examples)
    needs_pass = any(step is not None and step.needs_model_pass for step in (examples, plan))
    handle = cli.open_model(args, many_images=many_images or needs_pass)
    scorer = plan.scorer(handle, notes=sys.stderr) if plan is not None else None
    finder = examples.finder(handle, notes=sys.stderr) if examples is not None else None
    note = f"note: {plan.unavailable}" if plan is not None and plan.unavailable else None
    return OpenedModel(handle, finder, scorer, note)
