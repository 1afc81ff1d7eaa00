"""Embeddings of images: what a model's penultimate layer makes of them, and 2-D maps of that.

The embedding of an image is the output of one layer, flattened to a vector:

* by default the GlobalAveragePooling2D layer's output (64 values for the
  default ``gap_cnn``): the vector the classifier's Dense layer reads;
* for a model without GAP, the input of its last Dense layer (e.g. the
  128-unit hidden layer of ``dense``, the flattened feature maps of
  ``tinyvgg``);
* any layer named with ``layer_name`` (its output, flattened).

Layers are found by role (:func:`~fashion_mnist_vis.models.registry.find_gap_layer`,
:func:`~fashion_mnist_vis.models.registry.find_classifier_layer`) or by name, never by
index. Images go through the model in batches (:func:`iter_embeddings`), so
memory holds one batch of activations at a time, with either engine (see
:func:`fashion_mnist_vis.models.model_handle.open_model`).

:func:`pca_2d`, :func:`tsne_2d` and :func:`umap_2d` project embeddings to two
dimensions for static plots (PCA: Pearson 1901; t-SNE: van der Maaten & Hinton
2008; UMAP: McInnes, Healy & Melville 2018). Keras, TensorFlow, scikit-learn
and umap-learn are imported inside the functions.
"""

import time
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

import numpy as np

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.models.scores import as_probabilities

DEFAULT_BATCH_SIZE = 100


@dataclass(frozen=True)
class EmbeddingSource:
    """Which activation is the embedding.

    ``layer_name`` names the layer; ``role`` says which of its tensors and why
    (e.g. "output of the GlobalAveragePooling2D layer"); ``shape`` is that
    tensor's per-image shape and ``dims`` the flattened length.
    """

    layer_name: str
    role: str
    shape: Tuple[int, ...]
    dims: int


@dataclass(frozen=True)
class EmbeddingBatch:
    """One batch from :func:`iter_embeddings`.

    ``start`` is the index of the batch's first image; ``embeddings`` float32
    (B, D); ``probabilities`` float32 (B, K) class probabilities (rows sum to 1).
    """

    start: int
    embeddings: np.ndarray
    probabilities: np.ndarray


def find_embedding_tensor(model, layer_name: Optional[str] = None, graph=None):
    """Return ``(symbolic tensor, EmbeddingSource)`` for the embedding of ``model``.

    Args:
        model: a model (Keras, or a :class:`~fashion_mnist_vis.models.numpy_network.NumpyNetwork`).
        layer_name: a layer of ``model`` whose output is the embedding; None
            for the default (GAP output, else the last Dense layer's input).
        graph: the :class:`~fashion_mnist_vis.models.graph.ModelGraph` of ``model``
            the tensor is taken from (for a Keras model, a LayerGraph is built
            when None).

    Raises:
        UserError: if ``layer_name`` is not a layer of the model, is its
            input layer, or its output has no fixed size.
    """
    from fashion_mnist_vis.models.keras_graph import LayerGraph
    from fashion_mnist_vis.models.registry import find_classifier_layer, find_gap_layer

    graph = graph or LayerGraph(model)
    if layer_name is not None:
        names = [layer.name for layer in model.layers]
        if layer_name not in names:
            raise UserError(
                f"model {model.name!r} has no layer {layer_name!r}; its layers are: {', '.join(names)}"
            )
        layer = model.get_layer(layer_name)
        role = f"output of layer {layer_name!r} ({type(layer).__name__})"
        tensor = graph.outputs.get(layer_name)
        if tensor is None:
            raise UserError(f"layer {layer_name!r} is used more than once in the model; choose a layer with "
                            "one output", settings=("layer",))
    else:
        layer = find_gap_layer(model)
        if layer is not None:
            tensor, role = graph.outputs[layer.name], "output of the GlobalAveragePooling2D layer"
        else:
            layer = find_classifier_layer(model)
            tensor, role = graph.inputs_of(layer)[0], "input of the last Dense layer"
    if isinstance(tensor, (list, tuple)):
        raise UserError(f"layer {layer.name!r} has {len(tensor)} outputs; choose a layer with one",
                        settings=("layer",))
    shape = tuple(tensor.shape[1:])
    if not shape or not all(isinstance(size, int) and size > 0 for size in shape):
        raise UserError(f"layer {layer.name!r} gives {tuple(tensor.shape)}, not a fixed-size vector per image")
    return tensor, EmbeddingSource(layer.name, role, shape, int(np.prod(shape)))


def embedding_probe(model, graph, layer_name: Optional[str] = None):
    """Return ``(probe, EmbeddingSource)``.

    ``probe`` maps a float32 batch in the model's input format to
    ``[embedding activations (B, *shape), class scores (B, K)]`` in one
    compiled forward pass (inference mode: dropout off, batch norm uses its
    moving statistics), both from ``graph``, the model's
    :class:`~fashion_mnist_vis.models.graph.ModelGraph` (a loaded Sequential
    model's ``layer.output`` may belong to another copy of its graph, and
    outputs from two copies would run the network twice).
    """
    if len(model.outputs) != 1:
        raise UserError(f"model {model.name!r} has {len(model.outputs)} outputs; expected one (class scores)")
    tensor, source = find_embedding_tensor(model, layer_name, graph)
    return graph.probe([tensor, graph.model_output], compiled=True), source


def build_embedder(model):
    """A model from ``model``'s input to its default embedding alone: float32 (B, D).

    The embedding is the GAP layer's output when there is one (64-d for
    ``gap_cnn``), otherwise the input of the final Dense classifier (see
    :func:`find_embedding_tensor`); training records it for
    ``--embedding-snapshots``.
    """
    import keras

    from fashion_mnist_vis.models.keras_graph import LayerGraph

    graph = LayerGraph(model)
    tensor, _ = find_embedding_tensor(model, None, graph)
    return keras.Model(graph.input, tensor, name=f"{model.name}_embedding")


def to_model_batch(images: np.ndarray, input_shape) -> np.ndarray:
    """uint8 (B, 28, 28) in 0..255 -> float32 (B, 28, 28, C) in [0, 1] for a model.

    ``input_shape`` is the model's ``(None, 28, 28, C)`` with C 1 or 3 (the
    grey channel is repeated for 3).

    Raises:
        UserError: if the model does not take 28 x 28 images.
    """
    from fashion_mnist_vis.data.pipeline import to_model_input

    height, width, channels = tuple(input_shape)[1:4]
    if (height, width) != images.shape[1:3]:
        raise UserError(
            f"the model takes {height}x{width} images but the dataset's are "
            f"{images.shape[1]}x{images.shape[2]}; embedding them needs a Fashion-MNIST model (28x28 input)"
        )
    batch = to_model_input(images)
    return np.repeat(batch, channels, axis=-1) if channels == 3 else batch


def iter_embeddings(
    probe, images: np.ndarray, input_shape, batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[EmbeddingBatch]:
    """Yield the embeddings and class probabilities of ``images``, one batch at a time.

    Args:
        probe: from :func:`embedding_probe`.
        images: uint8 (N, 28, 28) in 0..255.
        input_shape: the model's ``(None, 28, 28, C)``.
        batch_size: images per forward pass.
    """
    for start in range(0, len(images), batch_size):
        batch = to_model_batch(images[start : start + batch_size], input_shape)
        activations, scores = probe(batch)
        activations = np.asarray(activations, dtype=np.float32).reshape(len(batch), -1)
        yield EmbeddingBatch(start, activations, as_probabilities(np.asarray(scores)))


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats of each row of float (N, K) probabilities: (N,) in [0, ln K].

    0 for a one-hot prediction, ln 10 = 2.303 for a uniform one over 10 classes.
    """
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


@dataclass(frozen=True)
class Projection:
    """2-D coordinates of points: ``coords`` float32 (N, 2); ``indices`` (N,) rows of the
    embedding matrix they belong to; ``method`` "PCA", "t-SNE" or "UMAP"; ``seconds`` the compute
    time; ``note`` a short description for titles (e.g. explained variance)."""

    coords: np.ndarray
    indices: np.ndarray
    method: str
    seconds: float
    note: str


def pca_2d(embeddings: np.ndarray) -> Projection:
    """Project float (N, D) embeddings onto their first two principal components.

    Returns a :class:`Projection` of all N points whose note gives the
    fraction of variance the two components explain. Up to
    :data:`EXACT_PCA_MAX_DIMS` dimensions (the 64-d default) this is an exact
    SVD in NumPy, the same as scikit-learn's ``PCA(svd_solver="full")``
    (signs included) without importing scikit-learn (seconds on a small
    CPU); wider embeddings use scikit-learn's randomized solver.
    """
    started = time.perf_counter()
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if len(embeddings) < 2 or embeddings.shape[1] < 2:
        raise UserError("PCA needs at least 2 points of at least 2 dimensions")
    if embeddings.shape[1] <= EXACT_PCA_MAX_DIMS:
        coords, explained = _exact_pca(embeddings, 2)
    else:
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, svd_solver="randomized", random_state=0)
        coords, explained = pca.fit_transform(embeddings), pca.explained_variance_ratio_
    return Projection(
        coords.astype(np.float32),
        np.arange(len(embeddings)),
        "PCA",
        time.perf_counter() - started,
        f"PC1 {explained[0]:.0%}, PC2 {explained[1]:.0%} of the variance",
    )


EXACT_PCA_MAX_DIMS = 1000
"""Embeddings up to this wide get an exact PCA (memory: N x D float64, twice)."""


def _exact_pca(points: np.ndarray, components: int) -> Tuple[np.ndarray, np.ndarray]:
    """(N, components) coordinates of float (N, D) ``points`` and the fraction of variance each
    component explains, by :func:`fashion_mnist_vis.explain.pca.fit_pca`."""
    from fashion_mnist_vis.explain.pca import fit_pca

    basis = fit_pca(points, components)
    return basis.apply(points), basis.explained


def tsne_2d(
    embeddings: np.ndarray, indices: np.ndarray, seed: int = 0, perplexity: float = 30.0
) -> Projection:
    """Embed the rows ``indices`` of float (N, D) ``embeddings`` in 2-D with t-SNE.

    Uses scikit-learn's Barnes-Hut t-SNE with PCA initialisation, a fixed
    ``seed`` (same inputs, same map) and ``perplexity`` lowered to fit small
    samples. Inputs wider than 50 dimensions are first reduced to 50 (or to
    the number of points, if fewer) with PCA, as van der Maaten & Hinton
    (2008) recommend: faster, same picture.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    started = time.perf_counter()
    indices = np.asarray(indices)
    points = np.asarray(embeddings[indices], dtype=np.float32)
    if len(points) < 5:
        raise UserError(f"t-SNE needs at least 5 points (got {len(points)}); leave t-SNE out or use more points",
                        settings=("tsne=off",))
    components = min(50, len(points))
    if points.shape[1] > components:
        points = PCA(n_components=components, random_state=seed).fit_transform(points).astype(np.float32)
    perplexity = min(perplexity, (len(points) - 1) / 3.0)
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed)
    coords = tsne.fit_transform(points).astype(np.float32)
    return Projection(coords, indices, "t-SNE", time.perf_counter() - started, f"perplexity {perplexity:g}")


UMAP_MIN_POINTS = 5


def umap_2d(
    embeddings: np.ndarray, indices: np.ndarray, seed: int = 0, neighbours: int = 15, min_dist: float = 0.1
) -> Projection:
    """Embed the rows ``indices`` of float (N, D) ``embeddings`` in 2-D with UMAP (McInnes et al. 2018).

    umap-learn with the cosine metric (the one the neighbour table and the
    Embedding Atlas use), ``neighbours`` nearest neighbours per point (lowered
    to fit small samples) and ``min_dist`` (how tightly points may pack).
    A fixed ``seed`` makes the map reproducible; umap-learn then runs on one
    thread. Its first call in a process spends seconds compiling (numba).
    Returns float32 (len(indices), 2) coordinates in a :class:`Projection`.
    """
    import warnings

    started = time.perf_counter()
    indices = np.asarray(indices)
    points = np.asarray(embeddings[indices], dtype=np.float32)
    if len(points) < UMAP_MIN_POINTS:
        raise UserError(f"UMAP needs at least {UMAP_MIN_POINTS} points (got {len(points)})")
    neighbours = max(2, min(neighbours, len(points) - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by setting random_state": wanted, for a reproducible map
        import umap

        reducer = umap.UMAP(n_components=2, n_neighbors=neighbours, min_dist=min_dist, metric="cosine",
                            random_state=seed, init="spectral" if len(points) > neighbours + 2 else "random")
        coords = reducer.fit_transform(points).astype(np.float32)
    return Projection(coords, indices, "UMAP", time.perf_counter() - started,
                      f"{neighbours} neighbours, min_dist {min_dist:g}, cosine")
