"""Devices, distribution strategies, mixed precision and loss reduction.

``--strategy``:

- ``default``: one device (the GPU if there is one, else the CPU).
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over all GPUs, or, on a
  machine without GPUs, over ``--replicas`` logical CPU devices (useful for
  testing distribution code; it does not make CPU training faster).
- ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy``, one process
  per worker, the cluster described by ``TF_CONFIG`` (what Kubernetes training
  operators and cluster launchers set; ``tfface train --workers N`` sets it for
  N local processes).  A worker that dies closes its connections, so the
  others' next collective fails at once (UnavailableError) instead of
  hanging; one that hangs is caught by TensorFlow's coordination-service
  heartbeats.  No per-collective timeout is set: TensorFlow starts a timer
  thread for every collective op when one is (measured: 258 threads per
  step of the residual GAN, until thread creation failed after ~60 steps).

Losses are per-example and reduced with :func:`global_mean`, i.e. summed and
divided by the *global* batch size, so that gradients summed across replicas
equal the single-device gradient.  Batch normalisation is synchronised
across replicas under ``mirrored`` so the statistics are those of the global
batch too.
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from tfface.errors import UsageError
from tfface.settings import PRECISIONS, STRATEGIES
from tfface.training.optimizers import FusedAdam


def available_memory_bytes():
    """Memory the machine can give a new process now (MemAvailable), or None where it is not known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def configure_devices(strategy, replicas=2):
    """Split the CPU into logical devices for ``mirrored`` on a GPU-less machine.

    Must run before TensorFlow initialises its devices (before any op).
    """
    if strategy != "mirrored" or tf.config.list_physical_devices("GPU"):
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    if len(tf.config.get_logical_device_configuration(cpu) or []) != replicas:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)


def cluster_spec():
    """(workers, this task's index, is chief) from TF_CONFIG; UsageError when it is missing or malformed."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise UsageError("--strategy=multiworker needs TF_CONFIG (the cluster and this task), or use --workers N "
                         "to start N local workers")
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        workers = list(cluster.get("chief", [])) + list(cluster.get("worker", []))
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(f"TF_CONFIG is not a cluster description ({{\"cluster\": ..., \"task\": ...}}): {e}") from None
    if kind not in ("chief", "worker") or not workers:
        raise UsageError(f"TF_CONFIG task type must be chief or worker with workers listed, got {kind!r}")
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    return workers, index, chief


def is_multiworker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def make_strategy(name="default", replicas=2):
    if name not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        cluster_spec()  # a clear error before TensorFlow reads TF_CONFIG
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy()
    configure_devices(name, replicas)
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")][:replicas]
    return tf.distribute.MirroredStrategy(cpus)


def set_precision(precision="float32"):
    """Set Keras's global dtype policy: float32, or mixed bfloat16 / float16."""
    if precision not in PRECISIONS:
        raise ValueError(f"--mixed_precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    keras.mixed_precision.set_global_policy("float32" if precision == "float32" else f"mixed_{precision}")


BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bfloat16(cpuinfo="/proc/cpuinfo"):
    """Whether this CPU computes bfloat16 natively (AVX512_BF16 or AMX): True or False from the flags in
    ``cpuinfo``; None where that file does not exist (not Linux) and it is unknown."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return bool(set(line.partition(":")[2].split()) & set(BFLOAT16_CPU_FLAGS))
    except OSError:
        return None
    return None


def precision_warning(precision, cpuinfo="/proc/cpuinfo"):
    """A one-line warning for ``--mixed_precision bfloat16`` on a CPU (no GPU) that emulates bfloat16, else None.

    Where the CPU has it natively, bfloat16 trained the eyeglasses recipe 1.4x faster than float32 at equal
    judged quality (README, *bfloat16 at equal quality*); emulated, it is slower than float32.
    """
    if precision != "bfloat16" or tf.config.list_physical_devices("GPU"):
        return None
    if native_bfloat16(cpuinfo) is False:
        return (f"warning: this CPU has no native bfloat16 (none of {', '.join(BFLOAT16_CPU_FLAGS)} in {cpuinfo}), "
                f"so --mixed_precision bfloat16 is emulated and slower than float32 here")
    return None


def make_optimizer(learning_rate, beta_1, beta_2, precision="float32", name=None):
    """Adam (as one fused kernel per variable: :mod:`tfface.training.optimizers`); wrapped for dynamic loss
    scaling under float16."""
    opt = FusedAdam(learning_rate, beta_1=beta_1, beta_2=beta_2, name=name)
    if precision == "float16":
        opt = keras.optimizers.LossScaleOptimizer(opt, name=f"{name}_loss_scale" if name else None)
    return opt


def scale_loss(optimizer, loss):
    """The loss to differentiate: scaled under float16 (the optimizer unscales the gradients)."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.scale_loss(loss)
    return loss


def global_mean(per_example_loss):
    """Sum of a per-example loss divided by the global batch size (all replicas)."""
    return tf.nn.compute_average_loss(tf.cast(per_example_loss, tf.float32))


def num_replicas():
    return tf.distribute.get_strategy().num_replicas_in_sync
