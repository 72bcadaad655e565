"""Why an iterative GAN's transformations fail the synthetic counterfactual test, attribute by attribute.

    python scripts/where_the_transformation_misses.py --run_dir ~/runs/iterative_synthetic [--images 256]

The transformation accuracy (``metrics.json`` → ``transformation``) counts a face as transformed when, inside the
flipped attribute's mask, G(z̃, c′) is closer (mean L1) to the renderer's counterfactual than the rebuild G(z̃, c̃)
is.  This splits the mask into the pixels the renderer's counterfactual changes (any channel by more than
``--changed`` levels) and the rest, and prints per attribute and direction (setting it on faces without it,
clearing it on faces with it):

* ``acc``: the transformation accuracy itself;
* ``only on changed``: the accuracy if G's change were kept only on the changed pixels (the rebuild elsewhere):
  what the score would be if G left the rest of the mask alone, so ``acc`` far below it means G's change off
  the attribute (a redrawn texture, a misplaced edge) costs the test;
* ``only off them``: the accuracy if G's change were kept only off the changed pixels;
* ``share on changed``: the share of G's change (sum of |G(z̃, c′) − G(z̃, c̃)|) that lies on the changed pixels;
* ``gain on changed`` / ``loss off them``: how much closer to the counterfactual G's change brings the changed
  pixels, and how much farther it takes the others (mean L1 in levels of 255, per pixel of the mask).

The README's issue-18 notes quote it.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tfface.evaluation.iterative import closer_to_counterfactual  # noqa: E402
import synthetic_run  # noqa: E402


def misses(x, rebuilt, moved, target, mask, changed_levels=8):
    """The measures above for one attribute and one set of faces (uint8 or float arrays in levels of 255)."""
    x, rebuilt, moved, target = (np.asarray(a, np.float64) for a in (x, rebuilt, moved, target))
    mask = np.asarray(mask, bool)
    changed = (np.abs(target - x).max(-1) > changed_levels) & mask
    on, off, m3 = changed[..., None], (mask & ~changed)[..., None], mask[..., None]
    change = moved - rebuilt
    closer = lambda edit: float(closer_to_counterfactual(edit, rebuilt, target, mask).mean())  # noqa: E731
    gain = np.abs(rebuilt - target) - np.abs(moved - target)       # > 0 where G's change helps
    pixels = 3 * m3.sum()
    return {"acc": closer(moved), "only on changed": closer(rebuilt + change * on),
            "only off them": closer(rebuilt + change * off),
            "share on changed": float((np.abs(change) * on).sum() / max((np.abs(change) * m3).sum(), 1e-9)),
            "gain on changed": float((gain * on).sum() / pixels), "loss off them": float(-(gain * off).sum() / pixels)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run_dir", required=True, help="an iterative run trained on synthetic faces")
    ap.add_argument("--images", type=int, default=256, help="the first test faces (metrics.json uses 256)")
    ap.add_argument("--changed", type=float, default=8, help="levels (of 255) by which a pixel must change to count as changed")
    args = ap.parse_args()
    run, test, idx = synthetic_run.load(args.run_dir, args.images)
    x, c = test.load_batch(idx)
    editor = run.editor()
    rebuilt = editor.reconstruct(x)
    print(f"{args.run_dir}: {len(x)} test faces")
    print(f"{'attribute':20s} {'direction':9s} {'n':>4s} " + " | ".join(
        ("acc", "only on changed", "only off them", "share on changed", "gain on changed", "loss off them")))
    for k, name in enumerate(test.attribute_names):
        _, target, mask = test.counterfactual(idx, name)
        moved = editor.transform(x, {name: 1 - c[:, k]})
        for direction, faces in (("set", c[:, k] < 0.5), ("clear", c[:, k] >= 0.5)):
            if faces.any():
                m = misses(x[faces], rebuilt[faces], moved[faces], target[faces], mask[faces], args.changed)
                print(f"{name:20s} {direction:9s} {faces.sum():4d} " + " | ".join(
                    f"{v:{len(key)}.2f}" for key, v in m.items()))


if __name__ == "__main__":
    main()
