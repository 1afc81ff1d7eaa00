"""Training on several devices or machines with TensorFlow's ``tf.distribute``.

``train.py --strategy`` chooses how training is spread:

* ``one``: no strategy, the default device (the first GPU if there is one):
  plain single-device Keras, exactly as without this module.
* ``mirrored``: ``tf.distribute.MirroredStrategy``, one replica per local
  device (every GPU, or the ``--devices`` given); every step's gradients are
  all-reduced, so the replicas keep identical weights.
* ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy``, one process
  per machine, the cluster described by the ``TF_CONFIG`` environment variable.
* ``auto``: ``mirrored`` when several GPUs are visible, else ``one``.

``--batch-size`` is per replica: one step trains on ``batch_size x replicas``
images (the global batch), so each device does the work it would do alone.
The learning rate is not scaled.

Under ``multiworker`` only the chief (task type ``chief``, or ``worker`` 0
when the cluster has no chief) writes the model file, the run folder and the
report; the other workers run the same callbacks (some of them take part in
collective operations) with their outputs in a temporary folder that is
deleted at the end. Every task backs up its training state after each epoch
(``keras.callbacks.BackupAndRestore``) into its own sub-folder of the backup
folder, so a restarted cluster continues from the last finished epoch
(:mod:`fashion_mnist_vis.training.backup_restore`: where each task writes).

Set ``FASHION_MNIST_VIS_CPU_DEVICES=N`` to split the CPU into N logical
devices (CPU:0 ... CPU:N-1): ``--strategy mirrored`` then runs N replicas on
one machine without GPUs, to try or test distributed training.
"""

import contextlib
import json
import os
import re
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence, Tuple

from fashion_mnist_vis.errors import UserError

STRATEGIES = ("auto", "one", "mirrored", "multiworker")
CPU_DEVICES_ENV = "FASHION_MNIST_VIS_CPU_DEVICES"
TF_CONFIG_ENV = "TF_CONFIG"
MULTIWORKER_TASK_TYPES = ("chief", "worker")


# --------------------------------------------------------------------------
# The strategy and the cluster description (no TensorFlow needed)


def resolve_strategy(requested: str, gpus: Sequence[str]) -> str:
    """The strategy to run: ``auto`` becomes ``mirrored`` with 2+ GPUs in ``gpus``, else ``one``."""
    if requested not in STRATEGIES:
        raise UserError(f"unknown strategy {requested!r}; choose one of {', '.join(STRATEGIES)}")
    if requested == "auto":
        return "mirrored" if len(gpus) >= 2 else "one"
    return requested


def global_batch_size(per_replica: int, replicas: int) -> int:
    """Images per training step over all replicas: ``per_replica * replicas`` (both >= 1)."""
    if per_replica < 1 or replicas < 1:
        raise ValueError(f"batch size {per_replica} and replicas {replicas} must both be at least 1")
    return per_replica * replicas


@dataclass(frozen=True)
class ClusterTask:
    """This process's place in a multi-worker cluster, read from TF_CONFIG.

    Attributes:
        task_type: "chief" or "worker".
        index: the task's index among tasks of its type (0-based).
        workers: the number of training processes (chief plus workers).
        is_chief: the task that writes the model and the report: the
            "chief", or "worker" 0 when the cluster has no chief.
    """

    task_type: str
    index: int
    workers: int
    is_chief: bool

    @property
    def name(self) -> str:
        return f"{self.task_type}-{self.index}"


def parse_tf_config(text: Optional[str]) -> ClusterTask:
    """Read the TF_CONFIG JSON text that MultiWorkerMirroredStrategy uses.

    Expected shape (the addresses are host:port pairs every task can reach)::

        {"cluster": {"worker": ["host1:12345", "host2:12345"]},
         "task": {"type": "worker", "index": 0}}

    with an optional "chief" list of one address. Raises UserError, naming
    the problem, if TF_CONFIG is unset, not JSON, or inconsistent.
    """
    if not text or not text.strip():
        raise UserError(f"the multiworker strategy needs the {TF_CONFIG_ENV} environment variable (see the README), "
                        'e.g. \'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", '
                        '"index": 0}}\'', settings=("strategy=multiworker",))
    try:
        config = json.loads(text)
    except ValueError as error:
        raise UserError(f"{TF_CONFIG_ENV} is not valid JSON: {error}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise UserError(f"{TF_CONFIG_ENV} must be a JSON object with \"cluster\" and \"task\" objects")
    for task_type, addresses in cluster.items():
        if task_type not in MULTIWORKER_TASK_TYPES:
            raise UserError(f"{TF_CONFIG_ENV} cluster has {task_type!r} tasks; MultiWorkerMirroredStrategy "
                            f"takes only {' and '.join(MULTIWORKER_TASK_TYPES)}")
        if not isinstance(addresses, list) or not addresses or not all(
            isinstance(address, str) and re.match(r"^\S+:\d+$", address) for address in addresses
        ):
            raise UserError(f"{TF_CONFIG_ENV} cluster {task_type!r} must be a list of host:port strings, "
                            f"got {json.dumps(addresses)}")
    if "worker" not in cluster and "chief" not in cluster:
        raise UserError(f"{TF_CONFIG_ENV} cluster lists no \"worker\" tasks")
    if len(cluster.get("chief", [])) > 1:
        raise UserError(f"{TF_CONFIG_ENV} cluster has {len(cluster['chief'])} chiefs; at most one is allowed")
    task_type, index = task.get("type"), task.get("index", 0)
    if task_type not in cluster:
        raise UserError(f"{TF_CONFIG_ENV} task type {task_type!r} is not in the cluster "
                        f"({', '.join(sorted(cluster))})")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[task_type]):
        raise UserError(f"{TF_CONFIG_ENV} task index {index!r} is not between 0 and {len(cluster[task_type]) - 1} "
                        f"for {task_type!r}")
    is_chief = task_type == "chief" or ("chief" not in cluster and index == 0)
    return ClusterTask(task_type, index, sum(len(a) for a in cluster.values()), is_chief)


# --------------------------------------------------------------------------
# Strategies (these import TensorFlow)


@dataclass
class Distribution:
    """How one training process runs: the strategy, its replicas and its role.

    Attributes:
        name: "one", "mirrored" or "multiworker".
        strategy: the ``tf.distribute.Strategy``, or None for "one".
        replicas: replicas in sync over the whole cluster (1 for "one").
        devices: this process's devices, e.g. ("GPU:0", "GPU:1").
        task: this process's cluster task ("multiworker" only).
    """

    name: str = "one"
    strategy: object = None
    replicas: int = 1
    devices: Tuple[str, ...] = ()
    task: Optional[ClusterTask] = None

    @property
    def is_chief(self) -> bool:
        return self.task is None or self.task.is_chief

    @property
    def task_name(self) -> str:
        return self.task.name if self.task else "chief-0"

    def scope(self):
        """Build and compile models inside this: variables are created once per replica."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def global_batch(self, per_replica: int) -> int:
        return global_batch_size(per_replica, self.replicas)

    def shard(self, dataset):
        """``dataset`` with DATA auto-sharding, the policy for in-memory arrays (unchanged for "one").

        Every worker builds the same dataset (same seed, same order) and
        keeps its own share of each global batch.
        """
        if self.strategy is None:
            return dataset
        import tensorflow as tf

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return dataset.with_options(options)

    def settings(self, per_replica: int) -> Dict[str, object]:
        """The JSON-ready record kept in run_config.json and metrics.json."""
        return {
            "strategy": self.name,
            "replicas": self.replicas,
            "devices": list(self.devices),
            "workers": self.task.workers if self.task else 1,
            "batch_size_per_replica": per_replica,
            "global_batch_size": self.global_batch(per_replica),
        }

    def describe(self, per_replica: int) -> str:
        """One line for the run summary, e.g. 'mirrored, 2 replicas (CPU:0, CPU:1), global batch 64 = 32 x 2'."""
        where = f"{self.replicas} replica{'s' if self.replicas != 1 else ''}"
        if self.task:
            role = " (chief)" if self.is_chief else ""
            where += f" on {self.task.workers} workers; this is {self.task.name}{role}"
        elif self.devices:
            where += f" ({', '.join(self.devices)})"
        return (f"{self.name}, {where}, global batch {self.global_batch(per_replica)} = "
                f"{per_replica} x {self.replicas}")


def split_cpu_from_environment(environ: Mapping[str, str] = os.environ) -> int:
    """Split the CPU into ``$FASHION_MNIST_VIS_CPU_DEVICES`` logical devices; return how many (1 if unset).

    Must run before TensorFlow creates its devices (before the first op).
    """
    text = environ.get(CPU_DEVICES_ENV, "").strip()
    if not text:
        return 1
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise UserError(f"{CPU_DEVICES_ENV}={text!r} must be a whole number from 1 to 64")
    import tensorflow as tf

    count = int(text)
    (cpu, *_) = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:  # already initialised: keep what there is
        return len(tf.config.list_logical_devices("CPU"))
    return count


def make_distribution(
    requested: str, devices: Optional[Sequence[str]] = None, environ: Mapping[str, str] = os.environ
) -> Distribution:
    """Create the strategy ``requested`` (one of STRATEGIES) for this process.

    ``devices`` (mirrored only) restricts MirroredStrategy to those local
    devices. Raises UserError for devices that do not exist and for a missing
    or invalid TF_CONFIG under "multiworker".
    """
    import tensorflow as tf

    if devices and requested not in ("mirrored", "auto"):
        raise UserError(f"a list of devices is for the mirrored strategy, not {requested}",
                        settings=("devices", "strategy=mirrored"))
    task = parse_tf_config(environ.get(TF_CONFIG_ENV)) if requested == "multiworker" else None
    split_cpu_from_environment(environ)
    # Physical, not logical, devices: listing logical ones starts the runtime, after which
    # MultiWorkerMirroredStrategy can no longer configure its collective ops.
    gpus = [device.name.split("device:")[-1] for device in tf.config.list_physical_devices("GPU")]
    name = "mirrored" if devices else resolve_strategy(requested, gpus)
    if name == "one":
        return Distribution(devices=tuple(gpus[:1]) or ("CPU:0",))
    if name == "mirrored":
        available = [device.name.split("device:")[-1] for device in tf.config.list_logical_devices()]
        chosen = tuple(devices) if devices else tuple(gpus) or ("CPU:0",)
        missing = [device for device in chosen if device not in available]
        if missing:
            raise UserError(f"no device {', '.join(missing)} here; this machine has {', '.join(available)}")
        # NCCL, MirroredStrategy's default all-reduce, is GPU-only; CPUs reduce on one device.
        cross_device_ops = None if all(d.startswith("GPU") for d in chosen) else tf.distribute.ReductionToOneDevice()
        strategy = tf.distribute.MirroredStrategy(list(chosen), cross_device_ops=cross_device_ops)
        return Distribution("mirrored", strategy, strategy.num_replicas_in_sync, chosen)
    strategy = _multi_worker_strategy()
    local = tuple(gpus) or ("CPU:0",)
    return Distribution("multiworker", strategy, strategy.num_replicas_in_sync, local, task)


def _multi_worker_strategy():
    """A MultiWorkerMirroredStrategy whose ``reduce`` works the way Keras 3's ``fit`` calls it.

    Keras 3 (checked with 3.15 / TensorFlow 2.21) reduces a nested batch
    ((images, labels) of PerReplica values) in one ``reduce`` call and the
    per-step scalar logs with ``axis=0``; the collective implementation
    accepts neither, so ``fit`` fails at its first step
    (keras-team/keras#20585). This subclass reduces each value of a nest on
    its own and reduces scalars across replicas (``axis=None``), which is
    what those calls mean; everything else is TensorFlow's own code.
    """
    import tensorflow as tf

    class NestedReduceMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis=None):
            base = super().reduce

            def reduce_one(item):
                rank = self.experimental_local_results(item)[0].shape.rank
                return base(reduce_op, item, axis if rank else None)

            return tf.nest.map_structure(reduce_one, value)

    return NestedReduceMultiWorkerMirroredStrategy()
