"""Embedding snapshots: the shared PCA, axis limits, storage and the figures (no training here)."""

import numpy as np
import pytest
from PIL import Image

from fashion_mnist_vis.explain.pca import fit_pca
from fashion_mnist_vis.training.embedding_snapshots import (
    load_snapshots,
    save_snapshots,
    shared_limits,
    write_snapshot_figures,
)


def test_pca_by_hand():
    # points spread 3 units along (1, 1, 0)/sqrt(2) and 1 unit along z, centred on (5, 5, 5)
    direction = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    t = np.array([-3.0, 3.0, 0.0, 0.0])
    z = np.array([0.0, 0.0, -1.0, 1.0])
    data = 5 + t[:, None] * direction + z[:, None] * np.array([0.0, 0.0, 1.0])
    projection = fit_pca(data)
    np.testing.assert_allclose(projection.mean, [5, 5, 5])
    np.testing.assert_allclose(projection.components, [direction, [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(projection.explained, [18 / 20, 2 / 20])
    np.testing.assert_allclose(projection.apply(data), np.stack([t, z], axis=1), atol=1e-12)


def test_component_signs_are_fixed():
    rng = np.random.default_rng(1)
    data = rng.standard_normal((50, 6)) * [5, 3, 1, 1, 1, 1]
    first, second = fit_pca(data), fit_pca(-data)  # the same axes, mirrored data
    for projection in (first, second):
        for row in projection.components:
            assert row[np.argmax(np.abs(row))] > 0
    np.testing.assert_allclose(first.components, second.components, atol=1e-9)


def test_one_dimensional_embeddings_give_a_flat_second_axis():
    projection = fit_pca(np.arange(5.0)[:, None])
    assert projection.components.shape == (2, 1) and not projection.components[1].any()


def test_shared_limits_cover_every_frame_and_ignore_one_far_outlier():
    small = np.zeros((100, 2))
    large = np.stack([np.linspace(-10, 10, 400), np.linspace(0, 4, 400)], axis=1)
    large[0] = [1e6, 1e6]
    xmin, xmax, ymin, ymax = shared_limits([small, large])
    assert xmin < -9 and 9 < xmax < 100 and ymin < 0.1 and 3.5 < ymax < 100


def test_snapshots_round_trip_and_figures(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 5)
    centres = rng.standard_normal((10, 8)) * 4
    embeddings = [centres[labels] * scale + rng.standard_normal((50, 8)) for scale in (0.0, 0.5, 1.0)]
    save_snapshots(tmp_path / "s.npz", [0, 2, 4], embeddings, labels)
    epochs, loaded, loaded_labels = load_snapshots(tmp_path / "s.npz")
    assert epochs == [0, 2, 4] and np.array_equal(loaded_labels, labels)
    np.testing.assert_allclose(loaded[2], embeddings[2], rtol=1e-6)
    files = write_snapshot_figures(tmp_path, epochs, loaded, labels, "toy")
    assert files == ["embedding_snapshots.gif", "embedding_snapshots.png"]
    with Image.open(tmp_path / files[0]) as gif:
        assert gif.n_frames == 3 and gif.info["loop"] == 0
    with Image.open(tmp_path / files[1]) as grid:
        assert grid.width > 600 and np.asarray(grid.convert("L")).std() > 10
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("count", [1, 5])
def test_small_multiples_handle_any_number_of_frames(tmp_path, count):
    labels = np.arange(20) % 10
    frames = [np.random.default_rng(i).standard_normal((20, 3)) for i in range(count)]
    write_snapshot_figures(tmp_path, list(range(count)), frames, labels, "toy")
    assert (tmp_path / "embedding_snapshots.png").stat().st_size > 5000
