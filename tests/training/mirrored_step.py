"""Run by test_residual_gan.py in a fresh process: one SGD step on one device and under
MirroredStrategy over two logical CPUs, from the same weights and data; prints the
largest relative difference of the weight updates and of the batchnorm statistics."""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from tfface.training import distribution  # noqa: E402

distribution.configure_devices("mirrored", 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfface.training.residual_gan import ResidualGAN  # noqa: E402

SIZE, BATCH = 32, 8
# "paper": Table 1 (batchnorm in D, N(0, 0.02) everywhere); "default": spectral norm in D, zero residual init.
CONFIG = {"paper": dict(d_norm="batch", residual_init="normal"), "default": dict(d_norm="spectral", residual_init="zero")}[sys.argv[1]]
rng = np.random.default_rng(0)
x0 = rng.uniform(-1, 1, (BATCH, SIZE, SIZE, 3)).astype(np.float32)
x1 = rng.uniform(-1, 1, (BATCH, SIZE, SIZE, 3)).astype(np.float32)


def one_step(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        m = ResidualGAN(SIZE, 0.125, sync_batchnorm=strategy.num_replicas_in_sync > 1, **CONFIG)
        m.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), alpha=5e-4)
        m.build_optimizers()
    before = [np.array(v.numpy()) for v in m.weights]
    logs = m.fit(tf.data.Dataset.from_tensors((x0, x1)), epochs=1, steps_per_epoch=1, verbose=0).history
    after = [np.array(v.numpy()) for v in m.weights]
    return before, after, {k: float(v[0]) for k, v in logs.items()}, [v.path for v in m.weights]


b1, a1, logs1, names = one_step(tf.distribute.get_strategy())
cpus = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
b2, a2, logs2, _ = one_step(tf.distribute.MirroredStrategy(cpus))
assert all(np.array_equal(u, v) for u, v in zip(b1, b2)), "initial weights differ"
worst = 0.0
for n, u0, u1, v1 in zip(names, b1, a1, a2):
    d1, d2 = u1 - u0, v1 - u0
    scale = np.abs(d1).max()
    if scale > 0:
        worst = max(worst, float(np.abs(d1 - d2).max() / scale))
json.dump({"worst_relative_update_difference": worst, "single": logs1, "mirrored": logs2,
           "replicas": len(cpus)}, sys.stdout)
