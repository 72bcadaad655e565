"""Two local workers (--strategy=multiworker through tfface train --workers 2) against one process.

    python benchmarks/multiworker.py [--configs 64:0.25:16,128:0.5:16] [--steps 20] [--rounds 2]

On one 2-core machine this measures the overhead of the multi-worker machinery (gRPC collectives over
loopback, one all-reduce per gradient, the per-step stop check), not a speed-up: the two workers share
the cores that the single process uses alone.  Each run trains the residual method on synthetic data
(fresh run directory, fresh processes); the time per step is taken between the chief's progress lines at
steps ``--steps`` and ``2 --steps`` (after tracing and warm-up).  Rounds alternate the order.

Also printed: the all-reduce volume of one step, from the model's variables: the gradients of D's and
G's updates (float32) plus the synchronised batch-norm moments (mean and variance per channel of every
batch-norm call in the step), so a user can estimate the network a real cluster needs.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def time_per_step(extra, size, width, batch, steps, workdir):
    rd = tempfile.mkdtemp(dir=workdir)
    cmd = [sys.executable, "-m", "tfface", "train", f"--image_size={size}", f"--width={width}",
           f"--batch_size={batch}", f"--steps={2 * steps}", f"--log_every={steps}", "--checkpoint_every=100000",
           "--sample_every=100000", "--eval_images=8", f"--run_dir={rd}", *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    marks = {}
    for line in proc.stdout:
        for k in (steps, 2 * steps):
            if line.startswith(f"step {k}/"):
                marks[k] = time.monotonic()
    proc.wait()
    if proc.returncode != 0 or len(marks) != 2:
        raise RuntimeError(f"{' '.join(extra) or 'one process'} failed (exit {proc.returncode})")
    return (marks[2 * steps] - marks[steps]) / steps


def allreduce_bytes(size, width):
    import keras

    from tfface.models.normalization import BatchNormalization
    from tfface.training.residual_gan import ResidualGAN

    m = ResidualGAN(size, width, sync_batchnorm=True)
    grads = sum(int(v.numpy().size) for v in m.generator_variables + m.discriminator_variables) * 4
    bn_channels = lambda model: sum(layer.gamma.shape[0] for layer in model.layers  # noqa: E731
                                   if isinstance(layer, (BatchNormalization, keras.layers.BatchNormalization)))
    # G0 and G1 run twice each with dual learning (x and the dual round trip) in G's update and once in D's;
    # every call all-reduces 2 moments (plus a count) per channel.
    bn = (bn_channels(m.g0) + bn_channels(m.g1)) * 3 * 3 * 4
    return grads, bn


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="64:0.25:16,128:0.5:16", help="size:width:batch,...")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tfface-bench-mw-")
    for config in a.configs.split(","):
        size, width, batch = config.split(":")
        size, width, batch = int(size), float(width), int(batch)
        times = {"one process": [], "2 workers": []}
        for r in range(a.rounds):
            order = ["one process", "2 workers"] if r % 2 == 0 else ["2 workers", "one process"]
            for name in order:
                extra = ["--workers=2"] if name == "2 workers" else []
                times[name].append(time_per_step(extra, size, width, batch, a.steps, work))
        one, two = min(times["one process"]), min(times["2 workers"])
        grads, bn = allreduce_bytes(size, width)
        print(f"{size}px width {width} batch {batch}: one process {one:.3f} s/step, 2 workers {two:.3f} s/step "
              f"(x{two / one:.2f}); all-reduce per step {grads / 1e6:.2f} MB of gradients + {bn / 1e3:.1f} kB of "
              f"batch-norm moments (runs: {', '.join(f'{k} ' + ' '.join(f'{t:.3f}' for t in v) for k, v in times.items())})",
              flush=True)


if __name__ == "__main__":
    main()
