"""Shared command-line plumbing: parser defaults and the error boundary.

Every script builds its parser with :func:`make_parser` and wraps its work in
:func:`run_cli`, so all commands behave alike: ``--debug`` shows tracebacks
(and TensorFlow's start-up log, see
:func:`fashion_mnist_vis.models.keras_runtime.import_tensorflow`),
a :class:`~fashion_mnist_vis.errors.UserError` becomes one line on stderr and
exit status 2, and Ctrl-C exits with status 130 without a traceback.
"""

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from fashion_mnist_vis.errors import UserError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `cat big | head`


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block), exit status 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def number_in_range(
    cast: Callable[[str], Union[int, float]],
    low: Optional[float] = None,
    high: Optional[float] = None,
    exclusive: bool = False,
) -> Callable[[str], Union[int, float]]:
    """Return an argparse ``type`` that parses with ``cast`` and checks ``low <= value <= high``.

    With ``exclusive`` the bounds themselves are refused. The error names the
    value and the allowed range, e.g. "0 must be at least 1".
    """
    kind = "an integer" if cast is int else "a number"

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        below = low is not None and (value <= low if exclusive else value < low)
        above = high is not None and (value >= high if exclusive else value > high)
        if below or above:
            if low is not None and high is not None:
                span = f"between {low:g} and {high:g}" + (" (exclusive)" if exclusive else "")
            elif low is not None:
                span = f"greater than {low:g}" if exclusive else f"at least {low:g}"
            else:
                span = f"less than {high:g}" if exclusive else f"at most {high:g}"
            raise argparse.ArgumentTypeError(f"{value} must be {span}")
        return value

    parse.__name__ = kind.split()[-1]  # argparse names the type in some messages
    return parse


positive_int = number_in_range(int, low=1)
positive_float = number_in_range(float, low=0, exclusive=True)
open_fraction = number_in_range(float, low=0, high=1, exclusive=True)
port_number = number_in_range(int, low=0, high=65535)


def make_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """Return a parser that shows defaults in ``--help``, has ``--debug`` and one-line errors."""
    parser = OneLineErrorParser(
        prog=prog,
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show full tracebacks and TensorFlow's own log messages",
    )
    return parser


def add_image_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``IMAGE ...`` arguments of the commands that read photos (classify, explain)."""
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="image files (JPEG, PNG, GIF, BMP, TIFF, WebP, PNM) or folders of them")


def batch_exit_status(failed: int, succeeded: int) -> int:
    """A batch command's exit status: 0 if nothing failed, 1 if some inputs did, 2 if all did."""
    if failed == 0:
        return EXIT_OK
    return EXIT_FAILURE if succeeded else EXIT_USAGE


def add_model_arguments(parser: argparse.ArgumentParser, what: str, many_images: bool = False,
                        auto_means: Optional[str] = None) -> None:
    """``--saved-model PATH`` (default model.keras; ``what`` is its help text) and ``--engine`` (see
    :func:`add_engine_argument`): the flags of every command that runs a saved model."""
    parser.add_argument("--saved-model", "--saved_model", dest="saved_model", type=Path,
                        default=Path("model.keras"), help=what)
    add_engine_argument(parser, many_images, auto_means)


def add_engine_argument(parser: argparse.ArgumentParser, many_images: bool = False,
                        auto_means: Optional[str] = None) -> None:
    """The ``--engine {auto,numpy,keras}`` flag of every command that runs a model (see
    :func:`fashion_mnist_vis.models.model_handle.open_model`, which applies it; ``many_images`` as there;
    ``auto_means`` replaces the help's words on what auto picks)."""
    from fashion_mnist_vis.models.model_handle import ENGINES

    auto = auto_means or ("keras, whose convolutions are faster on many images" if many_images else
                          "numpy when it implements every layer of the model, else keras")
    parser.add_argument("--engine", choices=ENGINES, default="auto",
                        help="what runs the model: numpy (no TensorFlow: starts in a fraction of the time; the "
                        f"layer types train.py builds; refuses any other model), keras, or auto: {auto}")
    parser.set_defaults(many_images=many_images)


def open_model(args: argparse.Namespace, many_images: bool = False):
    """The model of ``--saved-model``, run by ``--engine`` as :func:`add_engine_argument` set it up:
    a :class:`~fashion_mnist_vis.models.model_handle.ModelHandle`. ``many_images`` says that this run
    will put many images through the model even if the command usually does not (see
    :func:`fashion_mnist_vis.models.model_handle.open_model`)."""
    from fashion_mnist_vis.models.model_handle import open_model as open_handle

    return open_handle(args.saved_model, args.engine, args.debug, args.many_images or many_images)


SETTING_FLAGS = {
    "tsne=off": "--no-tsne",
}
"""Flags whose spelling is not the setting's name with dashes (see :func:`flag_for_setting`)."""


def flag_for_setting(setting: str) -> str:
    """The flag that sets a library setting named in :attr:`UserError.settings`.

    ``"learning_rate"`` -> ``"--learning-rate"``, ``"engine=keras"`` -> ``"--engine keras"``;
    exceptions are listed in :data:`SETTING_FLAGS`.
    """
    if setting in SETTING_FLAGS:
        return SETTING_FLAGS[setting]
    name, _, value = setting.partition("=")
    flag = "--" + name.replace("_", "-")
    return f"{flag} {value}" if value else flag


def error_line(error: UserError, parser: argparse.ArgumentParser) -> str:
    """A UserError's message followed by this command's flags for the settings it names.

    "try a lower learning rate" becomes "try a lower learning rate (--learning-rate)"
    in train; a setting the command has no flag for is left out (no hint at all
    if none is left).
    """
    flags = [flag_for_setting(setting) for setting in getattr(error, "settings", ())]
    known = [flag for flag in flags if flag.split()[0] in parser._option_string_actions]  # argparse's own index
    return f"{error} ({', '.join(known)})" if known else str(error)


def run_cli(
    prog: str,
    argv: Optional[Sequence[str]],
    parser: argparse.ArgumentParser,
    action: Callable[[argparse.Namespace], int],
) -> int:
    """Parse ``argv`` with ``parser`` and run ``action(args)`` behind the error boundary.

    Returns the process exit status: ``action``'s own, 2 for bad flags or a
    :class:`UserError`, 130 for Ctrl-C, 141 when stdout's reader went away
    (``... --json | head -3``): the rest of the output is dropped quietly, as
    other command-line tools do, instead of a BrokenPipeError traceback.
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # argparse: 0 after --help, 2 for bad flags
        return EXIT_OK if exit_request.code in (0, None) else EXIT_USAGE
    try:
        return action(args)
    except UserError as error:
        if args.debug:
            raise
        print(f"{prog}: error: {error_line(error, parser)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Python flushes stdout again at exit, which would raise once more: point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE


def add_data_arguments(parser: argparse.ArgumentParser, validation: bool = True, training: bool = True,
                       testing: bool = True) -> None:
    """Add the shared data flags (--dataset, --data-dir, sizes, and --val-split if wanted).

    With ``training=False`` (commands that only use the test set) there is no
    --train-size and no --val-split; with ``testing=False`` (commands that only
    use the training set) there is no --test-size.
    """
    from fashion_mnist_vis.data.datasets import DATASETS

    parser.set_defaults(train_size=None, test_size=None, val_split=0.0)  # for commands without those flags
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset",
        choices=DATASETS,
        default="fashion_mnist",
        help="fashion_mnist: the real files (from --data-dir, the cache, /usr/share/datasets/fashion-mnist "
        "where apt-get install dataset-fashion-mnist puts them, or downloaded); "
        "synthetic: generated look-alike data that needs no download",
    )
    group.add_argument(
        "--data-dir",
        "--data_dir",
        type=Path,
        default=None,
        help="folder holding the four Fashion-MNIST IDX files (.gz or not); nothing is downloaded",
    )
    if training:
        group.add_argument(
            "--train-size",
            "--train_size",
            type=positive_int,
            default=None,
            help="use this many training images (a stratified subset of the real set, "
            "or the number generated; synthetic default 60000)",
        )
    if testing:
        group.add_argument(
            "--test-size",
            "--test_size",
            type=positive_int,
            default=None,
            help="use this many test images (stratified subset; synthetic default 10000)",
        )
    if validation and training:
        group.add_argument(
            "--val-split",
            "--val_split",
            type=open_fraction,
            default=0.1,
            help="fraction of the TRAINING set held out for validation (stratified)",
        )


def data_settings_from_args(args: argparse.Namespace):
    """The :class:`~fashion_mnist_vis.data.datasets.DataSettings` of the flags :func:`add_data_arguments` added."""
    from fashion_mnist_vis.data.datasets import DataSettings

    if args.dataset == "synthetic" and args.data_dir is not None:
        raise UserError("--data-dir is for the real dataset; leave it out with --dataset synthetic")
    return DataSettings(dataset=args.dataset, data_dir=args.data_dir, train_size=args.train_size,
                        test_size=args.test_size, val_split=args.val_split)


def add_precision_argument(group) -> None:
    """Add ``--precision`` (one of :data:`~fashion_mnist_vis.models.precision.PRECISIONS`, default auto) to a
    parser or group: the training commands' (train, compare) choice of numeric precision."""
    from fashion_mnist_vis.models.precision import PRECISIONS

    group.add_argument("--precision", choices=PRECISIONS, default="auto",
                       help="numeric precision of training: auto = mixed_float16 on a GPU, mixed_bfloat16 on a CPU with "
                       "AMX or AVX512-BF16, else float32; the softmax layer always computes in float32")


def add_preprocess_arguments(parser: argparse.ArgumentParser) -> None:
    """The --invert, --no-crop, --preprocess, --no-flatten and --no-mirror-average flags of classify,
    explain and webcam_classify (see :func:`analyser_options`)."""
    from fashion_mnist_vis.data.preprocess import INVERT_CHOICES, METHOD_CHOICES

    prep = parser.add_argument_group("preprocessing (see fashion_mnist_vis/data/preprocess.py)")
    prep.add_argument("--invert", choices=INVERT_CHOICES, default="auto",
                      help="make the item light on black: auto inverts photos with a light background")
    prep.add_argument("--no-crop", "--no_crop", dest="no_crop", action="store_true",
                      help="do not crop to the object (it is still padded to the model's shape)")
    prep.add_argument("--preprocess", choices=METHOD_CHOICES, default="standard",
                      help="standard: greyscale, invert, crop, pad, resize; "
                      "original: the original demo's greyscale + bicubic resize only")


    add_photo_fix_arguments(prep)


def add_photo_fix_arguments(group) -> None:
    """--no-flatten (preprocess's ``flatten``) and --no-mirror-average, for every command that
    classifies photos."""
    add_flatten_argument(group)
    add_mirror_average_argument(group, "the photo")


def add_flatten_argument(group) -> None:
    """--no-flatten: preprocess's ``flatten`` off."""
    group.add_argument("--no-flatten", dest="no_flatten", action="store_true",
                       help="do not even out the background's light (a plane fitted to the photo's border)")


def add_mirror_average_argument(group, what: str) -> None:
    """--no-mirror-average: score ``what`` (e.g. 'the photo') alone instead of averaging its class
    probabilities with its mirror image's."""
    group.add_argument("--no-mirror-average", dest="no_mirror_average", action="store_true",
                       help=f"classify {what} alone instead of averaging it with its mirror image "
                       "(every Fashion-MNIST shoe faces left)")


def preprocess_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`fashion_mnist_vis.data.preprocess.preprocess` chosen by the flags."""
    return {"invert": args.invert, "crop": not args.no_crop, "method": args.preprocess,
            "flatten": not args.no_flatten}


def analyser_options(args: argparse.Namespace) -> dict:
    """:func:`preprocess_options` and the analyser's ``mirror_average`` chosen by the flags."""
    return {**preprocess_options(args), "mirror_average": not args.no_mirror_average}
