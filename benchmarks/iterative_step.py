"""The iterative GAN's train step, stage 1 (ACGAN) and stage 2 (+ the integrated loss), against this CPU's peak.

    python benchmarks/iterative_step.py [--configs 128:1:16,64:0.5:16] [--precisions float32,bfloat16]
                                        [--rounds 2] [--steps 5] [--baseline COMMIT]

Every measurement runs in a fresh process (so its peak RSS is its own); rounds
alternate the order of the stages, so a slow period of the machine hits both.
Each process:

1. builds the project's default iterative GAN (10 labels, z of 100 dims) at one
   size/width/batch/precision from seed 0, on one fixed random batch (a constant
   ``tf.data`` stream: the step, not the data, is timed);
2. fixes the schedule at one D and one G update (the adaptive rule of §4.1 would
   change the work from step to step) and sets the stage;
3. runs two warm-up steps, times ``--steps`` further steps, and probes the
   machine's peak (``benchmarks/train_step.py``'s 3x3 convolution) three times
   before and three times after, in the same process.

With ``--baseline`` each measurement also runs in a ``git worktree`` of that
commit (as ``benchmarks/train_step.py`` does), the two trees alternating which
goes first, and the table gives both and their ratio.

Printed per configuration: the median s/step of each stage, GFLOP/s (analytic
FLOPs of the convolutions, transposed convolutions and dense layers, see
``flops_per_image``) and its share of the median probe, and the peak RSS.
Nothing here asserts a time: it prints ratios (see BENCHMARKS.md).
"""

import argparse
import json
import os
import platform
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from train_step import fixed_batch_step, in_child, timed_steps, worktree  # noqa: E402

N_LABELS = 10


def flops_per_image(stage, g, d):
    """Analytic FLOPs of one step (one D and one G update) per real image, with G, D the forward FLOPs per image.

    Backward = 2x forward where weight and input gradients are both needed, 1x where only the input gradient is.
    Stage 1, D's update: G forward on the fakes (1 G), D forward + backward on reals and fakes (2 x 3 D).
    G's update: G forward + backward (3 G), D forward on (fake, real) and its input gradient (2 x 2 D).
    -> 4 G + 10 D.  Stage 2 adds, in D's update, G rebuilding the reals forward with the input gradient
    back to z~ (2 G); in G's update, the rebuild forward + backward (3 G) and D on (real, rebuilt) for the
    perceptual loss, forward and input gradient (2 x 2 D) -> 9 G + 14 D.  C's dense layers are counted in D.
    """
    return (4 * g + 10 * d) if stage == 1 else (9 * g + 14 * d)


def measure(size, width, batch, precision, stage, steps):
    """One process: build, warm up, timed steps, probes (see the module docstring)."""
    import numpy as np

    from tfface.models.flops import forward_flops
    from tfface.training import distribution

    distribution.set_precision(precision)
    opts = [distribution.make_optimizer(2e-4, 0.5, 0.999, precision, name) for name in ("g_optimizer", "d_optimizer")]
    # one (D, G) = (1, 1) step, without the adaptive dispatch
    fn, it, model = fixed_batch_step("iterative", size, width, opts, batch, stage, N_LABELS)
    for _ in range(2):
        float(fn(it)["g_loss"])
    times, probes = timed_steps(fn, it, steps)
    d = forward_flops(model.d) + forward_flops(model.c)
    fl = flops_per_image(stage, forward_flops(model.g), d) * batch
    return {"seconds_per_step": float(np.median(times)), "times": times, "gflop_per_step": fl / 1e9,
            "probe_gflops": float(np.median(probes)), "probes": probes,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="128:1:16,64:0.5:16", help="size:width:batch, comma-separated")
    ap.add_argument("--precisions", default="float32", help="comma-separated: float32, bfloat16")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--baseline", default=None, help="a commit to run each measurement against, interleaved")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # size|width|batch|precision|stage, in a child
    args = ap.parse_args()
    if args.one:
        size, width, batch, precision, stage = args.one.split("|")
        print(json.dumps(measure(int(size), float(width), int(batch), precision, int(stage), args.steps)))
        return

    import numpy as np

    configs = [tuple(c.split(":")) for c in args.configs.split(",")]
    precisions = args.precisions.split(",")
    trees = {"this tree": ROOT}
    if args.baseline:
        base, sha = worktree(args.baseline)
        trees = {"baseline": base, "this tree": ROOT}
    results = {}
    for r in range(args.rounds):
        stages = (1, 2) if r % 2 == 0 else (2, 1)
        order = list(trees) if r % 2 == 0 else list(trees)[::-1]
        for size, width, batch in configs:
            for precision in precisions:
                for stage in stages:
                    for tree in order:
                        spec = "|".join([size, width, batch, precision, str(stage)])
                        script = os.path.join(trees[tree], "benchmarks", "iterative_step.py")
                        res = in_child(script, spec, args.steps, f"{tree}: {spec}")
                        results.setdefault((tree, size, width, batch, precision, stage), []).append(res)
                        print(f"round {r + 1}: {tree}: {size}px w{width} B{batch} {precision} stage {stage}: "
                              f"{res['seconds_per_step']:.3f} s/step", flush=True)

    print(f"\n# iterative train step: {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, "
          f"`python benchmarks/iterative_step.py --configs {args.configs} --precisions {args.precisions} "
          f"--rounds {args.rounds} --steps {args.steps}{f' --baseline {args.baseline}' if args.baseline else ''}`")
    print("| size | width | batch | precision | stage | tree | s/step | GFLOP/step | GFLOP/s | share of probe | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size, width, batch in configs:
        for precision in precisions:
            for stage in (1, 2):
                steps = {}
                for tree in trees:
                    runs = results[(tree, size, width, batch, precision, stage)]
                    step = steps[tree] = float(np.median([x["seconds_per_step"] for x in runs]))
                    share = float(np.median([x["gflop_per_step"] / x["seconds_per_step"] / x["probe_gflops"] for x in runs]))
                    label = tree if args.baseline is None or tree == "this tree" else f"{tree} {sha}"
                    print(f"| {size} | {width} | {batch} | {precision} | {stage} | {label} | {step:.3f} | "
                          f"{runs[0]['gflop_per_step']:.1f} | {runs[0]['gflop_per_step'] / step:.0f} | {share:.0%} | "
                          f"{max(x['peak_rss_mb'] for x in runs):.0f} |")
                if args.baseline:
                    print(f"| | | | | {stage} | speed-up | {steps['baseline'] / steps['this tree']:.2f}× | | | | |")
    probes = [p for v in results.values() for x in v for p in x["probes"]]
    print(f"probe (3x3 conv, all processes): median {np.median(probes):.0f} GFLOP/s, range {min(probes):.0f}–{max(probes):.0f}")


if __name__ == "__main__":
    main()
