"""The one interface to a model's graph, whichever engine runs it.

:class:`ModelGraph` is what the per-image computations (layer outputs, CAM,
Grad-CAM, embeddings) ask of a model: the symbolic outputs of its layers,
which symbols feed a layer, which layer made a symbol, a function computing
any symbols' values for a batch, and the gradient Grad-CAM needs. It has two
implementations, built once per model by
:attr:`fashion_mnist_vis.models.model_handle.ModelHandle.graph`:

* :class:`fashion_mnist_vis.models.keras_graph.LayerGraph` for a Keras model
  (symbols are Keras tensors; gradients come from TensorFlow's autodiff);
* :class:`fashion_mnist_vis.models.numpy_network.NumpyGraph` for a
  :class:`~fashion_mnist_vis.models.numpy_network.NumpyNetwork` (symbols are
  :class:`~fashion_mnist_vis.models.numpy_network.Symbol`; its hand-written
  backward pass covers the layers after the last convolution).

Gradient-based methods added later use Keras's autodiff (run them on the
Keras graph); the NumPy backward pass is not to be extended.
"""

from typing import Any, Callable, Dict, List, Protocol, Sequence, Tuple, runtime_checkable

import numpy as np

Probe = Callable[..., List[np.ndarray]]
"""``probe(batch, training=False)``: float32 (N, H, W, C) -> one array (N, ...) per symbol."""

GradientProbe = Callable[[np.ndarray, int], Tuple[np.ndarray, np.ndarray]]
"""``gradients(image, class_index)``: float32 (H, W, C) -> a layer's output and the class logit's
gradient with respect to it, both float32 (h, w, k)."""


@runtime_checkable
class ModelGraph(Protocol):
    """A model's layers as one consistent graph (see the module's docstring).

    Attributes:
        input: the symbol of the model's (single) input.
        outputs: layer name -> the symbol of that layer's output (layers used
            more than once have no single output and are left out).
        model_output: the symbol of the model's (first) output.
        traces: how many times compiled functions have been traced (0 where
            nothing is compiled).
    """

    input: Any
    outputs: Dict[str, Any]
    model_output: Any
    traces: int

    def inputs_of(self, layer) -> list:
        """The symbols ``layer`` reads (one for most layers, several for Add)."""

    def producer(self, symbol):
        """The layer whose output is ``symbol`` (None for the model's input)."""

    def probe(self, symbols: Sequence, compiled: bool = False) -> Probe:
        """A function computing the values of ``symbols`` for a batch, in one forward pass.

        Built once and called for many batches; ``compiled`` asks for one
        traced graph reused for every call (where the engine compiles).
        """

    def logit_gradients(self, layer, classifier, compiled: bool = False) -> GradientProbe:
        """A function (image, class index) -> ``layer``'s output for the float32 image (H, W, C) and
        the gradient of ``classifier``'s pre-activation (the logit) for the class with respect to
        it: both float32 (h, w, k) (Grad-CAM's inputs, Selvaraju et al. 2017).

        The function raises ValueError if the class score does not depend on the layer.
        """
