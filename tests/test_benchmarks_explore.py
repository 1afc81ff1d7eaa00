"""benchmarks/explore.py runs end to end on a tiny model. Timings are never asserted.

(Its --help without TensorFlow is checked with the other benchmarks' in test_benchmarks.py.)"""

import json

import pytest

from benchmarks.explore import format_lines, main, stroke_canvases
from classify_helpers import save_tiny_model


def test_strokes_add_up_on_one_canvas():
    from io import BytesIO

    import numpy as np
    from PIL import Image

    frames = [np.asarray(Image.open(BytesIO(frame))) for frame in stroke_canvases(3)]
    assert frames[0].shape == (280, 280)
    drawn = [int((frame > 0).sum()) for frame in frames]
    assert 0 < drawn[0] < drawn[1] < drawn[2]  # each stroke adds ink, none is wiped
    assert np.all(frames[2][frames[1] > 0] > 0)


@pytest.mark.slow
def test_every_figure_is_measured_and_printed(tmp_path, capsys):
    model = save_tiny_model(tmp_path / "tiny.keras", seed=5, gap=True)
    assert main(["--saved-model", str(model), "--starts", "1", "--strokes", "3", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["engine"] == "NumPy" and figures["method"] == "cam" and figures["strokes"] == 3
    seconds = [value for name, value in figures.items() if name.endswith("_s")]
    assert len(seconds) == 6 and all(value > 0 for value in seconds)
    lines = format_lines(figures)
    assert any(line.startswith("stroke to result, median") and "3 strokes" in line for line in lines)
