"""Import TensorFlow and Keras once, quietly and without the helpers this package never uses.

Commands call :func:`import_tensorflow` before their first Keras work (with
``--debug`` TensorFlow's own start-up log is shown); the model handle calls it
when Keras runs a model.
"""

import contextlib
import os
import sys
from typing import Sequence


def import_tensorflow(debug: bool = False) -> None:
    """Import TensorFlow and Keras once, hiding their C++ start-up log lines unless ``debug``.

    TensorFlow prints CUDA and oneDNN notices straight to file descriptor 2
    before its own log settings apply, so environment variables cannot hide
    them; stderr is pointed at /dev/null while the import and the device
    probe run. Python exceptions are unaffected. Keras is imported without
    its optional scikit-learn and matplotlib helpers (see :func:`_hidden`).
    """
    if "tensorflow" in sys.modules:
        return
    if debug:
        with _hidden():
            import keras  # noqa: F401
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with _hidden():
            import keras  # noqa: F401  (imported for its side effect: loaded once, quietly)
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)


KERAS_OPTIONAL_IMPORTS = ("sklearn", "matplotlib")
"""Packages ``import keras`` imports only for helpers this package never uses."""


@contextlib.contextmanager
def _hidden(names: Sequence[str] = KERAS_OPTIONAL_IMPORTS):
    """Make ``import NAME`` fail inside the ``with`` block, for each of ``names`` not yet imported.

    ``import keras`` imports scikit-learn (and with it SciPy) for its
    scikit-learn wrappers, and matplotlib's pyplot for its image-gallery
    plots. This package uses neither, and the two imports take about a
    second of every command's start-up on a small CPU (and matplotlib is
    not needed at all when no plots are drawn). A ``None`` entry in
    ``sys.modules`` makes an import fail, which Keras expects (those
    helpers then report the package as missing). The entries are removed
    afterwards, so scikit-learn (PCA, t-SNE) and matplotlib (plots) import
    normally when they are needed.
    """
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


@contextlib.contextmanager
def logger_quieted(name: str):
    """Only errors from the Python logger ``name`` inside the block.

    ``"tensorflow"``: its "triggered tf.function retracing" warnings, for work
    that traces a new function per model on purpose (the sanity check's
    cascade of re-initialised clones); ``"absl"``: Keras's "legacy format"
    notice when the user asked for a .h5 file.
    """
    import logging

    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
