"""Time per image of every explanation method on a real model and real test images; print a table.

Run as ``python -m benchmarks.explain_timing --saved-model model.keras``
(``--images N``, default 20, the first N of the real Fashion-MNIST test set;
``--engine``, default auto). Each method is built once and called once
before timing (so tracing and model building are left out, and reported
apart as the set-up time); the figure is the median over the images of the
wall time of one call, each image explained for its true class, with the
default :class:`~fashion_mnist_vis.explain.methods.MethodSettings`.
"""

import argparse
import statistics
import sys
import time


def time_methods(model_path: str, count: int, engine: str):
    """Rows (method, set-up seconds, median ms per image) for every method that applies."""
    from fashion_mnist_vis.data.fashion_mnist import load_fashion_mnist  # noqa: PLC0415
    from fashion_mnist_vis.data.pipeline import to_model_input  # noqa: PLC0415
    from fashion_mnist_vis.explain.methods import applicable_methods, build_explainer  # noqa: PLC0415
    from fashion_mnist_vis.models.model_handle import open_model  # noqa: PLC0415

    data = load_fashion_mnist(mirrors=[], progress=None)
    images, labels = to_model_input(data.x_test[:count]), data.y_test[:count].astype(int)
    handle = open_model(model_path, engine=engine)
    rows = []
    for method, reason in applicable_methods(handle).items():
        if reason is not None:
            continue
        start = time.perf_counter()
        explainer = build_explainer(handle, method)
        explainer(images[0], int(labels[0]))
        set_up = time.perf_counter() - start
        seconds = []
        for image, label in zip(images, labels):
            start = time.perf_counter()
            explainer(image, int(label))
            seconds.append(time.perf_counter() - start)
        rows.append((method, set_up, 1000 * statistics.median(seconds)))
    return handle.engine, rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--saved-model", required=True, help="a model file trained by this toolkit")
    parser.add_argument("--images", type=int, default=20, help="real test images to explain (the first N)")
    parser.add_argument("--engine", choices=("auto", "numpy", "keras"), default="auto",
                        help="what runs the forward-only methods (gradients always come from Keras)")
    args = parser.parse_args(argv)
    engine, rows = time_methods(args.saved_model, args.images, args.engine)
    print(f"{args.images} images, forward passes run by {engine}")
    print(f"{'method':22} {'set-up s':>9} {'ms/image':>9}")
    for method, set_up, milliseconds in rows:
        print(f"{method:22} {set_up:9.2f} {milliseconds:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
