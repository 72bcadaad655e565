"""Figures of residual editors on real faces, for the README.

    python scripts/editor_figures.py --run_dir ~/runs/eyeglasses --name eyeglasses
    python scripts/editor_figures.py --pretrained eyeglasses          # a bundled editor

Writes to assets/ (or --out):

- ``<name>_astronaut.png``: skimage's astronaut photo (public domain) edited at full resolution through
  the same detection, alignment and paste-back path as ``tfface edit``, adding and removing the
  attribute (a bundled editor at its recommended strengths); shown cropped around her face, before | add | remove.
- ``<name>_val.png``: 16 faces of the CelebA val partition (8 without the attribute, edited by "add", and
  8 with it, edited by "remove"): input | output pairs.  CelebA pictures: non-commercial research only
  (assets/LICENSE.md).
"""

import os
import sys


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tfface import files, pretrained  # noqa: E402
from tfface.pretrained import building  # noqa: E402
from tfface.faces import detect_faces  # noqa: E402
from tfface.inference import ResidualEditor  # noqa: E402
from tfface.methods import load_run  # noqa: E402
from tfface.editors import KerasEditor  # noqa: E402
from tfface.photo import apply_edits  # noqa: E402
from tfface.pictures import grid_image  # noqa: E402
from figure_common import around_face, figure_name, parser  # noqa: E402


def astronaut_figure(run, strengths=(1.0, 1.0), crop_side=260):
    """``strengths``: adding's and removing's (a bundled editor's recommended ones)."""
    from skimage import data as skdata

    photo = skdata.astronaut()
    faces = detect_faces(photo)
    size = run.settings.image_size
    edits = [apply_edits(photo, faces[:1], [(KerasEditor(g, size), s)])
             for g, s in zip((run.model.g0, run.model.g1), strengths)]
    return around_face(photo, faces[0], [photo, *edits], crop_side)


def val_figure(run, strengths=(1.0, 1.0), n=8):
    data = run.method.load_data(run.settings, test_only=True)
    rows = []
    for domain, (direction, s) in enumerate(zip(("add", "remove"), strengths)):
        x = data.first_images("test", n, domain)
        y = ResidualEditor(run.model, strength=s).edit(direction, x)
        rows.append([im for pair in zip(x[:n // 2], y[:n // 2]) for im in pair])
        rows.append([im for pair in zip(x[n // 2:], y[n // 2:]) for im in pair])
    return grid_image(rows)


def main():
    ap = parser(__doc__)
    ap.add_argument("--no_val", action="store_true", help="skip the CelebA grid (no CelebA here)")
    a = ap.parse_args()
    strengths = (1.0, 1.0)
    if a.pretrained:
        entry = pretrained.find(a.pretrained)
        run = building.load(entry)
        strengths = tuple(pretrained.recommended_strength(entry, d) for d in ("add", "remove"))
    else:
        run = load_run(a.run_dir, say=lambda m: None)
    name = figure_name(a)
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, f"{name}_astronaut.png")
    files.save_image(astronaut_figure(run, strengths), path)
    print("wrote", path)
    if not a.no_val:
        path = os.path.join(a.out, f"{name}_val.png")
        files.save_image(val_figure(run, strengths), path)
        print("wrote", path)


if __name__ == "__main__":
    main()
