"""``python fashion_mnist_vis/explain.py``: the command is :mod:`fashion_mnist_vis.commands.explain`.

``python -m fashion_mnist_vis.explain`` runs the same command from the package
``fashion_mnist_vis/explain/`` (its ``__main__.py``), which shadows this file
when imported; this file serves the seed-era way of running a script by its path.
"""

import sys

if __package__ in (None, ""):  # run as a file: make the package importable
    import os

    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from fashion_mnist_vis.commands.explain import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
