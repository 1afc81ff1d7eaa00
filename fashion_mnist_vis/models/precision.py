"""Numeric precision of training: float32 or a Keras mixed-precision policy.

Under a mixed policy (``mixed_bfloat16``, ``mixed_float16``) layers keep
their weights in float32 but compute in 16 bits, which is several times
faster where the hardware has 16-bit units: NVIDIA tensor cores (float16),
Intel AMX or AVX512-BF16 CPUs through oneDNN (bfloat16). Elsewhere bfloat16
is emulated and slower than float32, so ``auto`` picks:

* ``mixed_float16`` when TensorFlow sees a GPU;
* ``mixed_bfloat16`` on a CPU whose flags (``/proc/cpuinfo``) include
  ``amx_bf16`` or ``avx512_bf16``;
* ``float32`` otherwise.

The models' softmax layers are built with ``dtype="float32"`` (see
models.py), so probabilities and the loss stay in float32 under any policy.

Only :func:`detect_precision` and :func:`precision_policy` import
TensorFlow/Keras; the rest is pure, for ``--help`` and tests.
"""

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, Iterable, Iterator

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Precision:
    """A resolved precision: the Keras policy name and why it was chosen."""

    policy: str
    reason: str

    def __str__(self) -> str:
        return f"{self.policy} ({self.reason})"


def parse_cpu_flags(cpuinfo: str) -> FrozenSet[str]:
    """The CPU feature flags in the text of /proc/cpuinfo (x86 ``flags``, ARM ``Features``), lower case.

    Only the first processor's line is read: every core of one machine has the same.
    """
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            return frozenset(value.lower().split())
    return frozenset()


def read_cpu_flags(path: Path = CPUINFO) -> FrozenSet[str]:
    """:func:`parse_cpu_flags` of ``path``; empty where there is none (macOS, Windows)."""
    try:
        return parse_cpu_flags(Path(path).read_text(errors="replace"))
    except OSError:
        return frozenset()


def resolve_precision(requested: str, gpu_available: bool, cpu_flags: Iterable[str]) -> Precision:
    """Turn ``requested`` (one of :data:`PRECISIONS`) into a policy name.

    Raises:
        ValueError: for a name not in :data:`PRECISIONS`.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r}; choose one of: {', '.join(PRECISIONS)}")
    if requested != "auto":
        return Precision(requested, "asked for")
    if gpu_available:
        return Precision("mixed_float16", "auto: a GPU is visible")
    found = [flag for flag in BF16_CPU_FLAGS if flag in set(cpu_flags)]
    if found:
        return Precision("mixed_bfloat16", f"auto: this CPU has {'/'.join(found)}")
    return Precision("float32", "auto: no GPU, and no AMX/AVX512-BF16 on this CPU")


def detect_precision(requested: str) -> Precision:
    """:func:`resolve_precision` for this machine (imports TensorFlow to look for a GPU, only for ``auto``)."""
    if requested != "auto":
        return resolve_precision(requested, False, ())
    import tensorflow as tf

    return resolve_precision(requested, bool(tf.config.list_physical_devices("GPU")), read_cpu_flags())


def model_policy(model) -> str:
    """The dtype policy a model computes in: that of its first layer with weights.

    (The model object's own policy is whatever was global when it was
    rebuilt, e.g. float32 for a mixed model loaded in a float32 process.)
    """
    layers = [layer for layer in model.layers if layer.weights] or model.layers
    return layers[0].dtype_policy.name if layers else model.dtype_policy.name


@contextlib.contextmanager
def precision_policy(policy: str) -> Iterator[None]:
    """Set Keras's global dtype policy to ``policy`` inside the block, and restore the previous one after.

    Layers take the policy in force when they are created, so build models
    inside the block; the model keeps it (and saves it) after the block.
    """
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
