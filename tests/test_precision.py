"""--precision: resolving auto, building under a mixed policy, and using such models in float32 processes."""

import json
from pathlib import Path

import numpy as np
import pytest

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.models.precision import (
    PRECISIONS,
    Precision,
    detect_precision,
    parse_cpu_flags,
    precision_policy,
    read_cpu_flags,
    resolve_precision,
)

REPO = Path(__file__).resolve().parents[1]
X86_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile

processor\t: 1
flags\t\t: fpu
"""
ARM_CPUINFO = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\nCPU implementer\t: 0x41\n"


def test_cpu_flags_come_from_the_first_processor():
    assert parse_cpu_flags(X86_CPUINFO) == {"fpu", "sse2", "avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
    assert parse_cpu_flags(ARM_CPUINFO) == {"fp", "asimd", "bf16", "i8mm"}
    assert parse_cpu_flags("") == frozenset()


def test_read_cpu_flags_of_a_missing_file_is_empty(tmp_path):
    assert read_cpu_flags(tmp_path / "cpuinfo") == frozenset()
    (tmp_path / "cpuinfo").write_text(X86_CPUINFO)
    assert "amx_bf16" in read_cpu_flags(tmp_path / "cpuinfo")


@pytest.mark.parametrize("gpu, flags, policy", [
    (True, {"amx_bf16"}, "mixed_float16"),  # a GPU wins over the CPU
    (False, {"avx2", "amx_bf16"}, "mixed_bfloat16"),
    (False, {"avx512_bf16"}, "mixed_bfloat16"),
    (False, {"avx2", "avx512f"}, "float32"),  # AVX-512 without BF16 emulates bfloat16
    (False, set(), "float32"),
])
def test_auto_picks_the_policy_the_hardware_runs_fastest(gpu, flags, policy):
    resolved = resolve_precision("auto", gpu, flags)
    assert resolved.policy == policy and resolved.reason.startswith("auto: ")


def test_auto_on_a_cpu_without_bf16_says_why_and_explicit_choices_pass_through():
    assert str(resolve_precision("auto", False, {"avx2"})) == \
        "float32 (auto: no GPU, and no AMX/AVX512-BF16 on this CPU)"
    for name in PRECISIONS[1:]:
        assert resolve_precision(name, True, {"amx_bf16"}) == Precision(name, "asked for")
        assert detect_precision(name).policy == name
    with pytest.raises(ValueError, match="bfloat16'"):
        resolve_precision("bfloat16", False, ())


@pytest.mark.slow
def test_auto_training_runs_and_records_what_this_cpu_resolves_it_to(tmp_path, capsys):
    """The default (auto) end to end: mixed_bfloat16 on a CPU with bfloat16 units, float32 on one without.

    Every other training test asks for its precision, so none depends on the CPU it runs on.
    """
    from fashion_mnist_vis.commands import train

    expected = detect_precision("auto")
    assert train.main(["--dataset", "synthetic", "--train-size", "120", "--test-size", "40", "--model", "tinyvgg",
                       "--epochs", "1", "--batch-size", "40", "--output", str(tmp_path / "model.keras"),
                       "--logdir", str(tmp_path / "runs")]) == 0
    assert f"Precision: {expected}" in capsys.readouterr().out
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "metrics.json").read_text())["precision"] == expected.policy


def test_precision_policy_is_restored_after_the_block_even_on_error():
    import keras

    before = keras.mixed_precision.global_policy().name
    with pytest.raises(RuntimeError), precision_policy("mixed_bfloat16"):
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        raise RuntimeError("boom")
    assert keras.mixed_precision.global_policy().name == before == "float32"


@pytest.mark.parametrize("name", ["gap_cnn", "dense", "lenet", "cnn64", "tinyvgg", "resnet"])
def test_models_under_a_mixed_policy_keep_names_and_parameters_with_a_float32_softmax(name):
    from fashion_mnist_vis.models.registry import build_model, find_classifier_layer

    reference = build_model(name)
    with precision_policy("mixed_bfloat16"):
        model = build_model(name)
    assert [layer.name for layer in model.layers] == [layer.name for layer in reference.layers]
    assert model.count_params() == reference.count_params()
    assert model.layers[0].dtype_policy.name == "mixed_bfloat16"
    classifier = find_classifier_layer(model)
    assert classifier.dtype_policy.name == "float32" and classifier is model.layers[-1]
    assert model.outputs[0].dtype == "float32"
    assert {layer.dtype_policy.name for layer in reference.layers} == {"float32"}


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_mixed_model_reloads_computing_in_float32_with_the_same_weights(tmp_path, suffix):
    import keras

    from fashion_mnist_vis.models.model_io import load_model, save_model_atomic
    from fashion_mnist_vis.models.registry import build_model

    keras.utils.set_random_seed(0)
    with precision_policy("mixed_bfloat16"):
        model = build_model("tinyvgg")
    save_model_atomic(model, tmp_path / f"m{suffix}")
    loaded = load_model(tmp_path / f"m{suffix}")
    assert {layer.dtype_policy.name for layer in loaded.layers} == {"float32"}
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert loaded.name == "tinyvgg"
    for mine, theirs in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    images = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    float32_scores = loaded.predict(images, verbose=0)
    assert float32_scores.dtype == np.float32
    np.testing.assert_allclose(float32_scores, model.predict(images, verbose=0), atol=0.02)  # bf16: ~3 digits


def test_run_config_without_precision_loads_as_auto_and_a_bad_one_is_refused(tmp_path):
    from fashion_mnist_vis.training.trainer import RUN_CONFIG, TrainConfig

    TrainConfig(model="tinyvgg", epochs=3).save(tmp_path)
    saved = json.loads((tmp_path / RUN_CONFIG).read_text())
    assert saved["precision"] == "auto"
    del saved["precision"]  # written before --precision existed
    (tmp_path / RUN_CONFIG).write_text(json.dumps(saved))
    assert TrainConfig.load(tmp_path) == TrainConfig(model="tinyvgg", epochs=3)
    (tmp_path / RUN_CONFIG).write_text(json.dumps({**saved, "precision": "float8"}))
    with pytest.raises(UserError, match="damaged.*float8"):
        TrainConfig.load(tmp_path)


@pytest.mark.slow
def test_mixed_bfloat16_training_resumes_and_its_model_classifies_evaluates_and_exports_in_float32(tmp_path, capsys):
    """Two steps under mixed_bfloat16 (emulated on CPUs without bf16 units: slow but correct)."""
    import keras

    from fashion_mnist_vis.commands import classify

    from fashion_mnist_vis.commands import evaluate

    from fashion_mnist_vis.commands import tensorboard_visualise

    from fashion_mnist_vis.commands import train
    from fashion_mnist_vis.models.model_io import load_model
    from fashion_mnist_vis.training.trainer import RUN_CONFIG

    model_path = tmp_path / "model.keras"
    data = ["--dataset", "synthetic", "--train-size", "220", "--test-size", "100", "--seed", "3"]
    assert train.main([*data, "--model", "tinyvgg", "--precision", "mixed_bfloat16", "--epochs", "1",
                       "--batch-size", "100", "--output", str(model_path), "--logdir", str(tmp_path / "runs")]) == 0
    assert "Precision: mixed_bfloat16 (asked for)" in capsys.readouterr().out
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "metrics.json").read_text())["precision"] == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"  # this process is a float32 one again

    config = json.loads((run_dir / RUN_CONFIG).read_text())
    assert config["precision"] == "mixed_bfloat16"
    del config["precision"]  # an old run folder: resume must still work, with the model's own policy
    (run_dir / RUN_CONFIG).write_text(json.dumps(config))
    assert train.main(["--resume", str(run_dir), "--epochs", "2"]) == 0
    assert "Precision: mixed_bfloat16 (the resumed model's)" in capsys.readouterr().out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and metrics["precision"] == "mixed_bfloat16"

    saved = keras.saving.load_model(model_path, compile=False)
    assert saved.layers[0].dtype_policy.name == "mixed_bfloat16"
    assert {layer.dtype_policy.name for layer in load_model(model_path).layers} == {"float32"}

    image = REPO / "sample_images" / "sneaker.jpg"
    assert classify.main([str(image), "--saved_model", str(model_path), "--json", "--save_plots",
                          "--plot_dir", str(tmp_path / "plots")]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    scores = [entry["score"] for entry in result["top_k"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001 and result["plots"]
    assert (tmp_path / "plots" / "conv2d.png").is_file() and (tmp_path / "plots" / "cam.png").is_file()

    assert evaluate.main(["--saved-model", str(model_path), "--dataset", "synthetic", "--test-size", "100",
                          "--seed", "3", "--output-dir", str(tmp_path / "evaluation")]) == 0
    evaluation = json.loads((tmp_path / "evaluation" / "metrics.json").read_text())
    assert evaluation["test_images"] == 100 and 0 <= evaluation["test_accuracy"] <= 1

    assert tensorboard_visualise.main(["--saved_model", str(model_path), "--dataset", "synthetic", "--test-size",
                                       "100", "--seed", "3", "--no-tsne", "--output", str(tmp_path / "export")]) == 0
    embeddings = np.fromfile(tmp_path / "export" / "embeddings.bytes", dtype=np.float32)
    assert embeddings.size % 100 == 0 and np.isfinite(embeddings).all() and embeddings.std() > 0


def test_model_policy_is_the_first_weighted_layers_not_the_model_objects():
    from fashion_mnist_vis.models.registry import build_model
    from fashion_mnist_vis.models.precision import model_policy

    with precision_policy("mixed_bfloat16"):
        sequential, functional = build_model("tinyvgg"), build_model("resnet")
    assert model_policy(sequential) == model_policy(functional) == "mixed_bfloat16"
    assert model_policy(build_model("dense")) == "float32"
