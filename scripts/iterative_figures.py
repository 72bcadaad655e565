"""Figures of an iterative GAN on real faces, for the README.

    python scripts/iterative_figures.py --run_dir ~/runs/it-celeba --name iterative_celeba
    python scripts/iterative_figures.py --pretrained iterative_celeba      # a bundled iterative GAN

Writes to assets/ (or --out):

- ``<name>_transform.png``: 6 faces of the CelebA val partition, one per row: input | reconstruction
  G(C(D(x))) | the reconstruction with one attribute set to the opposite of what C recognises, for each of
  (up to) 6 attributes (§5.3.3).  CelebA pictures: non-commercial research only (assets/LICENSE.md).
- ``<name>_generate.png``: new faces (§5.3.5): each row one z ~ U(-1, 1) with a val face's labels, then the
  same z with one attribute flipped per column.
- ``<name>_astronaut.png``: skimage's astronaut photo (public domain), edited at full resolution through the
  same detection, alignment and paste-back path as ``tfface iterative transform``: original | each
  attribute set, one per column, cropped around her face.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tfface import files, pretrained  # noqa: E402
from tfface.editors import IterativeEditor  # noqa: E402
from tfface.faces import detect_faces  # noqa: E402
from tfface.methods import load_run  # noqa: E402
from tfface.photo import aligned_face, apply_edits  # noqa: E402
from tfface.pictures import grid_image  # noqa: E402
from tfface.pretrained import building  # noqa: E402
from figure_common import around_face, figure_name, parser  # noqa: E402
SHOWN = ("Male", "Smiling", "Eyeglasses", "Blond_Hair", "Bangs", "Young", "Mouth_Slightly_Open")


def shown(names, n=6):
    return [a for a in SHOWN if a in names][:n] or list(names[:n])


def transform_figure(editor, x):
    names = shown(editor.attribute_names)
    c = editor.recognize(x)
    cols = [x, editor.reconstruct(x)]
    for name in names:
        k = editor.attribute_names.index(name)
        cols.append(editor.transform(x, {name: (c[:, k] < 0.5).astype(np.float32)}))
    return grid_image([[col[i] for col in cols] for i in range(len(x))])


def generate_figure(editor, labels, seed=0):
    names = shown(editor.attribute_names)
    z = np.random.default_rng(seed).uniform(-1, 1, (len(labels), editor.model.z_dim)).astype(np.float32)
    base = np.asarray(labels, np.float32)
    cols = [editor.generate(z, labels=base)]
    for name in names:
        k = editor.attribute_names.index(name)
        cols.append(editor.generate(z, {name: 1.0 - base[:, k]}, labels=base))
    return grid_image([[col[i] for col in cols] for i in range(len(z))])


def astronaut_figure(run, editor, crop_side=260):
    from skimage import data as skdata

    photo = skdata.astronaut()
    faces = detect_faces(photo)[:1]
    _, left, right = faces[0]
    face = aligned_face(photo, left, right, run.settings.image_size)  # what the editor sees, in [0, 1]
    c = editor.recognize(np.round(face[None] * 255).astype(np.uint8))[0]
    edits = []
    for name in shown(editor.attribute_names):
        k = editor.attribute_names.index(name)
        change = IterativeEditor(run.model, editor.attribute_names, {name: float(c[k] < 0.5)})
        edits.append(apply_edits(photo, faces, [(change, 1.0)]))
    return around_face(photo, faces[0], [photo, *edits], crop_side)


def main():
    a = parser(__doc__).parse_args()
    run = building.load(pretrained.find_iterative(a.pretrained)) if a.pretrained else load_run(a.run_dir, say=lambda m: None)
    editor = run.editor()
    name = figure_name(a)
    os.makedirs(a.out, exist_ok=True)
    data = run.method.load_data(run.settings, test_only=True)
    x, labels = data.test.load_batch(np.arange(6))
    for kind, picture in (("transform", transform_figure(editor, x)), ("generate", generate_figure(editor, labels[:4])),
                          ("astronaut", astronaut_figure(run, editor))):
        path = os.path.join(a.out, f"{name}_{kind}.png")
        files.save_image(picture, path)
        print("wrote", path)


if __name__ == "__main__":
    main()
