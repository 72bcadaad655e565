"""Where a train step spends its time: TensorFlow's profiler, summed by op type.

    python benchmarks/profile_step.py [--size 64] [--width 0.25] [--batch 16] [--steps 5] [--ops Sum,Mul]
                                      [--precision bfloat16] [--method iterative --stage 1]

Builds the project's default residual GAN (or, with ``--method iterative``, the
iterative GAN in one stage, one D and one G update a step as
``benchmarks/iterative_step.py`` times it) on one fixed random batch, warms up,
traces ``--steps`` steps with ``tf.profiler`` and prints the op time per step of
each op type (summed over TensorFlow's executor threads, so the total exceeds
the wall time when ops run side by side; "Process" rows are the executor's own
spans, which contain the ops).  ``--ops`` also lists the slowest ops of those
types by name, which tells which layer they belong to.  The trace stays in
``--logdir`` for TensorBoard's profile plugin.
"""

import argparse
import collections
import glob
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from train_step import fixed_batch_step  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--precision", default="float32", choices=("float32", "bfloat16", "float16"),
                    help="Keras mixed-precision policy, as tfface train --mixed_precision")
    ap.add_argument("--ops", default="", help="op types whose slowest ops to list by name, comma-separated")
    ap.add_argument("--top", type=int, default=15, help="how many of the --ops ops to list by name")
    ap.add_argument("--method", default="residual", choices=("residual", "iterative"))
    ap.add_argument("--stage", type=int, default=1, choices=(1, 2), help="the iterative GAN's stage")
    ap.add_argument("--logdir", default=os.path.join(tempfile.gettempdir(), "tfface-profile"))
    args = ap.parse_args()

    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    from tfface.training import distribution

    distribution.set_precision(args.precision)
    opts = [distribution.make_optimizer(2e-4, 0.5, 0.999, args.precision, n) for n in ("g_optimizer", "d_optimizer")]
    fn, it, _ = fixed_batch_step(args.method, args.size, args.width, opts, args.batch, args.stage)
    for _ in range(3):
        float(fn(it)["g_loss"])
    tf.profiler.experimental.start(args.logdir)
    t = time.perf_counter()
    for _ in range(args.steps):
        float(fn(it)["g_loss"])
    wall = (time.perf_counter() - t) / args.steps
    tf.profiler.experimental.stop()

    space = xplane_pb2.XSpace()
    with open(max(glob.glob(os.path.join(args.logdir, "**", "*.xplane.pb"), recursive=True), key=os.path.getmtime), "rb") as f:
        space.ParseFromString(f.read())
    by_type, count, by_name = collections.Counter(), collections.Counter(), collections.Counter()
    wanted = set(filter(None, args.ops.split(",")))
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if "tf_Compute" not in line.name:
                continue
            for ev in line.events:
                name = names.get(ev.metadata_id, "?")
                kind = name.rsplit(":", 1)[-1]
                by_type[kind] += ev.duration_ps / 1e12
                count[kind] += 1
                if kind in wanted:
                    by_name[name.rsplit(":", 1)[0]] += ev.duration_ps / 1e12
    ops_total = sum(v for k, v in by_type.items() if k != "Process")
    print(f"# {args.method}{f' stage {args.stage}' if args.method == 'iterative' else ''}, {args.size} px, width {args.width}, batch {args.batch}, {args.precision}: {wall:.3f} s/step wall, "
          f"{ops_total / args.steps * 1000:.0f} ms of op time per step")
    print("| op type | ms per step | share of op time | ops per step |")
    print("|---|---|---|---|")
    for kind, seconds in by_type.most_common(25):
        if kind != "Process":
            print(f"| {kind} | {seconds / args.steps * 1000:.1f} | {seconds / ops_total:.1%} | {count[kind] // args.steps} |")
    for name, seconds in by_name.most_common(args.top):
        print(f"  {seconds / args.steps * 1000:7.2f} ms  {name}")


if __name__ == "__main__":
    main()
