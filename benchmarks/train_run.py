"""Whole training runs, as a user starts them, of this tree against a baseline commit, interleaved.

    python benchmarks/train_run.py [--baseline d0f07b0] [--configs main,celeba] [--steps 200]
                                   [--rounds 2] [--celeba /path/to/celeba]

Where ``benchmarks/train_step.py`` times the bare step on a fixed batch, this times what
issue 13 calls the regimes users run: ``python train.py --method=residual ...`` in a fresh
process, with its input pipeline, callbacks, checkpoints and sample grids, each tree's
defaults.  Configurations:

- ``main``: the README's main job, ``python train.py --method=residual`` (synthetic faces,
  64 px, the default width);
- ``celeba``: ``--data=celeba:PATH --attribute=Eyeglasses --image_size=64 --width=0.5``
  (skipped with a note when PATH is absent).

Both trees get ``--steps``, ``--log_every 10``, ``--eval_images 16`` and a fresh run
directory.  The parent timestamps each progress line as the child prints it; s/step is the
time between the first progress line at or after step ``--warmup`` and the last one (so
start-up, tracing and the final metrics are left out, and whatever the trees do every N steps
is in).  Rounds alternate which tree goes first.  Before and after each run the parent probes
the machine (3x3 convolution, as in train_step.py) three times and prints the median beside
the run, so a slow period shows.  Nothing here asserts a time (see BENCHMARKS.md).

On synthetic data the first epoch (256 steps of the main job) also renders every training face, on the cores
the step uses: ``--steps 900`` times the whole main job; fewer steps time its slowest part.
"""

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from train_step import probe, worktree  # noqa: E402

STEP_LINE = re.compile(r"^step (\d+)/(\d+)\s")
DEFAULT_CELEBA = os.path.join(ROOT, "..", "shared", "data", "celeba_sample")


def config_flags(name, celeba):
    if name == "main":
        return ["--method=residual"]
    if name == "celeba":
        return ["--method=residual", f"--data=celeba:{celeba}", "--attribute=Eyeglasses", "--image_size=64",
                "--width=0.5"]
    raise SystemExit(f"unknown configuration {name!r} (main, celeba)")


def run(tree, flags, steps, warmup):
    """One training run in a fresh process: (s/step over the window, wall seconds, peak RSS MB)."""
    with tempfile.TemporaryDirectory(prefix="tfface-train-run-") as tmp:
        cmd = [sys.executable, "train.py", *flags, f"--steps={steps}", "--log_every=10", "--eval_images=16",
               f"--run_dir={os.path.join(tmp, 'run')}"]
        env = dict(os.environ, PYTHONPATH=tree)
        t0 = time.perf_counter()
        # stderr to a file: a pipe nobody reads until the end could fill and stall the child.
        with open(os.path.join(tmp, "stderr"), "w+") as stderr:
            child = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
            marks = []
            for line in child.stdout:
                m = STEP_LINE.match(line)
                if m:
                    marks.append((int(m.group(1)), time.perf_counter()))
            _, status, usage = os.wait4(child.pid, 0)
            stderr.seek(0)
            err = stderr.read()
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} in {tree} failed ({child.returncode}): {err.strip()[-800:]}")
    window = [(s, t) for s, t in marks if s >= warmup]
    if len(window) < 2:
        raise SystemExit(f"too few progress lines after step {warmup}: {marks}")
    (first_step, first_time), (last_step, last_time) = window[0], window[-1]
    return (last_time - first_time) / (last_step - first_step), wall, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default="d0f07b0", help="commit to compare with (default: d0f07b0)")
    ap.add_argument("--configs", default="main,celeba", help="comma-separated: main, celeba")
    ap.add_argument("--steps", type=int, default=200, help="steps of each run (default: 200)")
    ap.add_argument("--warmup", type=int, default=20, help="steps left out of s/step (default: 20)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--celeba", default=DEFAULT_CELEBA, help="CelebA directory for the celeba configuration")
    args = ap.parse_args()

    import numpy as np

    base, sha = worktree(args.baseline)
    trees = {"baseline": base, "this tree": ROOT}
    configs = args.configs.split(",")
    if "celeba" in configs and not os.path.isdir(args.celeba):
        print(f"note: {args.celeba} not found, the celeba configuration is skipped")
        configs.remove("celeba")
    results = {}
    for r in range(args.rounds):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))
        for config in configs:
            for name in order:
                probes = [probe() for _ in range(3)]
                per, wall, rss = run(trees[name], config_flags(config, args.celeba), args.steps, args.warmup)
                probes += [probe() for _ in range(3)]
                results.setdefault((config, name), []).append((per, wall, rss, float(np.median(probes))))
                print(f"round {r + 1}: {config} {name}: {per:.3f} s/step, {wall:.0f} s wall, {rss:.0f} MB, "
                      f"probe {np.median(probes):.0f} GFLOP/s", flush=True)

    print(f"\n# training runs: {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, baseline {sha}, "
          f"`python benchmarks/train_run.py --configs {args.configs} --steps {args.steps} --warmup {args.warmup} "
          f"--rounds {args.rounds}`")
    print("| configuration | baseline s/step | this tree s/step | speed-up | wall s baseline → this | "
          "peak RSS MB baseline → this | probe GFLOP/s (median) |")
    print("|---|---|---|---|---|---|---|")
    for config in configs:
        runs = {name: results[(config, name)] for name in trees}
        per = {n: float(np.median([x[0] for x in v])) for n, v in runs.items()}
        wall = {n: float(np.median([x[1] for x in v])) for n, v in runs.items()}
        rss = {n: max(x[2] for x in v) for n, v in runs.items()}
        probes = [x[3] for v in runs.values() for x in v]
        print(f"| {config} | {per['baseline']:.3f} | {per['this tree']:.3f} | {per['baseline'] / per['this tree']:.2f}× | "
              f"{wall['baseline']:.0f} → {wall['this tree']:.0f} | {rss['baseline']:.0f} → {rss['this tree']:.0f} | "
              f"{np.median(probes):.0f} ({min(probes):.0f}–{max(probes):.0f}) |")


if __name__ == "__main__":
    main()
