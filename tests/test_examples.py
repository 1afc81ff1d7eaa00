"""Explanation by example (fashion_mnist_vis.explain.examples, training_index, index_cache) on a tiny model.

The training set is the generated IDX folder of conftest (600 striped items); the neighbours are
checked against a brute-force cosine search over embeddings computed by Keras directly.
"""

import numpy as np
import pytest

from classify_helpers import save_tiny_model
from fashion_mnist_vis.data.datasets import DataSettings
from fashion_mnist_vis.data.fashion_mnist import CACHE_ENV
from fashion_mnist_vis.data.idx import read_idx
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain import index_cache, training_index
from fashion_mnist_vis.explain.examples import ExamplePlan, ExampleSettings
from fashion_mnist_vis.models.model_handle import open_model


@pytest.fixture(params=["dense", "gap"])
def model_path(tmp_path, request):
    """A tiny model whose embedding is the last Dense layer's input, or (gap) its GAP output."""
    return save_tiny_model(tmp_path / "models" / "tiny.keras", seed=1, gap=request.param == "gap")


@pytest.fixture
def settings(idx_dir):
    return ExampleSettings(neighbours=6, data=DataSettings(data_dir=idx_dir), prototypes_per_class=2, atypical_per_class=3)


@pytest.fixture(autouse=True)
def user_cache(tmp_path, monkeypatch):
    folder = tmp_path / "user-cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def builds(monkeypatch):
    """Every call of build_training_index, recorded (the real function still runs)."""
    calls = []
    real = training_index.build_training_index

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(training_index, "build_training_index", counting)
    return calls


def _keras_embeddings(path, images):
    """The embedding (the input of the last layer) of the saved model for uint8 (N, 28, 28) images, by Keras alone."""
    import keras

    model = keras.saving.load_model(path)
    embedder = keras.Model(model.input, model.layers[-2].output)
    return np.asarray(embedder(images[..., None].astype(np.float32) / 255.0), dtype=np.float64)


def _brute_force(query, base):
    """Cosine distances from ``query`` to every row of ``base``, by the definition, in float64."""
    return np.array([1.0 - float(query @ row) / (np.linalg.norm(query) * np.linalg.norm(row)) for row in base])


@pytest.mark.parametrize("engine", ["numpy", "keras"])
def test_neighbours_match_a_brute_force_search(model_path, settings, idx_dir, engine):
    images = read_idx(idx_dir / "train-images-idx3-ubyte.gz", (28, 28))
    labels = read_idx(idx_dir / "train-labels-idx1-ubyte.gz")
    plan = ExamplePlan.prepare(settings, model_path)
    finder = plan.finder(open_model(model_path, engine))
    expected = _keras_embeddings(model_path, images)
    np.testing.assert_allclose(finder.index.embeddings, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(finder.index.labels, labels)
    for position in (0, 17, 599):  # a training image as the query: itself first, at distance 0
        found = finder.explain(images[position][..., None].astype(np.float32) / 255.0, predicted=int(labels[0]))
        distances = _brute_force(expected[position], expected)
        positions = [example.train_index for example in found.nearest]
        assert positions[0] == position and len(set(positions)) == settings.neighbours
        # The k smallest distances, each at the position reported (the order of near-ties in float32 may
        # differ from float64's, so positions are checked through their distances).
        np.testing.assert_allclose([example.distance for example in found.nearest],
                                   np.sort(distances)[: settings.neighbours], atol=1e-5)
        np.testing.assert_allclose(distances[positions], [example.distance for example in found.nearest], atol=1e-5)
        assert [example.label for example in found.nearest] == [int(labels[j]) for j in positions]
        np.testing.assert_array_equal(found.nearest[1].image, images[positions[1]])
        assert {example.label for example in found.prototypes} == {int(labels[0])}
        assert len(found.prototypes) == 2 and len(found.atypical) == 3


def test_the_cache_is_reused_then_rebuilt_when_the_model_file_changes(model_path, settings, builds, capsys):
    import sys

    plan = ExamplePlan.prepare(settings, model_path)
    assert plan.needs_model_pass
    plan.finder(open_model(model_path, "numpy"), notes=sys.stderr)
    cache = model_path.with_name("tiny.keras.neighbours.npz")
    assert cache.is_file() and len(builds) == 1
    assert f"cached in {cache}" in capsys.readouterr().err
    written = cache.stat().st_mtime_ns

    again = ExamplePlan.prepare(settings, model_path)
    assert not again.needs_model_pass and again.cached_at == cache
    again.finder(open_model(model_path, "numpy"), notes=sys.stderr)
    assert len(builds) == 1 and cache.stat().st_mtime_ns == written
    assert f"read from {cache}" in capsys.readouterr().err

    save_tiny_model(model_path, seed=2)  # the same path, other weights
    changed = ExamplePlan.prepare(settings, model_path)
    assert changed.needs_model_pass
    finder = changed.finder(open_model(model_path, "numpy"))
    assert len(builds) == 2
    stored = index_cache.read_index(cache, changed.key)
    assert stored is not None and changed.key.model_sha256 == index_cache.file_sha256(model_path)
    np.testing.assert_array_equal(stored.embeddings, finder.index.embeddings)
    assert index_cache.read_index(cache, plan.key) is None  # the old key no longer matches


def test_other_settings_make_the_cache_stale(model_path, settings, builds):
    ExamplePlan.prepare(settings, model_path).finder(open_model(model_path, "numpy"))
    smaller = ExampleSettings(neighbours=6, data=DataSettings(data_dir=settings.data.data_dir, train_size=200))
    assert ExamplePlan.prepare(smaller, model_path).needs_model_pass
    other_layer = ExampleSettings(neighbours=6, data=settings.data, layer_name="conv", prototypes_per_class=2,
                                  atypical_per_class=3)
    assert ExamplePlan.prepare(other_layer, model_path).needs_model_pass


def test_a_damaged_cache_is_rebuilt(model_path, settings, builds):
    ExamplePlan.prepare(settings, model_path).finder(open_model(model_path, "numpy"))
    cache = index_cache.beside_model(model_path)
    cache.write_bytes(cache.read_bytes()[:1000])
    plan = ExamplePlan.prepare(settings, model_path)
    assert plan.needs_model_pass
    plan.finder(open_model(model_path, "numpy"))
    assert index_cache.read_index(cache, plan.key) is not None and len(builds) == 2


def test_a_read_only_model_folder_caches_in_the_user_cache(model_path, settings, user_cache, monkeypatch, capsys):
    import sys

    real_access = index_cache.os.access
    monkeypatch.setattr(index_cache.os, "access",
                        lambda path, mode: False if str(path) == str(model_path.parent) else real_access(path, mode))
    ExamplePlan.prepare(settings, model_path).finder(open_model(model_path, "numpy"), notes=sys.stderr)
    err = capsys.readouterr().err
    fallback = index_cache.in_user_cache(model_path)
    assert fallback.is_file() and fallback.parent == user_cache / "neighbours"
    assert not index_cache.beside_model(model_path).exists()
    assert f"cannot write into the model's folder {str(model_path.parent)!r}" in err and str(fallback) in err
    again = ExamplePlan.prepare(settings, model_path)
    assert not again.needs_model_pass and again.cached_at == fallback


@pytest.mark.parametrize("k, message", [(0, "at least 1, not 0"), (-3, "at least 1, not -3"),
                                        (601, "cannot show 601 neighbours: the training set has 600 images")])
def test_k_outside_the_training_set_is_refused(model_path, idx_dir, k, message):
    with pytest.raises(UserError, match=message):
        ExamplePlan.prepare(ExampleSettings(neighbours=k, data=DataSettings(data_dir=idx_dir)), model_path)


def test_to_dict_marks_neighbours_of_another_class(model_path, settings, idx_dir):
    images = read_idx(idx_dir / "train-images-idx3-ubyte.gz", (28, 28))
    finder = ExamplePlan.prepare(settings, model_path).finder(open_model(model_path, "numpy"))
    found = finder.explain(images[3][..., None].astype(np.float32) / 255.0, predicted=4)
    record = found.to_dict()
    assert record["k"] == 6 and record["class"] == "Coat"
    assert [item["other_class"] for item in record["nearest"]] == [e.label != 4 for e in found.nearest]
    assert record["agreement"] == pytest.approx(sum(e.label == 4 for e in found.nearest) / 6)
    assert all(item["class_index"] == 4 for item in record["prototypes"] + record["atypical"])
    assert "distance_from_centroid" in record["atypical"][0]
