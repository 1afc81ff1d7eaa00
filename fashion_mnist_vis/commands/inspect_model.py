"""Write the channel atlas of a trained model: what each channel of each convolution looks for.

Run as ``python fashion_mnist_vis/inspect_model.py`` or ``python -m fashion_mnist_vis.inspect_model``::

    python fashion_mnist_vis/inspect_model.py --saved_model model.keras --plot_dir atlas

It searches the training images for each channel's strongest responses,
finds each channel's and each class's maximising input by gradient ascent and
writes ``index.html`` and one page per convolution into the plot folder (see
:mod:`fashion_mnist_vis.explain.atlas` and :mod:`fashion_mnist_vis.visualize.atlas_pages`).
Progress goes to stderr, the page's path to stdout. Exit status 0, or 2 for bad flags, model or data.
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from fashion_mnist_vis.atomic import check_writable_folder
from fashion_mnist_vis.commands import cli
from fashion_mnist_vis.commands.cli import positive_int
from fashion_mnist_vis.errors import UserError

PROG = "inspect_model.py"
DEFAULT_PLOT_DIR = Path("atlas")


def build_parser() -> argparse.ArgumentParser:
    from fashion_mnist_vis.explain.atlas import AtlasSettings

    defaults = AtlasSettings()
    parser = cli.make_parser(
        PROG,
        "Write an atlas of what each channel of each convolutional layer looks for: per channel the "
        "training images that excite it most (with the receptive field of the strongest unit outlined), "
        "the input that excites it most (activation maximisation) and, for the first layer, its weights; "
        "and each class's maximising input. Opens in a browser: PLOT_DIR/index.html.",
    )
    cli.add_model_arguments(parser, "the trained model (.keras or .h5)", many_images=True)
    parser.add_argument("--plot-dir", "--plot_dir", dest="plot_dir", type=Path, default=DEFAULT_PLOT_DIR,
                        help="folder for the pages and pictures (created if needed; only the atlas's own file "
                        "names are written)")
    parser.add_argument("--images", dest="train_size", type=positive_int, default=None, metavar="N",
                        help="search a stratified sample of N training images instead of all of them "
                        "(60,000 for the real data: about 2 minutes on 2 cores)")
    parser.add_argument("--top", type=positive_int, default=defaults.top_images,
                        help="strongest training images shown per channel")
    parser.add_argument("--steps", type=cli.number_in_range(int, low=0), default=defaults.channel_ascent.steps,
                        help="gradient ascent steps per maximising input (0: show the starting noise)")
    parser.set_defaults(maximise=True)
    parser.add_argument("--no-maximise", "--no_maximise", dest="maximise", action="store_false",
                        default=argparse.SUPPRESS, help="leave out the maximising inputs (channels and classes): no gradient ascent, "
                        "much faster")
    parser.add_argument("--concepts", type=cli.number_in_range(int, low=0), default=defaults.concepts,
                        help="concepts of the last convolution to find by Deep Feature Factorisation, in one "
                        "training image of each class (0: none)")
    parser.add_argument("--seed", type=int, default=42,
                        help="seed of the image sample, of the ascent's starting noise and jitter and, with "
                        "--dataset synthetic, of the data")
    cli.add_data_arguments(parser, validation=False, training=False, testing=False)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_cli(PROG, argv, build_parser(), run)


def settings_from_args(args: argparse.Namespace):
    """The :class:`~fashion_mnist_vis.explain.atlas.AtlasSettings` the flags ask for."""
    from fashion_mnist_vis.explain.atlas import AtlasSettings

    defaults = AtlasSettings()
    return AtlasSettings(
        top_images=args.top, maximise=args.maximise, concepts=args.concepts,
        channel_ascent=dataclasses.replace(defaults.channel_ascent, steps=args.steps, seed=args.seed),
        class_ascent=dataclasses.replace(defaults.class_ascent, steps=args.steps, seed=args.seed))


def run(args: argparse.Namespace) -> int:
    from fashion_mnist_vis.data.datasets import load_splits
    from fashion_mnist_vis.explain.atlas import build_atlas, convolution_layers
    from fashion_mnist_vis.visualize.atlas_pages import write_atlas

    settings = settings_from_args(args)
    data = cli.data_settings_from_args(args)
    check_writable_folder(args.plot_dir, "the plot folder")
    started = time.perf_counter()
    handle = cli.open_model(args)
    input_shape = tuple(handle.graph.input.shape[1:3])
    if input_shape != (28, 28):
        raise UserError(f"model {str(args.saved_model)!r} takes {input_shape[0]}x{input_shape[1]} images; the atlas "
                        "searches Fashion-MNIST's 28x28 training images")
    convolution_layers(handle.model, handle.graph)  # refuses a model without any before the data is read
    splits = load_splits(dataclasses.replace(data, val_split=0.0), args.seed)
    print(f"Model: {handle.describe()}, run by {handle.engine}", file=sys.stderr)
    print(f"Images: {len(splits.x_train)} training images ({splits.source})", file=sys.stderr)

    atlas = build_atlas(handle, splits.x_train, splits.y_train, settings,
                        progress=lambda message: print(f"  {message}", file=sys.stderr, flush=True))
    images_label = f"{len(splits.x_train):,} training images ({splits.source})"
    try:
        index = write_atlas(atlas, args.plot_dir, handle.describe(), images_label)
    except OSError as error:
        raise UserError(f"cannot write the atlas into {str(args.plot_dir)!r}: {error.strerror or error}") from None
    print(f"Atlas written in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print(index)
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
