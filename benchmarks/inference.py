"""Inference speed of exported models at the papers' size (128x128, width 1).

    python benchmarks/inference.py [--repeats 5]

- SavedModel, batch of 64 at 128x128: the residual editor (add_tensor) and the
  iterative GAN's rebuild (transform_tensor) and generation.  Paper 2 (Table 2)
  reports 3.2256 s to rebuild and 2.1558 s to generate 64 images on a GTX 1070 Ti.
- The 3x3-conv probe (``train_step.probe``) three times before and three times after the SavedModel and
  generator timings, in the same process: each SavedModel / generator time is also printed as a share of
  the median probe, counting G's FLOPs as the paper writes it and as executed (the phase convolutions of
  ``tfface.models.upsampling`` run fewer), and issue 13's 1.3 s target (set on a machine whose probe gave
  363-375 GFLOP/s) is scaled to this machine's probe.
- TFLite per-image latency of the residual editor for each variant, and of the bundled
  64 px editors, with one interpreter thread (ai_edge_litert's default) and with all CPUs
  (tfface's default).

Models are freshly initialised (speed does not depend on training); the runs
are written to a temporary directory.
"""

import argparse
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from train_step import probe  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from tfface.export.exporter import export_run  # noqa: E402
from tfface.export.folding import fold_batch_norm  # noqa: E402
from tfface import pretrained  # noqa: E402
from tfface.litert import Runner, latency_ms, usable_cpus, wall_times  # noqa: E402
from tfface.methods import get  # noqa: E402
from tfface.models.flops import forward_flops  # noqa: E402
from tfface.settings import Settings  # noqa: E402
from tfface.training import distribution  # noqa: E402
from tfface.training.run import RunDirectory  # noqa: E402


def best_of(fn, repeats):
    times = wall_times(fn, repeats)
    return min(times), float(np.median(times))


def make_run(tmp, method):
    """A width-1, 128-px run directory with an initial checkpoint (no training)."""
    s = Settings(method=method, image_size=128, width=1.0, steps=1, **({"baseline_steps": 0} if method == "iterative" else {}))
    m = get(method)
    s = m.resolve(s)
    distribution.set_precision("float32")
    model = m.build_model(s)
    run = RunDirectory(os.path.join(tmp, method))
    run.save_settings(s)
    manager, step = run.checkpoint_manager(m.checkpoint_objects(model))
    manager.save(checkpoint_number=0)
    return run.path, model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--variants", default="float32,float16,dynamic,int8")
    args = ap.parse_args()
    print(f"# inference: {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, "
          f"`python benchmarks/inference.py --repeats {args.repeats}`")
    rng = np.random.default_rng(0)
    x64 = tf.constant(rng.random((64, 128, 128, 3)).astype(np.float32))
    with tempfile.TemporaryDirectory() as tmp:
        run_path, model = make_run(tmp, "residual")
        res = export_run(run_path, os.path.join(tmp, "export"), model_name="residual",
                         variants=tuple(args.variants.split(",")), report_images=8, say=lambda m: None)
        m = tf.saved_model.load(res)
        probes = [probe() for _ in range(3)]
        best, med = best_of(lambda: m.signatures["add_tensor"](images=x64, strength=tf.ones([64]))["edited"].numpy(), args.repeats)
        print(f"residual editor, SavedModel, 64 images at 128x128: {best:.3f} s (median {med:.3f} s)")
        # The reference: the same generator's forward pass alone, as a graph function (no export wrapper),
        # as trained (Keras batch norm) and as exported (batch norm folded into the convolutions), interleaved.
        folded = fold_batch_norm(model.g0)
        generators = {"as trained": tf.function(lambda x: model.g0(x * 2.0 - 1.0, training=False)),
                      "batch norm folded": tf.function(lambda x: folded(x * 2.0 - 1.0, training=False))}
        times = {name: [] for name in generators}
        for r in range(args.repeats + 1):  # the first round warms up (traces) and is not counted
            for name in (list(generators) if r % 2 else list(generators)[::-1]):
                t0 = time.perf_counter()
                generators[name](x64).numpy()
                if r:
                    times[name].append(time.perf_counter() - t0)
        for name, t in times.items():
            print(f"residual generator alone ({name}), tf.function, 64 images at 128x128: {min(t):.3f} s "
                  f"(median {np.median(t):.3f} s)")
        print(f"folding speed-up (best): {min(times['as trained']) / min(times['batch norm folded']):.2f}x")
        probes += [probe() for _ in range(3)]
        peak = float(np.median(probes))
        paper, executed = (64 * forward_flops(model.g0, executed=e) / 1e9 for e in (False, True))
        print(f"probe (3x3 conv, 3 before and 3 after): median {peak:.0f} GFLOP/s, range {min(probes):.0f}-{max(probes):.0f}; "
              f"G on 64 images: {paper:.0f} GFLOP as the paper writes it, {executed:.0f} GFLOP executed")
        for name, t in [("SavedModel add_tensor", best)] + [(f"generator alone ({n})", min(v)) for n, v in times.items()]:
            print(f"  {name}: {paper / t:.0f} GFLOP/s = {paper / t / peak:.0%} of the probe "
                  f"({executed / t / peak:.0%} executed)")
        print(f"issue 13's 1.3 s (probe 363-375 GFLOP/s there) on this probe: {1.3 * 369 / peak:.2f} s")
        it = export_run(make_run(tmp, "iterative")[0], os.path.join(tmp, "export"), model_name="iterative",
                        formats=("saved_model",), report_images=8, say=lambda m: None)
        mi = tf.saved_model.load(it)
        k = 8
        best, med = best_of(lambda: mi.signatures["transform_tensor"](images=x64, attributes=-tf.ones([64, k]))["image"].numpy(), args.repeats)
        print(f"iterative GAN rebuild, SavedModel, 64 images at 128x128: {best:.3f} s (median {med:.3f} s); paper 2: 3.2256 s on a GTX 1070 Ti")
        z = tf.constant(rng.uniform(-1, 1, (64, 100)).astype(np.float32))
        best, med = best_of(lambda: mi.signatures["generate"](z=z, attributes=tf.zeros([64, k]))["image"].numpy(), args.repeats)
        print(f"iterative GAN generation, SavedModel, 64 images at 128x128: {best:.3f} s (median {med:.3f} s); paper 2: 2.1558 s")
        one = rng.random((1, 128, 128, 3)).astype(np.float32)
        threads = usable_cpus()
        print(f"| TFLite variant (residual editor, 128x128, width 1) | size MB | ms per image, 1 thread | "
              f"ms, {threads} threads | speed-up |")
        print("|---|---|---|---|---|")
        for v in args.variants.split(","):
            path = os.path.join(res, "assets.extra", "tflite", f"{v}.tflite")
            print(tflite_row(v, path, one, args.repeats, threads), flush=True)
    # The bundled editors (64 px): what `tfface edit` runs.
    entries = pretrained.entries()
    if entries:
        print(f"| bundled editor, TFLite variant | size MB | ms per image, 1 thread | ms, {threads} threads | speed-up |")
        print("|---|---|---|---|---|")
        for e in entries:
            for v in ("float16", "int8"):
                path = pretrained.tflite_file(e, v)
                size = Runner(path, "add_tensor").input_shape("images")[1]
                x = rng.random((1, size, size, 3)).astype(np.float32)
                print(tflite_row(f"{e['name']} {v} ({size} px)", path, x, args.repeats, threads), flush=True)


def tflite_row(label, path, x, repeats, threads):
    """Median latency of one image with 1 interpreter thread and with ``threads``, interleaved."""
    runners = {n: Runner(path, "add_tensor", num_threads=n) for n in (1, threads)}
    ms = {n: [] for n in runners}
    for _ in range(3):  # alternate, so a disturbance hits both
        for n, r in runners.items():
            ms[n].append(latency_ms(lambda r=r: r(images=x, strength=np.ones([1])), repeats=max(5, repeats)))
    one, many = float(np.median(ms[1])), float(np.median(ms[threads]))
    return f"| {label} | {os.path.getsize(path) / 1e6:.2f} | {one:.1f} | {many:.1f} | {one / many:.2f}x |"

if __name__ == "__main__":
    main()
