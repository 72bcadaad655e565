"""`tfface edit` on a large photo, in this tree and in a baseline commit, interleaved in one run.

    python benchmarks/edit_photo.py --bundle DIR [--baseline ade062a] [--rounds 3] [--size 6000x4000]

Writes one JPEG of ``--size`` (skimage's astronaut scaled up to 3/4 of the height on a plain
background, with a little noise so that it compresses like a photo: one face of about 1,000 pixels),
then runs ``tfface edit --add <the bundle's first attribute>`` on it, each run a fresh process (import,
model load, decode, detection, edit, encode: what a user waits for), the two trees alternating which
goes first.  ``TFFACE_PRETRAINED=--bundle`` for both.  A warm-up run of each tree first (it fills the
face detector's cache, see ``tfface.faces``).  Prints the median wall time and peak RSS of each tree,
and their ratios.  Nothing is asserted; see BENCHMARKS.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from train_step import worktree  # noqa: E402


def make_photo(path, width, height):
    import skimage.data

    face = Image.fromarray(skimage.data.astronaut())
    side = int(0.75 * height)
    canvas = Image.new("RGB", (width, height), (90, 110, 130))
    canvas.paste(face.resize((side, side), Image.Resampling.BICUBIC), ((width - side) // 2, (height - side) // 2))
    noise = np.random.default_rng(0).normal(0, 6, (height, width, 3))
    arr = np.clip(np.asarray(canvas, np.float32) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(path, quality=92)


def one_run(tree, photo, out, attribute, env):
    """(seconds, peak RSS in MB) of one `tfface edit` process started in ``tree``."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tfface", "edit", "--input", photo, "--output", out, "--add",
                             attribute, "--overwrite"], cwd=tree, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{tree}: tfface edit failed: {err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", required=True, help="a bundle directory (registry.json and one editor at least)")
    ap.add_argument("--baseline", default="ade062a", help="commit to compare with (default: ade062a)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", default="6000x4000", help="photo size WxH (default: 6000x4000)")
    ap.add_argument("--make", default=None, help=argparse.SUPPRESS)  # write the photo to this path, in a child
    args = ap.parse_args()
    if args.make:
        make_photo(args.make, *(int(v) for v in args.size.split("x")))
        return
    with open(os.path.join(args.bundle, "registry.json")) as f:
        attribute = json.load(f)["editors"][0]["attribute"]
    env = {**os.environ, "TFFACE_PRETRAINED": os.path.abspath(args.bundle)}
    base, sha = worktree(args.baseline)
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as work:
        photo = os.path.join(work, "photo.jpg")
        # In a child process: a child's peak RSS starts from its parent's at fork, so this process stays small.
        subprocess.run([sys.executable, __file__, "--make", photo, "--size", args.size, "--bundle", args.bundle],
                       check=True)
        megabytes = os.path.getsize(photo) / 1e6
        trees = {f"{sha} (baseline)": base, "this tree": ROOT}
        for name, tree in trees.items():  # warm-up
            one_run(tree, photo, os.path.join(work, "out.jpg"), attribute, env)
        results = {name: [] for name in trees}
        for r in range(args.rounds):
            order = list(trees.items()) if r % 2 == 0 else list(trees.items())[::-1]
            for name, tree in order:
                results[name].append(one_run(tree, photo, os.path.join(work, "out.jpg"), attribute, env))
    print(f"tfface edit --add {attribute}, a {width}x{height} JPEG ({megabytes:.1f} MB, one face), "
          f"{args.rounds} rounds, median:")
    print("| tree | seconds | peak RSS MB |")
    print("|---|---|---|")
    medians = {}
    for name, runs in results.items():
        medians[name] = (statistics.median(s for s, _ in runs), statistics.median(m for _, m in runs))
        print(f"| {name} | {medians[name][0]:.2f} | {medians[name][1]:.0f} |")
    (b_s, b_m), (t_s, t_m) = medians[f"{sha} (baseline)"], medians["this tree"]
    print(f"speed-up {b_s / t_s:.2f}x, memory {t_m / b_m:.2f}x of the baseline")


if __name__ == "__main__":
    main()
