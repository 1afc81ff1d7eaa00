"""Interleaved A/B of training-step throughput: precision policies and jit_compile, in one process.

Run as ``python -m benchmarks.train_ab --variants float32,float32+jit,mixed_bfloat16``.

Every variant gets its own copy of the model (built under its precision
policy, compiled with or without XLA) and a warm-up epoch (tracing and
compilation); then each round times ``--steps`` steps of every variant in
turn, so load from other processes hits them alike. Thread settings cannot
change inside one process: compare them by running this module once per
setting (``--intra-op``/``--inter-op``), alternating.

A variant is a policy name with an optional ``+jit`` suffix.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parents[1])


def parse_variant(text: str):
    """'mixed_bfloat16+jit' -> ('mixed_bfloat16', True)."""
    policy, _, suffix = text.strip().partition("+")
    if suffix not in ("", "jit"):
        raise argparse.ArgumentTypeError(f"unknown variant suffix {suffix!r} in {text!r} (only +jit)")
    return policy, suffix == "jit"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default="float32,float32+jit,mixed_bfloat16",
                        help="comma-separated policies, each optionally with +jit")
    parser.add_argument("--model", default="gap_cnn")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100, help="timed training steps per variant per round")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--intra-op", type=int, default=0, help="tf.config.threading intra-op threads (0: TF default)")
    parser.add_argument("--inter-op", type=int, default=0, help="tf.config.threading inter-op threads (0: TF default)")
    parser.add_argument("--output", type=Path, default=None, help="also write the results as JSON here")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    variants = [parse_variant(text) for text in args.variants.split(",") if text.strip()]
    results = measure(variants, args.model, args.rounds, args.steps, args.batch_size, args.intra_op, args.inter_op)
    for name, rates in results["images_per_second"].items():
        print(f"{name:24s} median {statistics.median(rates):8.0f} images/s   rounds: "
              + ", ".join(f"{rate:.0f}" for rate in rates))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2))
    return 0


def measure(variants, model_name: str, rounds: int, steps: int, batch_size: int,
            intra_op: int = 0, inter_op: int = 0) -> Dict[str, object]:
    """Time ``steps`` training steps of each (policy, jit) variant, ``rounds`` times, interleaved.

    Returns:
        {"images_per_second": {variant: [one rate per round]}, "settings": {...}}
    """
    import tensorflow as tf

    if intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
    if inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    import keras

    from fashion_mnist_vis.models.registry import build_model
    from fashion_mnist_vis.data.pipeline import make_dataset
    from fashion_mnist_vis.models.precision import precision_policy
    from fashion_mnist_vis.data.synthetic import generate_synthetic
    from fashion_mnist_vis.training.trainer import compile_model

    images, labels = generate_synthetic(4096, seed=0)
    data = make_dataset(images, labels, batch_size, training=True).repeat()
    models = {}
    for policy, jit in variants:
        keras.utils.set_random_seed(0)
        with precision_policy(policy):
            model = build_model(model_name)
        compile_model(model, 1e-3, jit_compile=jit)
        model.fit(data, steps_per_epoch=10, epochs=1, verbose=0)  # trace and compile
        models[policy + ("+jit" if jit else "")] = model
    rates: Dict[str, List[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
            rates[name].append(steps * batch_size / (time.perf_counter() - start))
    return {
        "images_per_second": rates,
        "settings": {"model": model_name, "rounds": rounds, "steps": steps, "batch_size": batch_size,
                     "intra_op": intra_op or "default", "inter_op": inter_op or "default",
                     "threads_seen": [tf.config.threading.get_intra_op_parallelism_threads(),
                                      tf.config.threading.get_inter_op_parallelism_threads()]},
    }


if __name__ == "__main__":
    from benchmarks.entry import run_script

    sys.exit(run_script(main, "python -m benchmarks.train_ab"))
