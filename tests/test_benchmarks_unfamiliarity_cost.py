"""benchmarks/unfamiliarity_cost.py runs end to end on a tiny model and small data. Timings are never asserted."""

import json

import pytest

from benchmarks.unfamiliarity_cost import format_lines, main
from classify_helpers import save_tiny_model
from fashion_mnist_vis.explain.index_cache import beside_model


@pytest.mark.slow
def test_every_figure_is_measured_and_printed_and_the_model_is_left_alone(tmp_path, idx_dir, capsys):
    model = save_tiny_model(tmp_path / "tiny.keras", seed=5, gap=True)
    assert main(["--saved-model", str(model), "--data-dir", str(idx_dir), "--repeats", "1", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["train_index_line"].startswith("Unfamiliarity index: 600 training images embedded")
    seconds = [value for name, value in figures.items() if name.endswith("_s")]
    assert len(seconds) == 3 and all(value > 0 for value in seconds)
    assert any(line.startswith("classify --save_plots --no-unfamiliarity") for line in format_lines(figures))
    assert not beside_model(model).exists()  # measured on a copy
