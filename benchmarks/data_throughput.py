"""Input pipeline throughput: images/s for synthetic faces and CelebA decoding.

    python benchmarks/data_throughput.py [--celeba /path/to/celeba] [--seconds 10]

Prints one line per configuration.  Compare with what training consumes
(benchmarks/train_throughput.py prints image pairs/s; a pair is 2 images).
"""

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from tfface.data import synthetic  # noqa: E402
from tfface.data.sources import load_domains  # noqa: E402


def rate(fn, images_per_call, seconds):
    fn()  # warm up (tracing, first decode)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += images_per_call
    return n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    default_celeba = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data", "celeba_sample")
    ap.add_argument("--celeba", default=default_celeba)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()

    print(f"# {platform.node()} {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    b = args.batch
    for size in (64, 128):
        seeds = np.arange(b)
        attrs = synthetic.sample_attributes(seeds)
        r = rate(lambda: synthetic.render(seeds, attrs, size), b, args.seconds)
        print(f"synthetic renderer, 1 thread, {size}px: {r:.0f} images/s")
        d = load_domains("synthetic", "Eyeglasses", size)
        it = iter(d.train_dataset(b // 2))
        r = rate(lambda: next(it), b, args.seconds)
        print(f"synthetic tf.data (x0, x1) stream, {size}px: {r:.0f} images/s")
    if os.path.isfile(os.path.join(args.celeba, "list_attr_celeba.txt")) or os.path.isfile(os.path.join(args.celeba, "list_attr_celeba.csv")):
        for size in (64, 128):
            d = load_domains(f"celeba:{args.celeba}", "Eyeglasses", size)
            coll = d.train[0]
            coll._cache = None  # measure decoding, not the in-memory cache
            cursor = [0]

            def decode_next(coll=coll):
                cursor[0] += b
                return coll.load_batch(np.arange(cursor[0], cursor[0] + b) % coll.size)

            r = rate(decode_next, b, args.seconds)
            print(f"celeba decode+crop+resize (thread pool), {size}px: {r:.0f} images/s")
    else:
        print(f"celeba: skipped (no dataset at {args.celeba})")


if __name__ == "__main__":
    main()
