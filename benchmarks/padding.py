"""G with zero padding against reflection padding (``--g_padding``), interleaved in one process.

Times a training pass of the residual paper's G (forward and backward, ``training=True``) both ways with the
same architecture, per precision: median over ``--repeats`` rounds of 5 calls each, the two alternating.
Prints the two times and the ratio.

    python benchmarks/padding.py --size 64 --width 0.5 --batch 16 --precisions mixed_bfloat16,float32
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def measure(size, width, batch, precision, repeats, skips=True):
    import keras
    import numpy as np
    import tensorflow as tf

    from tfface.models import residual as nets

    keras.mixed_precision.set_global_policy(precision)
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32))
    steps = {}
    for padding in ("zeros", "reflect"):
        g = nets.transformation_network(size, width, skips=skips, zero_residual=True, padding=padding)

        @tf.function
        def step(g=g):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(tf.cast(g(x, training=True), tf.float32)))
            return tape.gradient(loss, g.trainable_variables)

        step(), step()  # trace and warm up
        steps[padding] = step
    times = {p: [] for p in steps}
    for _ in range(repeats):
        for p, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(5):
                step()
            times[p].append((time.perf_counter() - t0) / 5)
    keras.mixed_precision.set_global_policy("float32")
    return {p: float(np.median(v)) for p, v in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--precisions", default="mixed_bfloat16,float32")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    print(f"| precision | zeros ms | reflect ms | reflect / zeros |  (G training pass, {a.size} px, width {a.width}, "
          f"batch {a.batch}, skips)")
    for precision in a.precisions.split(","):
        t = measure(a.size, a.width, a.batch, precision, a.repeats)
        print(f"| {precision} | {1000 * t['zeros']:.1f} | {1000 * t['reflect']:.1f} | {t['reflect'] / t['zeros']:.2f} |")


if __name__ == "__main__":
    main()
