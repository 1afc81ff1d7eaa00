"""Every command's --help, run the two ways users run it, without TensorFlow.

`--help` must stay fast, so it must not import TensorFlow, Keras, matplotlib
or scikit-learn: the subprocess blocks these modules (an import of any would
fail) and runs the script as a file and as a module.
"""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPTS = {
    "train": ("--saved_model", "--batch-size", "--data-dir", "--dataset", "--resume", "--lr-find",
              "--embedding-snapshots", "gap_cnn", "resnet", "--strategy", "multiworker", "--devices", "--backup-dir"),
    "classify": ("--saved_model", "--save-plots", "--save_plots", "--plot-dir", "--plot_dir", "--top-k",
                 "--json", "--engine", "--invert", "--no-crop", "--preprocess", "--cam-class"),
    "evaluate": ("--saved_model", "--engine", "--images", "--invert", "--no-crop", "--bins", "--output-dir", "--dataset"),
    "compare": ("--models", "--epochs", "--force", "--output-dir", "--train-size", "--seed", "resnet"),
    "webcam_classify": ("--source", "--saved_model", "--saved-model", "--engine", "--output", "--no-display", "--every",
                        "--max-frames", "--json", "--region", "--force", "--camera-timeout", "--invert"),
    "explain": ("--saved_model", "--saved-model", "--engine", "--methods", "--class", "--contrast", "--layer",
                "--faithfulness", "--sanity", "--json", "--plot_dir", "--plot-dir", "--invert", "integrated-gradients"),
    "serve": ("--port", "--host", "--directory", "--quiet"),
    "explore": ("--saved_model", "--saved-model", "--engine", "--port", "--host", "--no-browser", "--neighbours",
                "--invert", "--no-mirror-average", "--data-dir", "--quiet"),
    "tensorboard_visualise": ("--saved_model", "--saved-model", "--engine", "--num", "--layer", "--raw", "--format", "--host",
                              "--port", "--base-url", "--tsne-points", "--no-tsne", "--dataset", "--data-dir",
                              "(default: tensorboard_assets)"),
}


BLOCKED = ("tensorflow", "keras", "matplotlib", "sklearn")
"""Modules whose import takes long enough to notice; --help imports none of them."""

SCRIPT_FILES = {"serve": "tensorboard_assets/serve_assets.py"}  # the others: fashion_mnist_vis/<name>.py


def _help_without_tensorflow(script: str, as_module: bool) -> subprocess.CompletedProcess:
    target = f"fashion_mnist_vis.{script}" if as_module else SCRIPT_FILES.get(script, f"fashion_mnist_vis/{script}.py")
    run = "runpy.run_module" if as_module else "runpy.run_path"
    code = ("import runpy, sys\n"
            f"for name in {BLOCKED!r}: sys.modules[name] = None\n"
            f"sys.argv = [{target!r}, '--help']; {run}({target!r}, run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("as_module", [False, True], ids=["file", "module"])
@pytest.mark.parametrize("script", list(SCRIPTS))
def test_help_lists_the_flags_without_heavy_imports(script, as_module):
    result = _help_without_tensorflow(script, as_module)
    assert result.returncode == 0, result.stderr
    for flag in SCRIPTS[script]:
        assert flag in result.stdout, f"{script} --help does not mention {flag}"
