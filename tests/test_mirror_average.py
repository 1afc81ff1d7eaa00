"""Test-time averaging over a photo and its mirror image, on a tiny trained model: classify, evaluate, the flag."""

import json

import numpy as np
import pytest
from PIL import Image

from classify_helpers import synthetic_data, trained_model_path
from fashion_mnist_vis.explain.analysis import Analyser
from fashion_mnist_vis.models.model_handle import open_model


@pytest.fixture(scope="module")
def model_path():
    return trained_model_path("tinyvgg")


@pytest.mark.parametrize("engine", ["numpy", "keras"])
def test_a_mirrored_image_gets_the_same_probabilities_as_the_original(model_path, engine):
    images, _ = synthetic_data()
    handle = open_model(model_path, engine)
    averaging, plain = Analyser(handle, mirror_average=True), Analyser(handle)
    for image in images[:4]:
        item = image[:, :, None].astype(np.float32) / 255.0
        mirrored = np.ascontiguousarray(item[:, ::-1])
        both = averaging.classify(item).probabilities
        np.testing.assert_allclose(both, averaging.classify(mirrored).probabilities, atol=1e-6)
        expected = (plain.classify(item).probabilities + plain.classify(mirrored).probabilities) / 2
        np.testing.assert_allclose(both, expected, atol=1e-6)


def test_classify_averages_by_default_and_the_flag_turns_it_off(model_path, tmp_path, capsys):
    from fashion_mnist_vis.commands.classify import main

    images, _ = synthetic_data()
    shoe = images[int(np.flatnonzero(synthetic_data()[1] == 9)[0])]
    for name, pixels in (("left.png", shoe), ("right.png", shoe[:, ::-1])):
        Image.fromarray(np.ascontiguousarray(pixels)).save(tmp_path / name)
    paths = [str(tmp_path / "left.png"), str(tmp_path / "right.png")]
    assert main([*paths, "--saved-model", str(model_path), "--json", "--top-k", "10"]) == 0
    left, right = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert left["top_k"] == right["top_k"]
    assert main([*paths, "--saved-model", str(model_path), "--json", "--top-k", "10", "--no-mirror-average"]) == 0
    left, right = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert left["top_k"] != right["top_k"]


def test_evaluate_on_an_image_folder_averages_with_the_mirror(model_path, tmp_path):
    from fashion_mnist_vis.training.report import evaluate
    import keras

    images, labels = synthetic_data()
    model = keras.saving.load_model(model_path)
    plain = evaluate(model, images[:20], labels[:20])
    flipped = evaluate(model, np.ascontiguousarray(images[:20, :, ::-1]), labels[:20])
    averaged = evaluate(model, images[:20], labels[:20], mirror_average=True)
    np.testing.assert_allclose(averaged.probabilities, (plain.probabilities + flipped.probabilities) / 2, atol=1e-6)
