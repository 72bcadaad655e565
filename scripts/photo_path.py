"""How strongly an iterative GAN's photo path edits, against how much of the person it keeps.

    python scripts/photo_path.py --pretrained iterative_celeba --strengths 1,1.5,2,3 --images 512 \\
        --identity_images 128
    python scripts/photo_path.py --run_dir RUN --strengths 1,2

``tfface iterative transform photo.jpg`` pastes only the change the labels make, x + s (G(z~, c') - G(z~, c~))
(:meth:`tfface.inference.Editor.paste`), where the transformation measures of ``tfface evaluate`` judge G(z~, c')
itself, the rebuild path. For each strength s this prints, per attribute set to the opposite of its true value
on every face, the shipped judge's flip rate on the first ``--images`` held-out faces (those ``tfface evaluate
--images N`` reads; ``--skip K`` starts after the first K, a disjoint set) and the median dlib identity distance
of the first ``--identity_images`` edited crops to their inputs (as ``tfface evaluate`` measures it); then the
same for the rebuild path. ``tfface evaluate --strength S`` measures one strength of a training run the same way.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pretrained", help="a bundled iterative GAN (e.g. iterative_celeba)")
    ap.add_argument("--run_dir", help="an iterative training run")
    ap.add_argument("--data", help="data flag (default: the run's own)")
    ap.add_argument("--strengths", default="1,1.5,2,3")
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--identity_images", type=int, default=128)
    ap.add_argument("--skip", type=int, default=0, help="start after this many held-out faces (a disjoint set)")
    args = ap.parse_args(argv)
    if (args.pretrained is None) == (args.run_dir is None):
        ap.error("give one of --pretrained NAME or --run_dir RUN")

    from tfface import pretrained
    from tfface.evaluation import face_measures
    from tfface.evaluation import judge as judge_lib
    from tfface.evaluation.iterative import flipped
    from tfface.inference import Editor
    from tfface.methods import load_run
    from tfface.pretrained import building

    run = building.load(pretrained.find_iterative(args.pretrained)) if args.pretrained else load_run(args.run_dir)
    s = run.settings.replace(data=args.data) if args.data else run.settings
    data = run.method.load_data(s)
    x, c = data.test.load_batch(np.arange(args.skip, min(args.skip + args.images, data.test.size)))
    judge, info = judge_lib.load(judge_lib.shipped_dir(s.data_spec.kind, s.image_size))
    names = [n for n in data.attribute_names if n in info["attribute_names"]]
    reference = face_measures.IdentityReference(x[: args.identity_images])

    def scores(edit):
        rows = {}
        for name in names:
            k = list(data.attribute_names).index(name)
            edited = edit({name: 1 - c[:, k]})
            p = judge_lib.predict(judge, edited)[:, info["attribute_names"].index(name)]
            flip = float(np.mean(flipped(p, c[:, k])))
            rows[name] = (flip, float(np.median(reference.distances(edited[: args.identity_images]))))
        return rows

    table = {}
    for strength in [float(v) for v in args.strengths.split(",")]:
        ed = Editor(run.model, data.attribute_names, strength=strength)
        table[f"pasted, strength {strength:g}"] = scores(lambda changes, ed=ed: ed.paste(x, changes))
    redrawn = Editor(run.model, data.attribute_names)
    table["rebuild path G(z~, c')"] = scores(lambda changes: redrawn.transform(x, changes))

    print(f"{len(x)} faces judged, identity on the first {min(args.identity_images, len(x))}; "
          "each cell: judged flip rate / median identity distance")
    print("| attribute | " + " | ".join(table) + " |")
    print("|---|" + "---|" * len(table))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{t[name][0]:.2f} / {t[name][1]:.2f}" for t in table.values()) + " |")
    print("| **mean** | " + " | ".join(f"**{np.mean([v[0] for v in t.values()]):.3f} / {np.mean([v[1] for v in t.values()]):.3f}**"
                                     for t in table.values()) + " |")


if __name__ == "__main__":
    main()
