"""embeddings: choosing the embedding layer by role or name, batching, entropy, PCA and t-SNE."""

import numpy as np
import pytest

from fashion_mnist_vis.explain.embeddings import (
    EXACT_PCA_MAX_DIMS,
    build_embedder,
    embedding_probe,
    entropy,
    find_embedding_tensor,
    iter_embeddings,
    pca_2d,
    to_model_batch,
    tsne_2d,
)
from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.models.keras_graph import LayerGraph
from fashion_mnist_vis.models.scores import as_probabilities
from fashion_mnist_vis.models.registry import build_model


@pytest.fixture(scope="module")
def gap_cnn():
    return build_model("gap_cnn")


@pytest.fixture(scope="module")
def tinyvgg():
    return build_model("tinyvgg")


def test_default_embedding_is_the_gap_output(gap_cnn):
    _, source = find_embedding_tensor(gap_cnn)
    assert (source.layer_name, source.dims, source.shape) == ("global_average_pooling2d", 64, (64,))
    assert "GlobalAveragePooling2D" in source.role


def test_without_gap_the_embedding_is_the_last_dense_layers_input(tinyvgg):
    _, source = find_embedding_tensor(tinyvgg)
    assert source.layer_name == "dense" and source.dims == 250 and "input of the last Dense" in source.role
    _, source = find_embedding_tensor(build_model("dense"))
    assert source.layer_name == "dense_1" and source.dims == 128


def test_a_named_layer_is_flattened(tinyvgg):
    _, source = find_embedding_tensor(tinyvgg, "conv2d_2")
    assert source.shape == (10, 10, 10) and source.dims == 1000


def test_unknown_layer_names_the_layers_there_are(tinyvgg):
    with pytest.raises(UserError, match=r"has no layer 'nope'; its layers are: conv2d, conv2d_1, .*dense"):
        find_embedding_tensor(tinyvgg, "nope")


def _feature_model(model, layer_name=None):
    """A Keras model from the input to [embedding, class scores], both from one LayerGraph."""
    import keras

    graph = LayerGraph(model)
    tensor, source = find_embedding_tensor(model, layer_name, graph)
    return keras.Model(graph.input, [tensor, graph.model_output]), source


def test_batches_give_the_same_numbers_as_one_pass(tinyvgg):
    images = np.random.default_rng(0).integers(0, 256, size=(23, 28, 28), dtype=np.uint8)
    feature_model, source = _feature_model(tinyvgg, "conv2d_2")
    probe, _ = embedding_probe(tinyvgg, LayerGraph(tinyvgg), "conv2d_2")
    batches = list(iter_embeddings(probe, images, tinyvgg.input_shape, batch_size=10))
    assert [batch.start for batch in batches] == [0, 10, 20]
    embeddings = np.concatenate([batch.embeddings for batch in batches])
    probabilities = np.concatenate([batch.probabilities for batch in batches])
    assert embeddings.shape == (23, 1000) and embeddings.dtype == np.float32
    activations, scores = feature_model.predict(to_model_batch(images, feature_model.input_shape), verbose=0)
    np.testing.assert_allclose(embeddings, activations.reshape(23, -1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probabilities, scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_model_batch_scales_to_unit_range_and_repeats_grey_for_rgb_models():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    batch = to_model_batch(images, (None, 2, 2, 3))
    assert batch.shape == (1, 2, 2, 3) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[0, :, :, 2], [[0, 1], [0.2, 0.4]])
    with pytest.raises(UserError, match="takes 32x32 images"):
        to_model_batch(images, (None, 32, 32, 1))


def test_entropy_by_hand():
    probabilities = np.array([[1.0, 0.0], [0.5, 0.5], [0.25, 0.75]])
    np.testing.assert_allclose(entropy(probabilities), [0.0, np.log(2), -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))],
                               atol=1e-9)
    assert entropy(np.full((1, 10), 0.1))[0] == pytest.approx(np.log(10))


def test_probabilities_pass_through_and_logits_get_a_softmax():
    probabilities = np.array([[0.2, 0.8]], dtype=np.float32)
    assert as_probabilities(probabilities) is not None
    np.testing.assert_array_equal(as_probabilities(probabilities), probabilities)
    np.testing.assert_allclose(as_probabilities(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]], rtol=1e-6)


def test_pca_of_points_on_a_line_explains_everything():
    t = np.linspace(-1, 1, 11)
    points = np.stack([t, 2 * t, -t, np.zeros_like(t)], axis=1)  # all on the line through (1, 2, -1, 0)
    projection = pca_2d(points)
    assert projection.method == "PCA" and projection.coords.shape == (11, 2)
    np.testing.assert_allclose(np.abs(projection.coords[:, 0]), np.abs(t) * np.sqrt(6), atol=1e-5)
    np.testing.assert_allclose(projection.coords[:, 1], 0, atol=1e-5)
    assert projection.note.startswith("PC1 100%")



def test_exact_pca_matches_scikit_learn_signs_included():
    from sklearn.decomposition import PCA

    dims = 64
    assert dims <= EXACT_PCA_MAX_DIMS
    rng = np.random.default_rng(5)
    scales = np.linspace(3.0, 0.1, dims)  # distinct variances: a well-defined PC1 and PC2
    points = (rng.normal(size=(300, dims)) * scales + 7.0).astype(np.float32)
    projection = pca_2d(points)
    reference = PCA(n_components=2, svd_solver="full").fit(points)
    np.testing.assert_allclose(projection.coords, reference.transform(points), rtol=1e-3, atol=2e-3)
    first, second = reference.explained_variance_ratio_
    assert projection.note == f"PC1 {first:.0%}, PC2 {second:.0%} of the variance"

def test_tsne_separates_two_far_apart_clusters_and_is_reproducible():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 1, (30, 60)), rng.normal(50, 1, (30, 60))]).astype(np.float32)
    chosen = np.arange(0, 60, 2)  # a sample: every other point
    first = tsne_2d(points, chosen, seed=3)
    assert first.coords.shape == (30, 2) and list(first.indices) == list(chosen)
    left, right = first.coords[:15], first.coords[15:]
    gap = np.linalg.norm(left.mean(axis=0) - right.mean(axis=0))
    assert gap > 3 * max(left.std(axis=0).max(), right.std(axis=0).max())
    np.testing.assert_allclose(tsne_2d(points, chosen, seed=3).coords, first.coords, rtol=1e-4, atol=1e-4)
    with pytest.raises(UserError, match="at least 5 points"):
        tsne_2d(points, np.arange(4))


def _node_count(model) -> int:
    """Layer calls in ``model``'s graph (a network run twice has twice as many)."""
    return sum(len(nodes) for nodes in model._nodes_by_depth.values())


def test_a_loaded_models_feature_model_runs_the_network_once(gap_cnn, tmp_path):
    """Loading a Sequential model builds its graph several times; the embedding and the class scores
    must come from one copy of it, or every batch runs the network twice."""
    from fashion_mnist_vis.models.model_io import load_model, save_model_atomic

    save_model_atomic(gap_cnn, tmp_path / "gap.keras")
    loaded = load_model(tmp_path / "gap.keras")
    fresh_model, _ = _feature_model(gap_cnn)
    loaded_model, source = _feature_model(loaded)
    assert source.layer_name == "global_average_pooling2d"
    assert _node_count(loaded_model) == _node_count(fresh_model) <= len(gap_cnn.layers) + 1
    images = np.random.default_rng(1).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    batch = to_model_batch(images, loaded_model.input_shape)
    for ours, theirs in zip(loaded_model.predict_on_batch(batch), fresh_model.predict_on_batch(batch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_the_embedder_gives_the_feature_models_embedding_alone(tinyvgg):
    images = np.random.default_rng(2).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    embedder = build_embedder(tinyvgg)
    feature_model, source = _feature_model(tinyvgg)
    batch = to_model_batch(images, embedder.input_shape)
    embeddings = np.asarray(embedder.predict_on_batch(batch))
    assert embeddings.shape == (4, source.dims) == (4, 250)
    np.testing.assert_allclose(embeddings, feature_model.predict_on_batch(batch)[0], rtol=1e-5, atol=1e-6)
