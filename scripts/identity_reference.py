"""How far apart dlib puts two real photos of the same person, with and without an attribute: a reference for
the editors' identity distance (input -> edit, target <= 0.40 for the local attributes).

    python scripts/identity_reference.py --data ../shared/data/celeba_sample --attribute Eyeglasses

From CelebA's identity file, per person at most one pair of each kind, first images in file order:

- ``with / without``: one photo with the attribute, one without;
- ``without / without``: two photos without it.

Crops as the editors see them (the centred 178 px square at ``--image_size``), measured as ``tfface
evaluate`` measures an edit (tfface.evaluation.face_measures: upscaled to 256 px, dlib's 128-D embedding),
except that each photo gets its own face rectangle.  Real pairs also differ in pose, light, expression and
age, which an edit keeps, so they bound what the attribute alone costs from above: the gap between the
two medians is what changing the attribute costs dlib in real photos.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tfface.data.celeba import CROP, CelebA  # noqa: E402
from tfface.data.images import load_image  # noqa: E402
from tfface.evaluation import face_measures, statistics  # noqa: E402


def identities(root, filenames):
    with open(os.path.join(root, "identity_CelebA.txt")) as f:
        table = dict(line.split() for line in f if line.strip())
    return np.array([int(table[name]) for name in filenames])


def pairs(people, has, max_pairs):
    """([(with, without)], [(without, without)]) index pairs, at most one of each kind per person."""
    mixed, plain = [], []
    for person in np.unique(people):
        idx = np.flatnonzero(people == person)
        yes, no = idx[has[idx] == 1], idx[has[idx] == 0]
        if len(yes) and len(no) and len(mixed) < max_pairs:
            mixed.append((yes[0], no[0]))
        if len(no) >= 2 and len(plain) < max_pairs:
            plain.append((no[0], no[1]))
    return mixed, plain


def distances(data, index_pairs, size):
    a = np.stack([load_image(p, size, crop=CROP) for p in data.paths([i for i, _ in index_pairs])])
    b = np.stack([load_image(p, size, crop=CROP) for p in data.paths([j for _, j in index_pairs])])
    ea, _ = face_measures.embeddings(a)
    eb, _ = face_measures.embeddings(b)
    return np.linalg.norm(ea - eb, axis=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/celeba_sample", help="a CelebA directory with identity_CelebA.txt")
    ap.add_argument("--attribute", default="Eyeglasses")
    ap.add_argument("--image_size", type=int, default=64, help="crop side, as the editors see faces (default: 64)")
    ap.add_argument("--pairs", type=int, default=400, help="at most this many pairs of each kind (default: 400)")
    a = ap.parse_args()
    data = CelebA.load(a.data)
    people = identities(data.root, data.filenames)
    mixed, plain = pairs(people, data.attribute_column(a.attribute), a.pairs)
    print(f"{a.attribute}, {a.image_size} px crops, median dlib distance between two photos of one person "
          f"[95% bootstrap], share below {face_measures.IDENTITY_THRESHOLD}:")
    for label, index_pairs in ((f"with / without {a.attribute}", mixed), (f"both without {a.attribute}", plain)):
        d = distances(data, index_pairs, a.image_size)
        low, high = statistics.median_interval(d)
        print(f"  {label:<32} {np.median(d):.3f} [{low:.3f}, {high:.3f}]  "
              f"{np.mean(d < face_measures.IDENTITY_THRESHOLD):.2f}  ({len(d)} people)")


if __name__ == "__main__":
    main()
