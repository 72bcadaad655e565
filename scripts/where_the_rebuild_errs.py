"""Where an iterative GAN's reconstruction G(C(D(x))) errs on synthetic faces: squared error by part of the face.

    python scripts/where_the_rebuild_errs.py --run_dir ~/runs/iterative_synthetic [--images 256]

On the first ``--images`` faces of the run's synthetic test set (the faces ``metrics.json``'s reconstruction
PSNR is measured on), splits every pixel by the renderer's own layers into the face (its skin layer and
everything drawn over it), the hair around it, and the rest (background, clothes, neck), and prints for each
part its share of the pixels, its PSNR (of the pooled squared error, so it differs a little from
``metrics.json``'s mean of per-image PSNRs) and its share of the total squared error.  The README's
diagnosis of what limits the synthetic reconstruction target (issue 18) comes from it.  With ``--blur S`` it
prints the same again after blurring input and rebuild alike (Gaussian, S pixels): what the blur removes is the
error at the scale of a pixel (checkerboard, misplaced edges).
"""

import argparse
import os
import sys

import numpy as np
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tfface.data import synthetic  # noqa: E402
import synthetic_run  # noqa: E402


def parts(seeds, attrs, size):
    """{name: boolean mask [N, size, size]}: face, hair (not over the face), rest."""
    _, layers = synthetic._render_layers(synthetic._identity_params(seeds), attrs, size)
    face = layers["face"] > 0.5
    hair = (layers["hair_back"] + layers["hair_top"] + layers["bangs"] > 0.5) & ~face
    return {"face": face, "hair": hair, "rest (background, clothes, neck)": ~(face | hair)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run_dir", required=True, help="an iterative run trained on synthetic faces")
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--blur", type=float, nargs="*", default=[], help="also after a Gaussian blur of these sigmas (pixels)")
    args = ap.parse_args()
    run, test, idx = synthetic_run.load(args.run_dir, args.images)
    settings = run.settings
    x, _ = test.load_batch(idx)
    seeds = test.seeds(idx)
    attrs = test.attributes(idx).astype(np.int32)
    rebuilt = run.editor().reconstruct(x).astype(np.float32) / 255.0
    x = x.astype(np.float32) / 255.0
    masks = parts(seeds, attrs, settings.image_size)
    for sigma in [0.0] + list(args.blur):
        blur = (lambda a: ndimage.gaussian_filter(a, (0, sigma, sigma, 0))) if sigma else (lambda a: a)
        err = ((blur(rebuilt) - blur(x)) ** 2).mean(-1)
        print(f"{args.run_dir}: {len(x)} test faces{f', both blurred by {sigma:g} px' if sigma else ''}, "
              f"all pixels {10 * np.log10(1 / err.mean()):.2f} dB")
        for name, m in masks.items():
            print(f"  {name}: {m.mean():.0%} of the pixels, {10 * np.log10(1 / err[m].mean()):.2f} dB, "
                  f"{err[m].sum() / err.sum():.0%} of the squared error")


if __name__ == "__main__":
    main()
