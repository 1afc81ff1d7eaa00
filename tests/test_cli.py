"""commands/cli.py, the shared parser plumbing, and models/keras_runtime.py, TensorFlow's quiet, lean import."""

import subprocess
import sys
from pathlib import Path

import pytest

from fashion_mnist_vis.models import keras_runtime

REPO = Path(__file__).resolve().parents[1]


def test_hidden_modules_fail_to_import_inside_the_block_only(monkeypatch):
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)  # a small module nothing here uses
    with keras_runtime._hidden(("colorsys",)):
        with pytest.raises(ImportError):
            import colorsys  # noqa: F401
    import colorsys  # noqa: F401, F811

    assert sys.modules["colorsys"] is not None


def test_modules_already_imported_are_not_hidden():
    import json

    with keras_runtime._hidden(("json",)):
        import json as again

    assert again is json and sys.modules["json"] is json


@pytest.mark.slow
def test_tensorflow_is_imported_without_sklearn_or_matplotlib_which_still_work_afterwards():
    code = (
        "import sys\n"
        "from fashion_mnist_vis.models.keras_runtime import import_tensorflow\n"
        "import_tensorflow()\n"
        "import keras, tensorflow\n"
        "heavy = [name for name in ('sklearn', 'matplotlib') if name in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from sklearn.decomposition import PCA\n"
        "from matplotlib.figure import Figure\n"
        "print(PCA(n_components=1).fit_transform([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]).shape, Figure().dpi)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["(3,", "1)", "100.0"]
