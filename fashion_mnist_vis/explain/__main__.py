"""``python -m fashion_mnist_vis.explain``: the command is :mod:`fashion_mnist_vis.commands.explain`."""

import sys

from fashion_mnist_vis.commands.explain import main

if __name__ == "__main__":
    sys.exit(main())
