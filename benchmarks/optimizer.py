"""Keras's Adam against tfface's FusedAdam (one fused kernel per variable), in one process, interleaved.

    python benchmarks/optimizer.py [--configs iterative:128:1:1,iterative:128:1:2,residual:64:0.25:0]
                                   [--rounds 6] [--steps 3]

For each configuration (method:size:width:stage, the stage only for the iterative GAN) this builds the
model twice from seed 0, once with each optimizer pair, on one fixed random batch of 16 (the iterative GAN at
one D and one G update a step, as ``benchmarks/iterative_step.py`` times it), warms both up, then times
blocks of ``--steps`` steps, alternating which goes first, for ``--rounds`` rounds.  Both models live in the
same process, so a slow period of the machine hits both; each round's pair is one comparison.  Printed: the
median s/step of each, their ratio, how many rounds the fused one won, and the model's trainable parameters
(Adam's work is proportional to them, not to the image size).
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from train_step import fixed_batch_step  # noqa: E402


def build(method, size, width, stage, optimizer_class):
    """:func:`fixed_batch_step`'s step and iterator with ``optimizer_class`` for G and D, and the model's
    trainable parameters."""
    import numpy as np

    opts = [optimizer_class(2e-4, beta_1=0.5, beta_2=0.999, name=n) for n in ("g_optimizer", "d_optimizer")]
    fn, it, model = fixed_batch_step(method, size, width, opts, stage=stage)
    return fn, it, sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="iterative:128:1:1,iterative:128:1:2,residual:64:0.25:0",
                    help="method:size:width:stage, comma-separated")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--steps", type=int, default=3, help="steps per timed block")
    args = ap.parse_args()

    import keras
    import numpy as np

    from tfface.training.optimizers import FusedAdam

    print(f"`python benchmarks/optimizer.py --configs {args.configs} --rounds {args.rounds} --steps {args.steps}`, "
          f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores")
    print("| method | size | width | stage | parameters | Keras Adam s/step | FusedAdam s/step | speed-up | rounds won |")
    print("|---|---|---|---|---|---|---|---|---|")
    for config in args.configs.split(","):
        method, size, width, stage = config.split(":")
        fns = {name: build(method, int(size), float(width), int(stage), cls)
               for name, cls in (("keras", keras.optimizers.Adam), ("fused", FusedAdam))}
        for fn, it, _ in fns.values():
            for _ in range(2):
                float(fn(it)["g_loss"])
        times = {name: [] for name in fns}
        for r in range(args.rounds):
            for name in (list(fns) if r % 2 == 0 else list(fns)[::-1]):
                fn, it, _ = fns[name]
                t = time.perf_counter()
                for _ in range(args.steps):
                    float(fn(it)["g_loss"])
                times[name].append((time.perf_counter() - t) / args.steps)
        k, f = (float(np.median(times[n])) for n in ("keras", "fused"))
        won = sum(a > b for a, b in zip(times["keras"], times["fused"]))
        print(f"| {method} | {size} | {width} | {stage if method == 'iterative' else '–'} | {fns['fused'][2] / 1e6:.1f} M | "
              f"{k:.3f} | {f:.3f} | {k / f:.2f}× | {won} of {args.rounds} |", flush=True)
        del fns


if __name__ == "__main__":
    main()
