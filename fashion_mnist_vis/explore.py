"""``python fashion_mnist_vis/explore.py`` and ``python -m fashion_mnist_vis.explore``: the command is
:mod:`fashion_mnist_vis.commands.explore`."""

import sys

if __package__ in (None, ""):  # run as a file: make the package importable
    import os

    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from fashion_mnist_vis.commands.explore import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
