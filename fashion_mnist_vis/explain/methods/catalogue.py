"""Every explanation method by key: :data:`METHODS`, :func:`build_explainer`, :func:`applicable_methods`."""

from typing import Dict, Optional, Tuple, Type

from fashion_mnist_vis.errors import UserError
from fashion_mnist_vis.explain.methods.base import Explainer, MethodSettings
from fashion_mnist_vis.explain.methods.cam import Cam
from fashion_mnist_vis.explain.methods.contrastive import Contrastive
from fashion_mnist_vis.explain.methods.eigencam import EigenCam
from fashion_mnist_vis.explain.methods.gradcam import GradCam
from fashion_mnist_vis.explain.methods.gradcam_plus_plus import GradCamPlusPlus
from fashion_mnist_vis.explain.methods.hirescam import HiResCam
from fashion_mnist_vis.explain.methods.integrated_gradients import IntegratedGradients
from fashion_mnist_vis.explain.methods.layercam import LayerCam
from fashion_mnist_vis.explain.methods.occlusion import Occlusion
from fashion_mnist_vis.explain.methods.saliency import Saliency
from fashion_mnist_vis.explain.methods.scorecam import ScoreCam
from fashion_mnist_vis.explain.methods.smoothgrad import SmoothGrad

_CLASSES: Tuple[Type[Explainer], ...] = (Cam, GradCam, GradCamPlusPlus, HiResCam, LayerCam, ScoreCam, EigenCam,
                                         Saliency, SmoothGrad, IntegratedGradients, Occlusion, Contrastive)
EXPLAINERS: Dict[str, Type[Explainer]] = {cls.method: cls for cls in _CLASSES}
METHODS: Tuple[str, ...] = tuple(EXPLAINERS)
"""The methods' keys, in the order pictures and tables list them."""

TITLES: Dict[str, str] = {key: cls.title for key, cls in EXPLAINERS.items()}
"""Each method's display name with its paper."""


def build_explainer(handle, method: str, layer: Optional[str] = None,
                    settings: Optional[MethodSettings] = None) -> Explainer:
    """The explainer of ``method`` for the model of ``handle`` (a
    :class:`~fashion_mnist_vis.models.model_handle.ModelHandle`), built once: call it per image.

    Args:
        handle: the opened model.
        method: a key of :data:`METHODS`.
        layer: the layer a CAM-family method works on (default: the last
            convolution; CAM: the layer feeding global average pooling); ignored
            by input-space methods.
        settings: the methods' settings (defaults when None).

    Raises:
        UserError: (one line) for an unknown method, a method that cannot apply
            to the model, or a layer that is unknown or not convolutional.
    """
    if method not in EXPLAINERS:
        raise UserError(f"unknown explanation method {method!r}; choose from: {', '.join(METHODS)}",
                        settings=("methods",))
    cls = EXPLAINERS[method]
    reason = cls.why_not(handle)
    if reason:
        raise UserError(reason, settings=("methods",))
    return cls(handle, layer, settings or MethodSettings())


def applicable_methods(handle) -> Dict[str, Optional[str]]:
    """Every method -> None when it applies to ``handle``'s model, else the one-line reason it does not
    (cheap: nothing is traced or run)."""
    return {key: cls.why_not(handle) for key, cls in EXPLAINERS.items()}
