"""The benchmarks' error boundary: a problem the user can fix is one line on stderr, not a traceback.

The commands have theirs in :func:`fashion_mnist_vis.commands.cli.run_cli`;
a benchmark script ends with::

    if __name__ == "__main__":
        from benchmarks.entry import run_script
        sys.exit(run_script(main, "python -m benchmarks.photos"))

so a missing model file or data folder (a :class:`~fashion_mnist_vis.errors.UserError`)
prints ``python -m benchmarks.photos: error: ...`` and exits with status 2,
and Ctrl-C exits with status 130, both without a traceback.
"""

import sys
from typing import Callable, Optional, Sequence

from fashion_mnist_vis.commands.cli import EXIT_INTERRUPTED, EXIT_USAGE
from fashion_mnist_vis.errors import UserError, one_line


def run_script(main: Callable[[Optional[Sequence[str]]], int], prog: str,
               argv: Optional[Sequence[str]] = None) -> int:
    """Run ``main(argv)`` and return its exit status; 2 after a UserError, 130 after Ctrl-C."""
    try:
        return main(argv)
    except UserError as error:
        print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
