"""The residual-GAN train step of this tree against a baseline commit, interleaved in one run.

    python benchmarks/train_step.py [--baseline d0f07b0] [--configs 128:1:16,64:0.5:16,64:0.25:16]
                                    [--rounds 2] [--steps 5] [--precisions float32]

The baseline is checked out with ``git worktree`` (under the system's temporary
directory, reused between runs).  Every measurement runs in a fresh process
(so its peak RSS is its own); rounds alternate which tree goes first, so a
slow period of the machine hits both.  Each process:

1. builds the project's default residual GAN (spectral-norm D, zero-initialised
   residual layer) at one size/width/batch/precision from seed 0, on one fixed
   random batch (a constant ``tf.data`` stream: the step, not the data, is timed);
2. runs three steps and records the losses of steps 1 and 3 (the two trees
   must agree: same weights, same batch, same algorithm);
3. times ``--steps`` further steps, and probes the machine's peak
   (a 3x3 convolution, 256 channels on 64x64 maps, batch 16, graph mode) three
   times before and three times after, in the same process.

Printed per configuration: the median s/step of each tree, the speed ratio,
GFLOP/s (analytic conv FLOPs of the algorithm, the same numerator for both
trees, see ``flops_per_pair``) and its share of the median probe, peak RSS,
and the largest relative difference between the two trees' losses at steps 1 and 3.
Nothing here asserts a time: it prints ratios (see BENCHMARKS.md).
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def flops_per_pair(g_fwd, d_fwd):
    """Analytic FLOPs of one train step per image pair: 4 G passes forward + backward (~3x forward each),
    D's step on 4 images forward + backward (3x), D in G's step on 6 images forward + input gradient (~2x),
    less the 2 real images' input gradient -> 12 G + 22 D (as in benchmarks/train_throughput.py)."""
    return 12 * g_fwd + 22 * d_fwd


def probe(n=5):
    """GFLOP/s of a large 3x3 convolution in graph mode (one probe run)."""
    import tensorflow as tf

    x = tf.random.normal((16, 64, 64, 256))
    w = tf.random.normal((3, 3, 256, 256))
    f = tf.function(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"))
    f(x, w).numpy()
    t = time.perf_counter()
    for _ in range(n):
        y = f(x, w)
    y.numpy()
    return 2 * 9 * 256 * 256 * 64 * 64 * 16 * n / (time.perf_counter() - t) / 1e9


def measure(tree, size, width, batch, precision, steps):
    """One process: build, one step's losses, timed steps, probes (see the module docstring)."""
    sys.path.insert(0, tree)
    import inspect

    import keras
    import numpy as np
    import tensorflow as tf

    import tfface
    from tfface.training import distribution
    from tfface.training.residual_gan import ResidualGAN

    assert os.path.realpath(tfface.__file__).startswith(os.path.realpath(tree)), tfface.__file__
    keras.utils.set_random_seed(0)
    distribution.set_precision(precision)
    # The zero-initialised residual layer is a keyword of both APIs under different names.
    params = inspect.signature(ResidualGAN.__init__).parameters
    init = {"residual_init": "zero"} if "residual_init" in params else {"zero_residual": True}
    model = ResidualGAN(size, width, d_norm="spectral", **init)
    opts = [distribution.make_optimizer(2e-4, 0.5, 0.999, precision, name) for name in ("g_optimizer", "d_optimizer")]
    model.compile(*opts, alpha=5e-4)
    model.build_optimizers()
    rng = np.random.default_rng(0)
    x0, x1 = (tf.constant(rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)) for _ in range(2))
    it = iter(tf.data.Dataset.from_tensors((x0, x1)).repeat())
    model.make_train_function()
    fn = model.train_function
    # Losses of steps 1 and 3 (the trackers are reset so each is that step's own).  Step 1 alone would not
    # exercise G's layers: with the zero-initialised residual layer G starts as the identity.
    losses = []
    for _ in range(3):
        model.reset_metrics()
        losses.append({k: float(v) for k, v in fn(it).items()})
    times, probes = timed_steps(fn, it, steps)
    fl = flops_per_pair(forward_flops(model.g0), forward_flops(model.d)) * batch
    return {"seconds_per_step": float(np.median(times)), "times": times, "gflop_per_step": fl / 1e9,
            "probe_gflops": float(np.median(probes)), "probes": probes, "losses": [losses[0], losses[2]],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def timed_steps(fn, it, steps):
    """(seconds of each of ``steps`` calls ``fn(it)``, each waited for by reading its g_loss; six probe runs, three
    before and three after)."""
    probes = [probe() for _ in range(3)]
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        float(fn(it)["g_loss"])
        times.append(time.perf_counter() - t)
    probes += [probe() for _ in range(3)]
    return times, probes


def in_child(script, spec, steps, label):
    """Run ``script --one spec`` in a fresh process (its own peak RSS); its last stdout line parsed as JSON.
    A failed child ends the benchmark with ``label`` and the end of its stderr."""
    out = subprocess.run([sys.executable, script, "--one", spec, "--steps", str(steps)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{label} failed: {out.stderr.strip()[-800:]}")
    return json.loads(out.stdout.splitlines()[-1])


def forward_flops(model):
    """This tree's FLOP counter (tfface/models/flops.py) loaded by path, so a baseline tree that predates it
    is counted the same way."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("tfface_flops", os.path.join(ROOT, "tfface", "models", "flops.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.forward_flops(model)


def fixed_batch_step(method, size, width, optimizers, batch=16, stage=1, n_labels=10):
    """(the compiled train step, an iterator repeating one fixed random batch, the model) of this tree's default
    residual GAN, or iterative GAN in ``stage`` at one D and one G update a step (the adaptive rule of §4.1 would
    change the work from step to step), compiled with the (G, D) ``optimizers``, weights and batch from seed 0:
    the step that profile_step.py, iterative_step.py and optimizer.py time.  Set the precision policy first."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32))
    if method == "residual":
        from tfface.training.residual_gan import ResidualGAN

        model = ResidualGAN(size, width)
        model.compile(*optimizers, alpha=5e-4)
        model.build_optimizers()
        model.make_train_function()
        return model.train_function, iter(tf.data.Dataset.from_tensors((x, x)).repeat()), model
    from tfface.training.iterative_gan import IterativeGAN

    model = IterativeGAN(size, n_labels=n_labels, width=width)
    model.compile(*optimizers)
    model.build_optimizers()
    model.stage, model.schedule = stage, (1, 1)
    labels = lambda: tf.constant(rng.integers(0, 2, (batch, n_labels)).astype(np.float32))  # noqa: E731
    data = (x, labels(), tf.constant(rng.uniform(-1, 1, (batch, model.z_dim)).astype(np.float32)), labels())
    return model.compiled_step(), iter(tf.data.Dataset.from_tensors(data).repeat()), model


def worktree(commit):
    """A checkout of ``commit`` beside this repository's .git (created once, then reused)."""
    sha = subprocess.run(["git", "-C", ROOT, "rev-parse", commit], capture_output=True, text=True, check=True).stdout.strip()
    path = os.path.join(tempfile.gettempdir(), f"tfface-baseline-{sha[:12]}")
    if not os.path.isdir(path):
        # A worktree whose directory was deleted (e.g. a cleaned /tmp) stays registered until pruned.
        subprocess.run(["git", "-C", ROOT, "worktree", "prune"], check=True, capture_output=True)
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", path, sha], check=True, capture_output=True)
    return path, sha[:7]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default="d0f07b0", help="commit to compare with (default: d0f07b0)")
    ap.add_argument("--configs", default="128:1:16,64:0.5:16,64:0.25:16", help="size:width:batch, comma-separated")
    ap.add_argument("--precisions", default="float32", help="comma-separated: float32, bfloat16")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # tree|size|width|batch|precision, in a child
    args = ap.parse_args()
    if args.one:
        tree, size, width, batch, precision = args.one.split("|")
        print(json.dumps(measure(tree, int(size), float(width), int(batch), precision, args.steps)))
        return

    base, sha = worktree(args.baseline)
    trees = {"baseline": base, "this tree": ROOT}
    configs = [tuple(c.split(":")) for c in args.configs.split(",")]
    precisions = args.precisions.split(",")
    results = {}
    for r in range(args.rounds):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))
        for size, width, batch in configs:
            for precision in precisions:
                for name in order:
                    spec = "|".join([trees[name], size, width, batch, precision])
                    res = in_child(__file__, spec, args.steps, f"{name} {size}:{width}:{batch} {precision}")
                    results.setdefault((size, width, batch, precision, name), []).append(res)
                    print(f"round {r + 1}: {name} {size}px w{width} B{batch} {precision}: "
                          f"{results[(size, width, batch, precision, name)][-1]['seconds_per_step']:.3f} s/step", flush=True)

    import numpy as np

    print(f"\n# train step: {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, baseline {sha}, "
          f"`python benchmarks/train_step.py --configs {args.configs} --precisions {args.precisions} "
          f"--rounds {args.rounds} --steps {args.steps}`")
    print("| size | width | batch | precision | baseline s/step | this tree s/step | speed-up | GFLOP/s (share of probe) "
          "baseline → this | peak RSS MB baseline → this | loss difference, steps 1 / 3 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size, width, batch in configs:
        for precision in precisions:
            runs = {name: results[(size, width, batch, precision, name)] for name in trees}
            step = {n: float(np.median([x["seconds_per_step"] for x in v])) for n, v in runs.items()}
            share = {n: float(np.median([x["gflop_per_step"] / x["seconds_per_step"] / x["probe_gflops"] for x in v]))
                     for n, v in runs.items()}
            gf = {n: runs[n][0]["gflop_per_step"] / step[n] for n in runs}
            rss = {n: max(x["peak_rss_mb"] for x in v) for n, v in runs.items()}
            diff = [max(abs(a[k] - b[k]) / max(1.0, abs(a[k])) for k in a)
                    for a, b in zip(runs["baseline"][0]["losses"], runs["this tree"][0]["losses"])]
            print(f"| {size} | {width} | {batch} | {precision} | {step['baseline']:.3f} | {step['this tree']:.3f} | "
                  f"{step['baseline'] / step['this tree']:.2f}× | {gf['baseline']:.0f} ({share['baseline']:.0%}) → "
                  f"{gf['this tree']:.0f} ({share['this tree']:.0%}) | {rss['baseline']:.0f} → {rss['this tree']:.0f} | "
                  f"{diff[0]:.1e} / {diff[1]:.1e} |")
    probes = [p for v in results.values() for x in v for p in x["probes"]]
    print(f"probe (3x3 conv, all processes): median {np.median(probes):.0f} GFLOP/s, range {min(probes):.0f}–{max(probes):.0f}")


if __name__ == "__main__":
    main()
