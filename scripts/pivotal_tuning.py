"""Tune an iterative GAN's G on each face before rebuilding it (pivotal tuning, Roich et al. 2021): what it does
to the rebuild's identity and to the transformations.

    python scripts/pivotal_tuning.py --pretrained iterative_celeba --images 64 --steps 0,10,25,50,100
    python scripts/pivotal_tuning.py --pretrained iterative_celeba --images 64 --locality 10

For each of the first ``--images`` held-out faces x (those ``tfface evaluate`` reads), a copy of G starts from the
trained weights and takes Adam steps (``--learning_rate``) on the paper's integrated loss without its z term,
lambda_per L_per + lambda_pix L_pix (§3.3, D's features and G's batch norms in inference mode) between x and
G'(z~, c~), with (z~, c~) = C(D(x)) held: the pivot.  ``--locality W`` adds PTI's locality term,
W mean|G'(z, c) - G(z, c)| on ``--locality_codes`` random codes a step (z ~ U(-1, 1), c the labels of random
held-out faces), which keeps G' near G away from the pivot.  At each count of ``--steps`` this prints the
median dlib identity distance (as ``tfface evaluate`` measures it) and PSNR of the rebuild G'(z~, c~), and, for
each attribute set to the opposite of its true value, the shipped judge's flip rate and the identity distance of
G'(z~, c'): the rebuild path's two CelebA targets of issue 18 on one model.  Step 0 is the model as trained.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pretrained", help="a bundled iterative GAN (e.g. iterative_celeba)")
    ap.add_argument("--run_dir", help="an iterative training run")
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--steps", default="0,10,25,50,100", help="tuning steps at which to measure")
    ap.add_argument("--learning_rate", type=float, default=1e-3)
    ap.add_argument("--locality", type=float, default=0.0, help="weight of PTI's locality term (0: none)")
    ap.add_argument("--locality_codes", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if (args.pretrained is None) == (args.run_dir is None):
        ap.error("give one of --pretrained NAME or --run_dir RUN")
    counts = sorted({int(v) for v in args.steps.split(",")})

    import keras
    import tensorflow as tf
    from keras import ops

    from tfface import pretrained
    from tfface.evaluation import face_measures
    from tfface.evaluation import judge as judge_lib
    from tfface.evaluation import metrics
    from tfface.evaluation.iterative import flipped
    from tfface.inference import to_float, to_uint8
    from tfface.losses import iterative as L
    from tfface.methods import load_run
    from tfface.pretrained import building

    run = building.load(pretrained.find_iterative(args.pretrained)) if args.pretrained else load_run(args.run_dir)
    model, s = run.model, run.settings
    data = run.method.load_data(s)
    x_all, c_true = data.test.load_batch(np.arange(min(args.images, data.test.size)))
    judge, info = judge_lib.load(judge_lib.shipped_dir(s.data_spec.kind, s.image_size))
    names = [n for n in data.attribute_names if n in info["attribute_names"]]
    columns = [list(data.attribute_names).index(n) for n in names]
    reference = face_measures.IdentityReference(x_all)
    lambda_per, lambda_pix = s.lambda_per, s.lambda_pix

    g = keras.models.clone_model(model.g)
    trained = [w.numpy() for w in model.g.weights]
    g.set_weights(trained)
    optimizer = keras.optimizers.Adam(args.learning_rate)
    optimizer.build(g.trainable_variables)
    rng = np.random.default_rng(args.seed)

    @tf.function
    def tune(x, z, c, z_far, c_far):
        with tf.GradientTape() as tape:
            rebuilt = g([z, c], training=False)
            _, _, hidden = model.d(ops.concatenate([x, rebuilt], axis=0), training=False)
            h = [ops.split(t, 2, axis=0) for t in hidden]
            loss = ops.mean(lambda_per * L.perceptual_loss([t[0] for t in h], [t[1] for t in h])
                            + lambda_pix * L.pixel_loss(x, rebuilt))
            if args.locality:
                loss = loss + args.locality * ops.mean(ops.abs(g([z_far, c_far], training=False)
                                                               - model.g([z_far, c_far], training=False)))
        optimizer.apply_gradients(zip(tape.gradient(loss, g.trainable_variables), g.trainable_variables))

    generate = tf.function(lambda z, c: g([z, c], training=False))
    rebuilds = {k: [] for k in counts}
    edits = {k: [] for k in counts}
    start = time.time()
    for i in range(len(x_all)):
        x = to_float(x_all[i:i + 1])
        z, logits = model.encode(x, training=False)
        c = ops.sigmoid(logits)
        g.set_weights(trained)
        for v in optimizer.variables:                      # fresh moments and step count; keep the rate
            if "learning_rate" not in v.path:
                v.assign(ops.zeros_like(v))
        c_edit = np.repeat(np.asarray(c), len(names), axis=0)
        for j, k in enumerate(columns):
            c_edit[j, k] = 1 - c_true[i, k]
        z_edit = np.repeat(np.asarray(z), len(names), axis=0)
        done = 0
        for count in counts:
            for _ in range(count - done):
                z_far = rng.uniform(-1, 1, (args.locality_codes, model.z_dim)).astype(np.float32)
                c_far = c_true[rng.integers(0, len(c_true), args.locality_codes)].astype(np.float32)
                tune(x, z, c, z_far, c_far)
            done = count
            rebuilds[count].append(to_uint8(generate(z, c))[0])
            edits[count].append(to_uint8(generate(z_edit, c_edit)))
    print(f"{len(x_all)} faces, {time.time() - start:.0f} s; learning rate {args.learning_rate:g}, "
          f"locality {args.locality:g}")
    print("| tuning steps | rebuild: identity / PSNR | transformed: judged flip rate / identity | "
          + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for count in counts:
        rebuilt = np.stack(rebuilds[count])
        psnr = float(np.mean(metrics.psnr(rebuilt, x_all)))
        edited = np.stack(edits[count])                                   # [N, attributes, H, W, 3]
        flips, ids = [], []
        for j, k in enumerate(columns):
            p = judge_lib.predict(judge, edited[:, j])[:, info["attribute_names"].index(names[j])]
            flips.append(float(np.mean(flipped(p, c_true[:, k]))))
            ids.append(float(np.median(reference.distances(edited[:, j]))))
        print(f"| {count} | {np.median(reference.distances(rebuilt)):.3f} / {psnr:.2f} dB | "
              f"{np.mean(flips):.3f} / {np.mean(ids):.3f} | " + " | ".join(f"{f:.2f}" for f in flips) + " |")


if __name__ == "__main__":
    main()
