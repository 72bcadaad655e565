"""What issue 18's identity target asks of the iterative GAN's reconstruction, and what its networks can rebuild.

    python scripts/reconstruction_ceiling.py --data celeba:../shared/data/celeba_sample --calibrate
    python scripts/reconstruction_ceiling.py --data celeba:../shared/data/celeba_sample --steps 6000 \\
        --width 0.5 --z_dim 100
    python scripts/reconstruction_ceiling.py --data celeba:../shared/data/celeba_sample --steps 3000 \\
        --lambda_id 0.5 --identity_model ~/models/human-models/mobileface.json
    python scripts/reconstruction_ceiling.py --data celeba:../shared/data/celeba_sample --steps 3000 \\
        --lambda_id 0.5 --identity_model ~/models/human-models/{faceres-deep,mobileface}.json --id_jitter 0.05 0.1
    python scripts/reconstruction_ceiling.py --data celeba:../shared/data/celeba_sample --steps 9000 \\
        --lambda_feat 1 --identity_model ~/models/human-models/mobileface.json

The target is a median dlib identity distance <= 0.5 between a val face and its rebuild G(C(D(x))), measured
as ``tfface evaluate`` measures it (tfface.evaluation.face_measures: both upscaled to 256 px, the input's face
rectangle, dlib's 128-D embedding).

``--calibrate`` prints the identity distance and PSNR of the val faces degraded in known ways (Gaussian blur,
down- and upsampling) and of another person's face: how sharp a rebuild must be for dlib to call it the
same person; with ``--identity_model``, the recogniser's distances beside dlib's.

Otherwise the script trains the iterative GAN's own networks as a plain autoencoder, with no adversary and no
generation: D's trunk and C's z head encode (z~ = C(D(x)), tanh), G decodes G(z~, c) with the true labels,
and the only loss is the per-pixel L1 of §3.3.1 (Adam 2e-4, beta_1 0.5, batch 16, float32) or, with
``--lambda_id``, that and the identity loss of ``tfface train --lambda_id`` (tfface.models.face_recognizer),
and with ``--lambda_feat``, the feature-matching loss on the recognisers' intermediate maps
(tfface.losses.iterative.feature_matching_loss; not a training setting).
Reconstruction is then all the networks are asked to do, so its PSNR and identity distance after ``--steps`` bound from above
what the GAN's stage 2, which shares the networks with the ACGAN game, reaches in as many steps. The README's
issue-18 notes quote both parts.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def calibrate(x):
    from PIL import Image, ImageFilter

    size = x.shape[1]

    def blur(s):
        return np.stack([np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur(s))) for a in x])

    def resample(k):
        return np.stack([np.asarray(Image.fromarray(a).resize((k, k), Image.BICUBIC).resize((size, size),
                                                                                           Image.BICUBIC)) for a in x])

    cases = {"another person (the next val face)": np.roll(x, 1, axis=0)}
    cases.update({f"Gaussian blur, sigma {s} px": blur(s) for s in (0.5, 1.0, 1.5, 2.0, 3.0)})
    cases.update({f"down to {k} px and back": resample(k) for k in (32, 24, 16)})
    return cases


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="as tfface train --data (celeba:DIR, or synthetic)")
    p.add_argument("--image_size", type=int, default=64)
    p.add_argument("--images", type=int, default=256, help="the first val faces measured")
    p.add_argument("--calibrate", action="store_true", help="measure degraded inputs instead of training")
    p.add_argument("--width", type=float, default=0.5, help="G's width")
    p.add_argument("--d_width", type=float, default=None, help="D's and C's width (default: --width)")
    p.add_argument("--z_dim", type=int, default=100)
    p.add_argument("--z_head", default="shared", choices=("shared", "hidden"))
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--report_every", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lambda_id", type=float, default=0.0,
                   help="add the identity loss of tfface train --lambda_id with this weight")
    p.add_argument("--lambda_feat", type=float, default=0.0,
                   help="add the feature-matching loss on the recognisers' intermediate maps with this weight")
    p.add_argument("--identity_model", nargs="+", default=[], help="the face recognisers for --lambda_id and --lambda_feat "
                   "(mobileface.json, faceres-deep.json; with several, the loss is their mean); their distances are "
                   "reported beside dlib's")
    p.add_argument("--id_jitter", nargs=2, type=float, default=(0.0, 0.0), metavar=("SHIFT", "SCALE"),
                   help="show each recogniser of the loss both faces in one random framing per example: its box "
                   "shifted by up to SHIFT of the crop's side and scaled by up to 1 + SCALE (0 0: its preset box)")
    a = p.parse_args()

    from tfface.evaluation import face_measures, metrics
    from tfface.methods import get
    from tfface.settings import Settings

    method = get("iterative")
    settings = method.resolve(Settings(method="iterative", data=a.data, image_size=a.image_size, seed=a.seed,
                                       eval_images=a.images))
    data = method.load_data(settings)
    x_val, c_val = data.test.load_batch(np.arange(min(a.images, data.test.size)))

    from tfface.data.pipeline import to_float, to_uint8
    from tfface.inference import batched

    from tfface.models.face_recognizer import FaceRecognizer, random_jitter
    recognizers = [FaceRecognizer(path) for path in a.identity_model]

    def recogniser_distance(rebuilt):
        """The median cosine distance of each --identity_model between the val faces and ``rebuilt`` (what its
        identity loss sees, where dlib's distance is what tfface evaluate measures)."""
        out = ""
        for path, rec in zip(a.identity_model, recognizers):
            embed = lambda t: batched(lambda b: rec(to_float(b)), t)  # noqa: E731
            d = 1.0 - np.sum(embed(x_val) * embed(rebuilt), axis=1)
            out += f", {os.path.basename(path)} distance median {np.median(d):.3f}"
        return out

    def report(name, rebuilt):
        ident = face_measures.identity_summary(face_measures.identity_distances(x_val, rebuilt))
        print(f"{name}: identity median {ident['median_distance']:.3f} (same person, < {ident['threshold']}: "
              f"{ident['share_same_person']:.2f}), PSNR {metrics.mean_finite(metrics.psnr(rebuilt, x_val)):.1f} dB"
              + recogniser_distance(rebuilt), flush=True)

    if a.calibrate:
        print(f"{len(x_val)} val faces at {a.image_size} px against themselves:")
        for name, y in calibrate(x_val).items():
            report(f"  {name}", y)
        return

    import keras
    import tensorflow as tf

    from tfface.losses import iterative as L
    from tfface.training.iterative_gan import IterativeGAN

    keras.utils.set_random_seed(a.seed)
    gan = IterativeGAN(image_size=a.image_size, z_dim=a.z_dim, n_labels=c_val.shape[1], width=a.width,
                       d_width=a.d_width, z_head=a.z_head)
    # What the autoencoder trains: G, D's trunk up to its shared layer and C's path to z, the variables the
    # pixel loss reaches (not D's source output nor C's label head).
    variables = gan.g.trainable_variables + gan.d.trainable_variables + gan.c.trainable_variables
    opt = keras.optimizers.Adam(2e-4, beta_1=0.5)

    def rebuild(x, c, training):
        _, shared, _ = gan.d(x, training=training)
        z, _ = gan.c(shared, training=training)
        return gan.g([z, c], training=training)

    if (a.lambda_id or a.lambda_feat) and not recognizers:
        p.error("--lambda_id and --lambda_feat need --identity_model")

    @tf.function
    def step(x, c):
        with tf.GradientTape() as tape:
            rebuilt = rebuild(x, c, True)
            loss = tf.reduce_mean(L.pixel_loss(x, rebuilt))
            ident = feat = 0.0
            for rec in recognizers if a.lambda_id or a.lambda_feat else []:
                # one random framing per recogniser and step, shown to both faces and both losses
                jitter = random_jitter(tf.shape(x)[0], *a.id_jitter) if any(a.id_jitter) else None
                if a.lambda_id:
                    ident += L.identity_loss(tf.stop_gradient(rec(x, jitter)), rec(rebuilt, jitter))
                if a.lambda_feat:
                    real = [tf.stop_gradient(m) for m in rec.maps(x, jitter)]
                    feat += L.feature_matching_loss(real, rec.maps(rebuilt, jitter))
            if recognizers:
                loss = loss + (a.lambda_id * tf.reduce_mean(ident) + a.lambda_feat * tf.reduce_mean(feat)) / len(recognizers)
        reached = [(g, v) for g, v in zip(tape.gradient(loss, variables), variables) if g is not None]
        opt.apply([g for g, _ in reached], [v for _, v in reached])
        return loss

    def rebuilt_val():
        return batched(lambda x, c: to_uint8(rebuild(to_float(x), tf.constant(c, tf.float32), False)), x_val, c_val)

    losses = "pixel L1" + ("" if a.lambda_id or a.lambda_feat else " only")
    models = ", ".join(map(os.path.basename, a.identity_model))
    if a.lambda_id:
        losses += f" + {a.lambda_id} x identity loss"
    if a.lambda_feat:
        losses += f" + {a.lambda_feat} x feature-matching loss"
    if recognizers:
        losses += f" ({models}" + (f"; jitter: shift {a.id_jitter[0]}, scale {a.id_jitter[1]})" if any(a.id_jitter) else ")")
    print(f"autoencoder of the iterative GAN's networks: G width {a.width}, D/C width {a.d_width or a.width}, "
          f"z_dim {a.z_dim}, z head {a.z_head}; {losses}, batch 16", flush=True)
    ds = iter(data.train_dataset(16, seed=a.seed, start_step=0, deterministic=True, flip=False))
    t0 = time.time()
    for i in range(1, a.steps + 1):
        x, c = next(ds)
        loss = float(step(x, tf.cast(c, tf.float32)))
        if i % a.report_every == 0 or i == a.steps:
            report(f"step {i} ({time.time() - t0:.0f} s, training loss {loss:.3f})", rebuilt_val())


if __name__ == "__main__":
    main()
