"""Residual-GAN training throughput of the paper's networks (width 1) in several execution modes.

    python benchmarks/train_throughput.py [--sizes 64,128] [--steps 6] [--batch 16]

Each configuration runs in its own process (so peak RSS is its own).  Modes:
graph (tf.function, the default), eager, XLA (jit_compile), mixed bfloat16.
Prints image pairs/s, achieved GFLOP/s (FLOPs counted analytically from the
conv layers), the ratio to graph mode measured in this same run, and peak RSS.
Also probes this machine's practical peak (a large convolution), so every
figure can be read as a fraction of it.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from train_step import probe  # noqa: E402  (this machine's practical peak: a large 3x3 convolution, graph mode)

MODES = ("graph", "eager", "xla", "bfloat16")


def flops_per_pair(g_fwd, d_fwd):
    """Analytic FLOPs of one train step per image pair (see tfface.training.residual_gan.train_step).

    G: 4 forward passes (G0(x0), G1(x1) and the two dual round trips), each
    with a backward pass of ~2x forward (input and weight gradients) -> 12 G.
    D step: 4 images forward + backward (2x) -> 12 D.  G step: 6 images
    forward + input gradients for the 4 generated ones (~1x) -> 10 D.
    """
    return 12 * g_fwd + 22 * d_fwd


def measure(size, mode, steps, batch):
    import keras
    import numpy as np
    import tensorflow as tf

    from tfface.models.flops import forward_flops
    from tfface.training import distribution
    from tfface.training.residual_gan import ResidualGAN

    distribution.set_precision("bfloat16" if mode == "bfloat16" else "float32")
    model = ResidualGAN(size, 1.0, d_norm="batch")
    model.compile(keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5), alpha=5e-4,
                  jit_compile=(mode == "xla"), run_eagerly=(mode == "eager"))
    model.build_optimizers()
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32))
    it = iter(tf.data.Dataset.from_tensors((x, x)).repeat())
    model.make_train_function()
    fn = model.train_function
    for _ in range(2):  # warm up: tracing, compilation, oneDNN primitive caches
        float(fn(it)["g_loss"])
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        float(fn(it)["g_loss"])
        times.append(time.perf_counter() - t)
    step = float(np.median(times))
    g_fwd, d_fwd = forward_flops(model.g0), forward_flops(model.d)
    fl = flops_per_pair(g_fwd, d_fwd)
    return {"size": size, "mode": mode, "batch": batch, "seconds_per_step": step, "pairs_per_second": batch / step,
            "gflop_per_pair": fl / 1e9, "gflops": fl * batch / step / 1e9,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="64,128")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # size:mode, run in a child process
    args = ap.parse_args()
    if args.one:
        if args.one == "peak":
            print(json.dumps({"peak_gflops": probe(10)}))
        else:
            size, mode = args.one.split(":")
            print(json.dumps(measure(int(size), mode, args.steps, args.batch)))
        return

    def child(spec):
        out = subprocess.run([sys.executable, __file__, "--one", spec, "--steps", str(args.steps), "--batch", str(args.batch)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
        return json.loads(out.stdout.strip().splitlines()[-1])

    peak = child("peak")["peak_gflops"]
    print(f"# train throughput: {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, "
          f"`python benchmarks/train_throughput.py --sizes {args.sizes} --steps {args.steps} --batch {args.batch}`")
    print(f"practical peak (3x3 conv, 256 ch, 64x64, batch 16, graph): {peak:.0f} GFLOP/s")
    print("| size | mode | s/step | pairs/s | GFLOP/pair | GFLOP/s | share of peak | vs graph | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in [int(s) for s in args.sizes.split(",")]:
        graph = None
        for mode in args.modes.split(","):
            r = child(f"{size}:{mode}")
            if "error" in r:
                print(f"| {size} | {mode} | failed: {r['error'][:80]} | | | | | | |")
                continue
            graph = graph or (r if mode == "graph" else None)
            ratio = r["pairs_per_second"] / graph["pairs_per_second"] if graph else float("nan")
            print(f"| {size} | {mode} | {r['seconds_per_step']:.2f} | {r['pairs_per_second']:.2f} | {r['gflop_per_pair']:.1f} | "
                  f"{r['gflops']:.0f} | {r['gflops'] / peak:.0%} | {ratio:.2f}x | {r['peak_rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
