"""The interactive explorer: draw, upload or pick an image and watch the model classify it, live.

Run as ``python fashion_mnist_vis/explore.py``, ``python -m fashion_mnist_vis.explore`` or ``fmv-explore``::

    python fashion_mnist_vis/explore.py --saved_model model.keras

starts a local web app (http://localhost:8050/ by default), prints its address and opens the browser
(not with ``--no-browser``). Ctrl-C (or SIGTERM) stops it. The page and its API are
:mod:`fashion_mnist_vis.explorer`.
"""

import argparse
import sys
import time
import webbrowser
from typing import Optional, Sequence

from fashion_mnist_vis.commands import cli
from fashion_mnist_vis.commands.classify import add_example_arguments, prepare_examples
from fashion_mnist_vis.commands.training_index_flags import open_with_training_index
from fashion_mnist_vis.commands.serve import exposure_warning, serve_until_stopped
from fashion_mnist_vis.projector.server import DEFAULT_HOST, url_host

PROG = "explore.py"
DEFAULT_PORT = 8050


def build_parser() -> argparse.ArgumentParser:
    parser = cli.make_parser(
        PROG,
        "Start a local web app to explore a trained model live: draw on a canvas, upload a photo or pick "
        "a random test image (or one the model gets wrong) and see the preprocessing, the class "
        "probabilities, a class map by any explanation method and every layer's feature maps.",
    )
    cli.add_model_arguments(parser, "the trained model file (.keras or .h5)")
    parser.add_argument("--port", type=cli.port_number, default=DEFAULT_PORT,
                        help="port to listen on (0 picks a free one)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="address to listen on; 0.0.0.0 or :: lets other machines use the explorer")
    parser.add_argument("--no-browser", "--no_browser", dest="no_browser", action="store_true",
                        help="only print the address; do not open a browser")
    parser.add_argument("--quiet", action="store_true", help="do not print an access-log line per request")
    cli.add_preprocess_arguments(parser)
    add_example_arguments(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.run_cli(PROG, argv, build_parser(), run)


def run(args: argparse.Namespace) -> int:
    from fashion_mnist_vis.explorer.app_server import make_explorer_server
    from fashion_mnist_vis.explorer.session import Explorer, ExplorerSettings

    started = time.perf_counter()
    opened = open_with_training_index(args, prepare_examples(args))
    handle = opened.handle
    settings = ExplorerSettings(preprocess=cli.preprocess_options(args), mirror_average=not args.no_mirror_average,
                                data=cli.data_settings_from_args(args))
    explorer = Explorer(handle, settings, opened.examples, opened.unfamiliarity)
    server = make_explorer_server(explorer, args.host, args.port, quiet=args.quiet)

    def announce() -> None:
        warning = exposure_warning(args.host, "the explorer and your model usable")
        if warning:
            print(f"{PROG}: {warning}", file=sys.stderr, flush=True)
        url = f"http://{url_host(args.host)}:{server.server_port}/"
        if opened.note:
            print(opened.note, file=sys.stderr, flush=True)
        print(f"Model: {handle.describe()}, run by {handle.engine}", file=sys.stderr, flush=True)
        print(f"Explorer ready at {url} (started in {time.perf_counter() - started:.2f} s; Ctrl-C to stop)",
              flush=True)
        if not args.no_browser:
            webbrowser.open(url)

    serve_until_stopped(server, announce, f"{PROG}: explorer stopped")
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
