"""fashion_mnist_vis: train a small Keras CNN on Fashion-MNIST and see inside it.

The package is importable without TensorFlow: modules that need it import it
inside their functions, so ``--help`` and the data tools start fast.
"""

__version__ = "0.1.0"
