"""``python -m fashion_mnist_vis.serve``: serve the Projector export folder read-only, with CORS.

The server itself is :mod:`fashion_mnist_vis.projector.server`; this module
parses the flags (shared with ``tensorboard_assets/serve_assets.py``), prints
where to point the browser, and stops cleanly on Ctrl-C or SIGTERM.
"""

import argparse
import ipaddress
import os
import signal
import sys
import threading
from typing import Callable, Optional, Sequence

from fashion_mnist_vis.commands import cli
from fashion_mnist_vis.projector.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    make_server,
    projector_link,
    url_host,
)

PROG = "python -m fashion_mnist_vis.serve"
DEFAULT_DIRECTORY = "tensorboard_assets"


def exposure_warning(host: str, exposed: str = "this folder readable") -> Optional[str]:
    """A one-line warning if ``host`` makes the served thing reachable from other machines (``exposed``
    completes "makes ... by other machines")."""
    if host in ("", "0.0.0.0", "::"):
        return (
            f"warning: listening on {host or 'all interfaces'} makes {exposed} by "
            "other machines on your network; use the default --host 127.0.0.1 to keep it local"
        )
    try:
        if not ipaddress.ip_address(host).is_loopback:
            return f"warning: listening on {host} makes {exposed} by other machines"
    except ValueError:
        if host != "localhost":
            return f"warning: listening on {host} may make {exposed} by other machines"
    return None


def build_parser(prog: str = PROG, default_directory: str = DEFAULT_DIRECTORY) -> argparse.ArgumentParser:
    """The command-line parser shared by this module and tensorboard_assets/serve_assets.py."""
    parser = cli.make_parser(
        prog,
        "Serve the Embedding Projector export folder over HTTP with CORS headers, so that "
        "https://projector.tensorflow.org can load config.json, tensors and metadata from "
        "this machine. Read-only; only that folder is served.",
    )
    parser.add_argument("--port", type=cli.port_number, default=DEFAULT_PORT, help="port to listen on (0 picks a free one)")
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on; 0.0.0.0 or :: exposes the folder to other machines",
    )
    parser.add_argument("--directory", default=default_directory, help="folder to serve")
    parser.add_argument("--quiet", action="store_true", help="do not print an access-log line per request")
    return parser


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def serve(args: argparse.Namespace, prog: str = PROG) -> int:
    """Start the server described by ``args`` and run until Ctrl-C (then return 0).

    SIGTERM (``kill``, process managers) stops it the same clean way.
    """
    server = make_server(args.directory, args.host, args.port, quiet=args.quiet)

    def announce() -> None:
        warning = exposure_warning(args.host)
        if warning:
            print(f"{prog}: {warning}", file=sys.stderr, flush=True)
        base_url = f"http://{url_host(args.host)}:{server.server_port}/"
        print(f"Serving {server.root} at {base_url} (Ctrl-C to stop)", flush=True)
        if os.path.isfile(os.path.join(server.root, "config.json")):
            print(f"Open the Projector: {projector_link(base_url)}", flush=True)
        else:
            print(
                f"{prog}: note: no config.json in {server.root} yet; run tensorboard_visualise.py "
                "to export one",
                file=sys.stderr,
                flush=True,
            )

    serve_until_stopped(server, announce, f"{prog}: server stopped")
    return cli.EXIT_OK


def serve_until_stopped(server, announce: Callable[[], None], stopped: str) -> None:
    """Call ``announce()``, then serve until Ctrl-C or SIGTERM; print ``stopped`` on stderr and close.

    ``server``: a :class:`~fashion_mnist_vis.projector.server.ProjectorServer` (bound, not started).
    """
    previous_sigterm = None
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        previous_sigterm = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        announce()
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        print(stopped, file=sys.stderr, flush=True)
    finally:
        server.server_close()
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)


def main(
    argv: Optional[Sequence[str]] = None,
    *,
    prog: str = PROG,
    default_directory: str = DEFAULT_DIRECTORY,
) -> int:
    """Command-line entry point; ``prog`` and ``default_directory`` let launchers reuse it."""
    parser = build_parser(prog, default_directory)
    return cli.run_cli(prog, argv, parser, lambda args: serve(args, prog))


if __name__ == "__main__":
    sys.exit(main())
