"""model_handle: a model file is read once, one rule picks the engine, every command that runs a model
takes --engine with the same refusal, and both engines give the same numbers; both graphs are ModelGraphs."""

import json

import keras
import numpy as np
import pytest

from fashion_mnist_vis.models import model_handle
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.models.graph import ModelGraph
from fashion_mnist_vis.models.keras_graph import LayerGraph
from fashion_mnist_vis.models.model_handle import open_model
from fashion_mnist_vis.models.model_io import save_model_atomic
from fashion_mnist_vis.models.registry import build_model
from fashion_mnist_vis.models.numpy_network import NumpyGraph
from test_numpy_network import SAMPLE, randomise

REFUSAL = "cannot run with the numpy engine (layer type 'Rescaling'); use the keras engine"
"""The library's refusal; every command adds its flag: REFUSAL + " (--engine keras)"."""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """tinyvgg with random weights (.keras and .h5), and a model with a Rescaling layer NumPy lacks."""
    folder = tmp_path_factory.mktemp("handle")
    tiny = randomise(build_model("tinyvgg"), seed=4)
    layers = keras.layers
    rescaling = keras.Sequential([keras.Input((28, 28, 1)), layers.Rescaling(1.0), layers.Conv2D(4, 3),
                                  layers.GlobalAveragePooling2D(), layers.Dense(10, activation="softmax")],
                                 name="with_rescaling")
    return {"keras": save_model_atomic(tiny, folder / "tiny.keras"), "h5": save_model_atomic(tiny, folder / "tiny.h5"),
            "rescaling": save_model_atomic(randomise(rescaling), folder / "rescaling.keras")}


@pytest.mark.parametrize("kind", ["keras", "h5"])
def test_one_rule_picks_the_engine(models, kind):
    assert open_model(models[kind]).engine == "NumPy"
    assert open_model(models[kind], "numpy").engine == "NumPy"
    assert open_model(models[kind], "keras").engine == "Keras"
    assert open_model(models["rescaling"]).engine == "Keras"
    # many images or a video stream: auto means Keras; numpy and keras still force an engine
    assert open_model(models[kind], many_images=True).engine == "Keras"
    assert open_model(models[kind], "numpy", many_images=True).engine == "NumPy"
    with pytest.raises(UserError, match=r"^model '.*rescaling.keras' " + REFUSAL.replace("(", r"\(").replace(")", r"\)")) as refusal:
        open_model(models["rescaling"], "numpy")
    assert refusal.value.settings == ("engine=keras",)


def test_the_file_is_read_once_even_when_numpy_cannot_run_it(models, monkeypatch):
    """Before, classify parsed the file for NumPy, then Keras parsed it again."""
    from fashion_mnist_vis.commands.classify import main

    reads = []
    read_config = model_handle._read_config
    monkeypatch.setattr(model_handle, "_read_config", lambda *args: reads.append(args[1]) or read_config(*args))
    assert main([str(SAMPLE), "--saved_model", str(models["rescaling"])]) == 0
    assert main([str(SAMPLE), "--saved_model", str(models["h5"]), "--engine", "keras"]) == 0
    assert reads == ["zip", "hdf5"]


@pytest.mark.parametrize("engine", ["numpy", "keras"])
def test_both_graphs_are_model_graphs_built_once_per_handle(models, engine):
    handle = open_model(models["keras"], engine)
    assert isinstance(handle.graph, ModelGraph) and handle.graph is handle.graph
    assert isinstance(handle.graph, NumpyGraph if engine == "numpy" else LayerGraph)
    for method in ("probe", "inputs_of", "producer", "logit_gradients"):
        assert callable(getattr(handle.graph, method))


def test_both_engines_probe_the_same_values_compiled_or_not(models):
    batch = np.random.default_rng(0).random((5, 28, 28, 1), dtype=np.float32)
    values = {}
    for engine in ("numpy", "keras"):
        graph = open_model(models["h5"], engine).graph
        for compiled in (False, True):
            outputs = graph.probe([graph.outputs["conv2d_2"], graph.model_output], compiled=compiled)(batch)
            values[engine, compiled] = [np.asarray(output) for output in outputs]
    for key, found in values.items():
        for ours, theirs in zip(found, values["keras", False]):
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5, err_msg=str(key))


def _commands(models, tmp_path):
    """Each command that runs a model, as (name, main, argv without --engine)."""
    from fashion_mnist_vis.commands import classify
    from fashion_mnist_vis.commands import evaluate
    from fashion_mnist_vis.commands import tensorboard_visualise
    from fashion_mnist_vis.commands import webcam_classify
    from test_webcam_classify import write_clip

    clip = write_clip(tmp_path / "clip.avi", [np.zeros((28, 28), np.uint8)], frames_per_item=2)
    model = str(models["rescaling"])
    data = ["--dataset", "synthetic", "--test-size", "20"]
    return [
        ("classify.py", classify.main, [str(SAMPLE), "--saved-model", model]),
        ("evaluate.py", evaluate.main, ["--saved-model", model, "--output-dir", str(tmp_path / "evaluation"), *data]),
        ("tensorboard_visualise.py", tensorboard_visualise.main,
         ["--saved-model", model, "--output", str(tmp_path / "export"), *data]),
        ("webcam_classify.py", webcam_classify.main,
         ["--source", str(clip), "--no-display", "--json", "--saved-model", model]),
    ]


def test_every_command_takes_engine_and_refuses_alike(models, tmp_path, capsys):
    for prog, main, argv in _commands(models, tmp_path):
        assert main([*argv, "--engine", "numpy"]) == 2, prog
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1] == f"{prog}: error: model {str(models['rescaling'])!r} {REFUSAL} (--engine keras)", prog
        assert main([*argv, "--engine", "nope"]) == 2
        assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_auto_is_numpy_for_classify_and_keras_for_the_commands_that_run_many_images(models, tmp_path, capsys):
    for prog, main, argv in _commands(models, tmp_path):
        argv = [str(models["keras"]) if arg == str(models["rescaling"]) else arg for arg in argv]
        assert main(argv) == 0, prog
        out, err = capsys.readouterr()
        ran = "NumPy" if prog == "classify.py" else "Keras"
        assert f"run by {ran}" in out + err, prog


def test_evaluate_gives_the_same_numbers_under_both_engines(models, tmp_path, capsys):
    from fashion_mnist_vis.commands.evaluate import main

    metrics = {}
    for engine in ("numpy", "keras"):
        folder = tmp_path / engine
        assert main(["--saved-model", str(models["keras"]), "--engine", engine, "--dataset", "synthetic",
                     "--test-size", "60", "--batch-size", "16", "--output-dir", str(folder)]) == 0
        assert f"run by {'NumPy' if engine == 'numpy' else 'Keras'}" in capsys.readouterr().out
        metrics[engine] = json.loads((folder / "metrics.json").read_text())
    ours, theirs = metrics["numpy"], metrics["keras"]
    assert ours["engine"] == "NumPy" and theirs["engine"] == "Keras"
    assert ours["test_accuracy"] == theirs["test_accuracy"] and ours["per_class"] == theirs["per_class"]
    assert ours["test_loss"] == pytest.approx(theirs["test_loss"], abs=1e-4)
    assert sorted(path.name for path in (tmp_path / "numpy").iterdir()) == \
        sorted(path.name for path in (tmp_path / "keras").iterdir())  # model.png too, when graphviz is there


def test_the_export_gives_the_same_embeddings_under_both_engines(models, tmp_path, capsys):
    from fashion_mnist_vis.commands.tensorboard_visualise import main

    for engine in ("numpy", "keras"):
        assert main(["--saved-model", str(models["h5"]), "--engine", engine, "--dataset", "synthetic",
                     "--test-size", "50", "--batch-size", "16", "--format", "bytes",
                     "--output", str(tmp_path / engine)]) == 0
        assert f"run by {'NumPy' if engine == 'numpy' else 'Keras'}" in capsys.readouterr().out
    tensors = {engine: np.fromfile(tmp_path / engine / "embeddings.bytes", dtype=np.float32)
               for engine in ("numpy", "keras")}
    assert tensors["numpy"].size == 50 * 250
    np.testing.assert_allclose(tensors["numpy"], tensors["keras"], rtol=1e-4, atol=1e-5)
    rows = {engine: [line.split("\t")[:3] for line in (tmp_path / engine / "metadata.tsv").read_text().splitlines()]
            for engine in ("numpy", "keras")}
    assert rows["numpy"] == rows["keras"] and len(rows["numpy"]) == 51  # index, label, predicted
