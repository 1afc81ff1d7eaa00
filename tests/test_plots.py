"""visualize/plots.py: saving figures and animations atomically."""

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from fashion_mnist_vis.visualize.plots import save_figure, save_gif


def _figure(value: float) -> Figure:
    figure = Figure(figsize=(1, 1))
    figure.add_subplot().imshow(np.full((2, 2), value), cmap="gray", vmin=0, vmax=1)
    return figure


def test_save_figure_replaces_a_file_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "new" / "plot.png"
    assert save_figure(_figure(1.0), path, dpi=20, tight=False) == path  # the folder is made
    before = path.read_bytes()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (20, 20)

    def broken_savefig(self, target, **kwargs):
        target.write_bytes(b"half a PNG")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        save_figure(_figure(0.0), path)
    assert path.read_bytes() == before  # the old plot survives
    assert sorted(child.name for child in path.parent.iterdir()) == ["plot.png"]  # no temporary file left


def test_save_gif_holds_the_last_frame_three_times_as_long(tmp_path):
    path = save_gif([_figure(0.0), _figure(1.0)], tmp_path / "anim.gif", milliseconds=100, dpi=20)
    with Image.open(path) as gif:
        durations = []
        for frame in range(gif.n_frames):
            gif.seek(frame)
            durations.append(gif.info["duration"])
    assert durations == [100, 300]
    assert [child.name for child in tmp_path.iterdir()] == ["anim.gif"]
