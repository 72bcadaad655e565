"""Where a residual editor's edit goes: shares of its residual's energy by part of the crop.

    python scripts/where_the_edit_is.py --pretrained mouth_slightly_open
    python scripts/where_the_edit_is.py --run_dir ~/runs/eg-reflect --data celeba:../shared/data/celeba_sample

On the first ``--images`` val faces of each direction's input domain, with the attribute's box placed once by the
training framing (the mean aligned-CelebA landmarks, as ``--outside_weight`` places it; ``tfface evaluate`` places
it per face by dlib's landmarks instead), prints per direction the median share of the residual's energy
(sum of squares over the colour channels) in: the box; the band below it (the box's columns, down to the
border: the chin for a mouth box); the rest of the box's rows; the crop's outer ``--border`` pixels (and its
top rows alone); everything above the box. Each figure is a median over faces, so they need not sum to 1.
The README's diagnoses of the eyeglasses remover's border line and of the mouth closer's chin come from it.
"""

import dataclasses
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tfface import pretrained  # noqa: E402
from tfface.evaluation import regions  # noqa: E402
from tfface.methods import load_run  # noqa: E402
from tfface.pretrained import building  # noqa: E402
from tfface.settings import DIRECTIONS  # noqa: E402
from figure_common import parser  # noqa: E402


def parts(attribute, size, border):
    """{name: boolean mask [size, size]} of the crop's parts around the attribute's template box."""
    box = regions.masks(attribute, regions.template_points(1, size), size)[0]
    ys, xs = np.where(box)
    edge = np.zeros_like(box)
    edge[:border] = edge[-border:] = True
    edge[:, :border] = edge[:, -border:] = True
    below = np.zeros_like(box)
    below[ys.max() + 1:, xs.min():xs.max() + 1] = True
    beside = np.zeros_like(box)
    beside[ys.min():ys.max() + 1] = True
    above = np.zeros_like(box)
    above[:ys.min()] = True
    top = np.zeros_like(box)
    top[:border] = True
    return {"box": box, "below the box": below & ~edge, "beside the box": beside & ~box & ~edge,
            "above the box": above & ~edge, "border": edge, "top rows": top}


def main():
    ap = parser(__doc__)
    ap.add_argument("--data", help="the run's data (default: its settings'; a bundle's names a relative path)")
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--border", type=int, default=3)
    a = ap.parse_args()
    run = building.load(pretrained.find(a.pretrained)) if a.pretrained else load_run(a.run_dir, say=lambda m: None)
    s = dataclasses.replace(run.settings, data=a.data) if a.data else run.settings
    data = run.method.load_data(s, test_only=True)
    editor = run.editor()
    masks = parts(s.attribute, s.image_size, a.border)
    print(f"{a.pretrained or a.run_dir}: {s.attribute}, {a.images} val faces per direction; area shares: "
          + ", ".join(f"{k} {m.mean():.3f}" for k, m in masks.items()))
    for domain, d in enumerate(DIRECTIONS):
        x = data.first_images("test", a.images, domain)
        energy = (((editor.edit(d, x).astype(np.float64) - x) / 127.5) ** 2).sum(-1)
        total = np.maximum(energy.sum((1, 2)), 1e-12)
        shares = {k: float(np.median(energy[:, m].sum(1) / total)) for k, m in masks.items()}
        print(f"  {d:<7}" + ", ".join(f"{k} {v:.3f}" for k, v in shares.items()))


if __name__ == "__main__":
    main()
