"""benchmarks/neighbours.py runs end to end on a tiny model and small data. Timings are never asserted.

(Its --help without TensorFlow is checked with the other benchmarks' in test_benchmarks.py.)"""

import json

from benchmarks.neighbours import format_lines, main
from classify_helpers import save_tiny_model


def test_every_figure_is_measured_and_printed(tmp_path, idx_dir, capsys):
    model = save_tiny_model(tmp_path / "tiny.keras", seed=5)
    assert main(["--saved-model", str(model), "--data-dir", str(idx_dir), "--repeats", "3", "--k", "4",
                 "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["training_images"] == 600 and figures["dims"] == 8 and figures["k"] == 4
    assert figures["engine"] == "Keras" and figures["query_engine"] == "NumPy"
    assert figures["cache_bytes"] > 600 * 8 * 4  # the float32 embeddings at least
    seconds = [value for name, value in figures.items() if name.endswith("_s")]
    assert len(seconds) == 9 and all(value > 0 for value in seconds)
    lines = format_lines(figures)
    assert any("build the index (600 images)" in line for line in lines)
    assert any("one query, search alone (k=4)" in line and line.rstrip().endswith("(median of 3)") for line in lines)
