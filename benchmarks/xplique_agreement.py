"""Hold our explanation methods against Xplique's on a real model and real test images; print the agreement.

Run as ``python -m benchmarks.xplique_agreement --saved-model model.keras``
(``--images N``, default 50, from the real Fashion-MNIST test set). Needs
Xplique (``import xplique``), which is *not* a dependency of this project:
Xplique 2.0.2 requires ``tensorflow[and-cuda]<=2.20`` (this project runs
TensorFlow 2.21), ``scikit-learn<=1.7.2`` and ``ruff`` at run time, so pip
would downgrade TensorFlow and pull the CUDA wheels. Installed next to the
project without its dependencies (``pip install --no-deps --target DIR
xplique==2.0.2 einops deprecated tensorflow-probability dm-tree
scikit-image==0.25.2 lazy_loader``, then ``PYTHONPATH=DIR``), it imports and
runs with TensorFlow 2.21 / Keras 3.15.

Both sides explain the same float32 Keras model with its softmax removed (the
logits), for each image's true class. What is compared, per method, where
the two definitions agree:

* saliency: ``max_c |dy/dx|`` against Xplique's ``Saliency`` (exact);
* SmoothGrad: the same noise fed to both (Xplique's noise generator is
  replaced by ours), mean gradient, then ``|.|`` (exact);
* occlusion: Xplique sums a patch's drop over the pixels it covers, we
  average; ours times the coverage count against Xplique's (exact);
* Grad-CAM: ReLU of our raw map against Xplique's map before its bicubic
  resizing (exact);
* Integrated Gradients: Xplique integrates by the trapezoidal rule over
  ``steps`` points from 0 to 1, we by the paper's right Riemann sum: compared
  at 256 steps each, where both approach the integral (close, not exact);
* Grad-CAM++: the definitions differ (Xplique's denominator uses the mean
  ``mean_ab A_ab`` where the paper's eq. 19 and pytorch-grad-cam use the sum,
  and it averages the weights over positions): the correlation is printed
  for information.

For each it prints the largest difference relative to the map's largest
magnitude, and the mean Pearson correlation of the maps.
"""

import argparse
import sys

import numpy as np


def _logit_model(path: str):
    """The model at ``path`` (float32) with its classifier's softmax replaced by the identity."""
    import keras  # noqa: PLC0415

    from fashion_mnist_vis.models.model_io import load_model  # noqa: PLC0415
    from fashion_mnist_vis.models.registry import find_classifier_layer  # noqa: PLC0415

    model = load_model(path)
    find_classifier_layer(model).activation = keras.activations.linear
    return model


def _agreement(ours: np.ndarray, theirs: np.ndarray):
    """(largest |difference| / largest |value|, mean Pearson correlation) of two stacks of maps (N, ...)."""
    ours, theirs = ours.reshape(len(ours), -1), theirs.reshape(len(theirs), -1)
    scale = np.maximum(np.abs(theirs).max(axis=1), 1e-12)
    relative = float((np.abs(ours - theirs).max(axis=1) / scale).max())
    correlations = [np.corrcoef(a, b)[0, 1] for a, b in zip(ours, theirs) if a.std() > 0 and b.std() > 0]
    return relative, float(np.mean(correlations)) if correlations else float("nan")


def compare(model_path: str, count: int):
    """Rows (method, what is compared, max relative difference, mean correlation)."""
    import tensorflow as tf  # noqa: PLC0415
    from xplique.attributions import (GradCAM, GradCAMPP, IntegratedGradients, Occlusion, Saliency,  # noqa: PLC0415
                                      SmoothGrad)
    from xplique.attributions.gradient_statistics.gradient_statistic import GradientStatistic  # noqa: PLC0415

    from fashion_mnist_vis.data.fashion_mnist import load_fashion_mnist  # noqa: PLC0415
    from fashion_mnist_vis.data.pipeline import to_model_input  # noqa: PLC0415
    from fashion_mnist_vis.explain.methods import MethodSettings, build_explainer  # noqa: PLC0415
    from fashion_mnist_vis.explain.methods.occlusion import patch_corners  # noqa: PLC0415
    from fashion_mnist_vis.models.model_handle import open_model  # noqa: PLC0415

    data = load_fashion_mnist(mirrors=[], progress=None)
    images = to_model_input(data.x_test[:count])
    labels = data.y_test[:count].astype(int)
    targets = tf.one_hot(labels, 10).numpy()
    handle = open_model(model_path, engine="keras")
    logits = _logit_model(model_path)
    layer = logits.get_layer(build_explainer(handle, "gradcam").layer_name)
    settings = MethodSettings(smoothgrad_samples=16, ig_steps=256, occlusion_patch=4, occlusion_stride=2)

    def ours(method, settings=settings):
        explainer = build_explainer(handle, method, settings=settings)
        return np.stack([explainer(image, label).raw for image, label in zip(images, labels)]), explainer

    rows = []
    saliency, _ = ours("saliency")
    theirs = Saliency(logits).explain(images, targets).numpy().reshape(saliency.shape)
    rows.append(("saliency", "exact", *_agreement(saliency, theirs)))

    smooth, explainer = ours("smoothgrad")
    fixed = explainer.noise(images.shape[1:])
    GradientStatistic._perturb_samples = staticmethod(  # every input gets our noise, in our order
        lambda inputs, count_, noise: tf.repeat(inputs, count_, axis=0) + tf.tile(fixed[:count_], [len(inputs), 1, 1, 1]))
    method = SmoothGrad(logits, nb_samples=settings.smoothgrad_samples, noise=settings.smoothgrad_noise,
                        batch_size=settings.smoothgrad_samples)
    theirs = np.abs(method.explain(images, targets).numpy()).max(axis=-1)
    rows.append(("smoothgrad", "exact, same noise", *_agreement(smooth, theirs)))

    occlusion, _ = ours("occlusion")
    covered = np.zeros(images.shape[1:3])
    for row, column in patch_corners(*covered.shape, settings.occlusion_patch, settings.occlusion_stride):
        covered[row:row + settings.occlusion_patch, column:column + settings.occlusion_patch] += 1
    theirs = Occlusion(logits, patch_size=settings.occlusion_patch, patch_stride=settings.occlusion_stride,
                       occlusion_value=settings.occlusion_baseline).explain(images, targets).numpy()
    rows.append(("occlusion", "exact, sum = our mean x coverage", *_agreement(occlusion * covered,
                                                                             theirs.reshape(occlusion.shape))))

    gradcam, _ = ours("gradcam")
    xplique_gradcam = GradCAM(logits, conv_layer=layer.name)
    maps, gradients = xplique_gradcam._gradient(tf.constant(images), tf.constant(targets))
    theirs = GradCAM._apply_weights(GradCAM._compute_weights(gradients, maps), maps).numpy()
    rows.append(("gradcam", "exact, before resizing", *_agreement(np.maximum(gradcam, 0), theirs)))

    integrated, _ = ours("integrated-gradients")
    theirs = IntegratedGradients(logits, steps=settings.ig_steps, batch_size=64).explain(images, targets).numpy()
    rows.append(("integrated-gradients", "right Riemann vs trapezoid, 256 steps",
                 *_agreement(integrated, theirs.sum(axis=-1))))

    plus, _ = ours("gradcam++")
    xplique_plus = GradCAMPP(logits, conv_layer=layer.name)
    maps, gradients = xplique_plus._gradient(tf.constant(images), tf.constant(targets))
    theirs = GradCAMPP._apply_weights(xplique_plus._compute_weights(gradients, maps), maps).numpy()
    rows.append(("gradcam++", "definitions differ (mean vs sum)", *_agreement(np.maximum(plus, 0), theirs)))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--saved-model", required=True, help="a model file trained by this toolkit")
    parser.add_argument("--images", type=int, default=50, help="real test images to explain (the first N)")
    args = parser.parse_args(argv)
    try:
        import xplique  # noqa: F401, PLC0415
    except ImportError as error:
        print(f"xplique_agreement: Xplique cannot be imported ({error}); see this script's docstring", file=sys.stderr)
        return 2
    print(f"{'method':22} {'compared':38} {'max rel. diff':>13} {'mean corr.':>10}")
    for method, what, relative, correlation in compare(args.saved_model, args.images):
        print(f"{method:22} {what:38} {relative:13.2e} {correlation:10.6f}")
    return 0


if __name__ == "__main__":
    from benchmarks.entry import run_script

    sys.exit(run_script(main, "python -m benchmarks.xplique_agreement"))
