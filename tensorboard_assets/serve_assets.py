"""Serve this folder to the TensorFlow Embedding Projector (with CORS headers).

Usage, from the repository root or anywhere else::

    python tensorboard_assets/serve_assets.py [--port 8000] [--host 127.0.0.1] [--directory DIR]

then open the "Open the Projector" URL it prints. The Projector page at
https://projector.tensorflow.org fetches config.json, the tensors and the
metadata from this machine, which browsers only allow when the answers carry
CORS headers; see :mod:`fashion_mnist_vis.serve` for the server itself. This
launcher only puts the repository root on ``sys.path`` and makes this folder
the default ``--directory``.
"""

import os
import sys

ASSETS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(ASSETS_DIR)
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from fashion_mnist_vis.commands import serve  # noqa: E402 (needs the sys.path entry above)


def main(argv=None) -> int:
    """Run the CORS server on this folder unless ``--directory`` says otherwise."""
    return serve.main(argv, prog="serve_assets.py", default_directory=ASSETS_DIR)


if __name__ == "__main__":
    sys.exit(main())
