"""G's upsampling blocks as phase convolutions against upsampling then convolving, interleaved in one process.

``tfface.models.upsampling.UpsamplingConv2D`` computes "nearest x2, then k x k conv" either way; this times
the residual paper's G both ways (same weights): a training pass (forward and backward, ``training=True``,
batch 16) and an inference pass (batch 64), per configuration, median of ``--repeats`` interleaved calls.
It prints, per configuration, which blocks the default rule (``phases_pay``) sends the phase way, the two
times and the ratio, and the median of 3x3-conv probe runs in the same process (the CPU's speed then).

    python benchmarks/upsampling.py --configs 128:1:0,64:0.5:1,64:0.25:1 --repeats 7
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def with_phases(g, phases):
    """A copy of G whose upsampling blocks all take ``phases`` (same weights)."""
    import keras

    from tfface.models.upsampling import UpsamplingConv2D

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, UpsamplingConv2D):
            config["phases"] = phases
        return layer.__class__.from_config(config)

    out = keras.models.clone_model(g, clone_function=clone)
    out.set_weights(g.get_weights())
    return out


def timed(fn, x, repeats):
    import numpy as np

    fn(x)  # trace and warm up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        [np.asarray(v) for v in fn(x)]
        times.append(time.perf_counter() - t)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="128:1:0,64:0.5:1,64:0.25:1", help="size:width:skips (0 or 1), comma-separated")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    import numpy as np
    import tensorflow as tf

    from benchmarks.train_step import probe
    from tfface.models.residual import transformation_network
    from tfface.models.upsampling import UpsamplingConv2D

    rows, probes = [], [probe() for _ in range(3)]
    for spec in args.configs.split(","):
        size, width, skips = spec.split(":")
        g = transformation_network(int(size), float(width), skips=skips == "1", zero_residual=False)
        chosen = ["phases" if layer.use_phases else "upsample" for layer in g.layers if isinstance(layer, UpsamplingConv2D)]
        nets = {"phases": with_phases(g, True), "upsample": with_phases(g, False)}
        rng = np.random.default_rng(0)
        x_train = tf.constant(rng.uniform(-1, 1, (16, int(size), int(size), 3)).astype(np.float32))
        x_infer = tf.constant(rng.uniform(-1, 1, (64, int(size), int(size), 3)).astype(np.float32))
        fns = {}
        for name, net in nets.items():
            @tf.function
            def train(x, net=net):
                with tf.GradientTape() as tape:
                    y = net(x, training=True)
                    loss = tf.reduce_mean(tf.square(y))
                return tape.gradient(loss, net.trainable_variables)

            fns[name] = (train, tf.function(lambda x, net=net: [net(x, training=False)]))
        result = {name: ([], []) for name in nets}
        for _ in range(2):  # two interleaved rounds
            for name, (train, infer) in fns.items():
                result[name][0].extend(timed(train, x_train, args.repeats))
                result[name][1].extend(timed(infer, x_infer, args.repeats))
        med = {name: [float(np.median(t)) for t in result[name]] for name in nets}
        rows.append((spec, chosen, med))
    probes += [probe() for _ in range(3)]

    print(f"\nprobe (3x3 conv, this process): median {np.median(probes):.0f} GFLOP/s, range {min(probes):.0f}-{max(probes):.0f}")
    print("| size:width:skips | default (block4, block5) | train pass B16: upsample → phases | speed-up | inference B64: upsample → phases | speed-up |")
    print("|---|---|---|---|---|---|")
    for spec, chosen, med in rows:
        u, p = med["upsample"], med["phases"]
        print(f"| {spec} | {', '.join(chosen)} | {u[0]:.4f} → {p[0]:.4f} s | {u[0] / p[0]:.2f}× | {u[1]:.4f} → {p[1]:.4f} s | {u[1] / p[1]:.2f}× |")


if __name__ == "__main__":
    main()
