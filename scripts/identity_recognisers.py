"""How well a face recogniser tells two photos of one person from photos of two people, on 64 px crops.

    python scripts/identity_recognisers.py --data ../shared/data/celeba_sample \\
        --identity_model ~/models/human-models/mobileface.json ~/models/human-models/faceres-deep.json

``tfface train --lambda_id`` trains against a face recogniser other than dlib's, which ``tfface evaluate``
measures identity with. This compares them on CelebA crops as the iterative GAN sees them (the centred 178 px
square at ``--image_size``): from CelebA's identity file, the first two photos of each of the first
``--pairs`` people with two, and as many random pairs of photos of two people. Each line gives the median
distance of both kinds of pair and the AUC (the chance that a same-person pair is closer than a two-person
pair; 0.5 is chance, 1 is perfect): dlib's 128-D embedding (Euclidean distance, as tfface evaluate measures),
then each recogniser (cosine distance) as --lambda_id trains with it (its preset in
tfface.models.face_recognizer: box, channel order and means) and on the whole crop.

``--rebuilds MODEL ...`` (iterative runs or bundled names) then prints, for each model, the median distance of
every measure between the first ``--images`` val faces (``--split train``: training faces) and their rebuilds
G(C(D(x))): how far an identity loss against one recogniser moves the others.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from identity_reference import identities  # noqa: E402

from tfface.data.celeba import CROP, CelebA  # noqa: E402
from tfface.data.images import load_image  # noqa: E402


def pairs(people, n, seed=0):
    same, other = [], []
    for person in np.unique(people):
        idx = np.flatnonzero(people == person)
        if len(idx) >= 2 and len(same) < n:
            same.append((idx[0], idx[1]))
    rng = np.random.default_rng(seed)
    while len(other) < n:
        i, j = rng.choice(len(people), 2, replace=False)
        if people[i] != people[j]:
            other.append((i, j))
    return same, other


def auc(same, other):
    return float(np.mean(np.asarray(same)[:, None] < np.asarray(other)[None, :]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/celeba_sample", help="a CelebA directory with identity_CelebA.txt")
    ap.add_argument("--identity_model", required=True, nargs="+",
                    help="recognisers of --lambda_id (mobileface.json, faceres-deep.json)")
    ap.add_argument("--image_size", type=int, default=64)
    ap.add_argument("--pairs", type=int, default=300)
    ap.add_argument("--rebuilds", nargs="*", default=[], help="iterative run directories or bundled names")
    ap.add_argument("--images", type=int, default=256, help="val faces rebuilt by each of --rebuilds")
    ap.add_argument("--split", choices=("val", "train"), default="val",
                    help="rebuild the first --images faces of this split (train: does the rebuild miss even the "
                    "people it trained on?)")
    a = ap.parse_args()

    from tfface.data.pipeline import to_float
    from tfface.evaluation import face_measures
    from tfface.inference import batched
    from tfface.models.face_recognizer import FaceRecognizer, preset_for

    data = CelebA.load(a.data)
    same, other = pairs(identities(data.root, data.filenames), a.pairs)

    def crops(index_pairs, side):
        return np.stack([load_image(p, a.image_size, crop=CROP) for p in data.paths([ij[side] for ij in index_pairs])])

    images = {kind: (crops(ps, 0), crops(ps, 1)) for kind, ps in (("same", same), ("other", other))}

    def dlib_distance(x, y):
        return np.linalg.norm(face_measures.embeddings(x)[0] - face_measures.embeddings(y)[0], axis=1)

    def recogniser_distance(path, box):
        rec = FaceRecognizer(path, box=box)

        def distance(x, y):
            embed = lambda t: batched(lambda b: rec(to_float(b)), t)  # noqa: E731
            return 1.0 - np.sum(embed(x) * embed(y), axis=1)
        return distance

    print(f"{len(same)} pairs of one person, {len(other)} of two people, {a.image_size} px crops:")
    # (name, distance, as --lambda_id reads faces): the rebuilds are measured as the identity loss sees them
    measures = [("dlib (Euclidean)", dlib_distance, False)]
    for path in a.identity_model:
        name, box = os.path.basename(path), preset_for(path).box
        measures += [(f"{name}, its box {box} (cosine)", recogniser_distance(path, box), True),
                     (f"{name}, whole crop (cosine)", recogniser_distance(path, (0.0, 0.0, 1.0, 1.0)), False)]
    for name, distance, _ in measures:
        d_same, d_other = distance(*images["same"]), distance(*images["other"])
        print(f"  {name}: median one person {np.median(d_same):.3f}, two people {np.median(d_other):.3f}, "
              f"AUC {auc(d_same, d_other):.3f}", flush=True)

    if a.rebuilds:
        from tfface import pretrained
        from tfface.inference import Editor
        from tfface.methods import load_run
        from tfface.pretrained import building

        print(f"median distance between the first {a.images} {a.split} faces and their rebuilds G(C(D(x))):")
        for spec in a.rebuilds:
            run = load_run(spec) if os.path.isdir(spec) else building.load(pretrained.find_iterative(spec))
            data = run.method.load_data(run.settings)
            faces = data.test if a.split == "val" else data.train
            x, _ = faces.load_batch(np.arange(min(a.images, faces.size)))
            rebuilt = Editor(run.model, run.method.attribute_names(run.settings)).reconstruct(x)
            dlib = np.median(face_measures.IdentityReference(x).distances(rebuilt))  # as tfface evaluate measures
            print(f"  {spec}: dlib {dlib:.3f}, " + ", ".join(
                f"{name.split(',')[0]} {np.median(distance(x, rebuilt)):.3f}"
                for name, distance, as_the_loss in measures if as_the_loss), flush=True)


if __name__ == "__main__":
    main()
