"""Run by test_optimizers.py in a fresh process: FusedAdam on one device and under MirroredStrategy over two
logical CPUs, from the same weights and gradients (each replica gets half of the summed gradient); prints the
largest difference between the two, the spread between the replicas' copies, and how far the weights moved."""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from tfface.training import distribution  # noqa: E402

distribution.configure_devices("mirrored", 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfface.training.optimizers import FusedAdam  # noqa: E402

rng = np.random.default_rng(0)
INIT = [rng.normal(size=s).astype("float32") for s in [(64, 32), (3, 3, 4, 8), (5,)]]
GRADS = [[rng.normal(size=w.shape).astype("float32") for w in INIT] for _ in range(4)]


def train(strategy):
    with strategy.scope():
        variables = [keras.Variable(w) for w in INIT]
        opt = FusedAdam(1e-2, beta_1=0.5, beta_2=0.999)
        opt.build(variables)

    @tf.function
    def step(grads):
        def replica_fn(grads):
            # Keras sums the replicas' gradients: each contributes half.
            n = tf.distribute.get_replica_context().num_replicas_in_sync
            opt.apply([g / n for g in grads], variables)
        strategy.run(replica_fn, args=(grads,))

    for g in GRADS:
        step([tf.constant(x) for x in g])
    copies = [[np.array(c) for c in strategy.experimental_local_results(v.value)] for v in variables]
    return copies, strategy.num_replicas_in_sync


one, _ = train(tf.distribute.get_strategy())
mirrored, replicas = train(tf.distribute.MirroredStrategy())
print(json.dumps({
    "replicas": replicas,
    "max_difference": max(float(np.abs(m[0] - o[0]).max()) for m, o in zip(mirrored, one)),
    "replica_spread": max(float(np.abs(c - m[0]).max()) for m in mirrored for c in m),
    "moved": max(float(np.abs(o[0] - w).max()) for o, w in zip(one, INIT)),
}))
