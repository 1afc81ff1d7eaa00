"""Explanation methods: where in an image a model finds evidence for a class, one module per method.

``from fashion_mnist_vis.explain.methods import build_explainer`` and build one
explainer per model and method, then call it per image::

    explainer = build_explainer(open_model("model.keras"), "gradcam")
    explanation = explainer(image, class_index=3)   # .raw, .heatmap (H, W) in [0, 1]

The interface (:class:`Explanation`, :class:`Explainer`, :class:`MethodSettings`,
:func:`upsample`) is in :mod:`~fashion_mnist_vis.explain.methods.base`; the
catalogue (:data:`METHODS`, :func:`build_explainer`, :func:`applicable_methods`)
in :mod:`~fashion_mnist_vis.explain.methods.catalogue`.
"""

from fashion_mnist_vis.explain.methods.base import Explainer, Explanation, MethodSettings, to_heatmap, upsample
from fashion_mnist_vis.explain.methods.catalogue import EXPLAINERS, METHODS, TITLES, applicable_methods, build_explainer

__all__ = ["EXPLAINERS", "Explainer", "Explanation", "METHODS", "MethodSettings", "TITLES", "applicable_methods",
           "build_explainer", "to_heatmap", "upsample"]
