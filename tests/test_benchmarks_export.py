"""benchmarks/export_extras.py: a tiny run prints every figure, and its numbers describe the files it timed."""

import json

import pytest

from benchmarks.export_extras import format_lines, main
from test_tensorboard_visualise import tiny_gap_model  # noqa: F401 (a module-scoped fixture, shared)


def test_a_tiny_run_times_every_step(tiny_gap_model, capsys):  # noqa: F811
    assert main(["--saved-model", str(tiny_gap_model), "--dataset", "synthetic", "--num", "150", "--k", "4",
                 "--umap-points", "0", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["points"], figures["k"], figures["split"], figures["dims"]) == (150, 4, "test", 16)
    for name in ("load_images_s", "embeddings_s", "neighbour_search_s", "neighbours_csv_s", "atlas_table_s",
                 "atlas_parquet_s"):
        assert figures[name] > 0, name
    # neighbors.csv: a header and 150 x 4 rows of about 60 characters
    assert 150 * 4 * 30 < figures["neighbours_csv_bytes"] < 150 * 4 * 120
    assert figures["atlas_parquet_bytes"] > 150 * 50  # at least the PNG thumbnails
    assert "umap_first_call_s" not in figures and "machine" in figures
    lines = format_lines(figures)
    assert lines[0].startswith(f"model {tiny_gap_model} (global_average_pooling2d, 16-d embedding, ")
    assert any(line.startswith("neighbour search (k=4, exact)") for line in lines)


@pytest.mark.slow
def test_umap_is_timed_twice(tiny_gap_model, capsys):  # noqa: F811
    assert main(["--saved-model", str(tiny_gap_model), "--dataset", "synthetic", "--num", "100",
                 "--umap-points", "60", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["umap_points"] == 60 and figures["umap_first_call_s"] > 0 and figures["umap_compiled_s"] > 0
    assert "UMAP of 60 points, again" in "\n".join(format_lines(figures))
