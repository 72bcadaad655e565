"""Can the residual method's D learn an attribute from real faces when it is trained on nothing else?

    python scripts/discriminator_alone.py --data celeba:../shared/data/celeba_sample --attribute Eyeglasses \\
        --width 0.25 --norm batch --steps 800

Trains Table 1's D (the 3-class head; only its two real classes are used) with Adam(2e-4, 0.5) on
batches of 16 + 16 real training images of the two classes, then prints its recall of each class
among the two real classes on the first 256 val images of each.  The README's "What D knows about
glasses" compares this with what the same D learns inside the GAN (``d_real_recall`` in a run's
progress.jsonl).
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--attribute", default="Eyeglasses")
    p.add_argument("--image_size", type=int, default=64)
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--norm", choices=("batch", "spectral"), default="batch")
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    import keras
    import tensorflow as tf

    from tfface.methods import get
    from tfface.models import residual as nets
    from tfface.settings import Settings

    method = get("residual")
    settings = method.resolve(Settings(method="residual", attribute=a.attribute, data=a.data, image_size=a.image_size))
    data = method.load_data(settings)
    train = [data.first_images("train", None, k) for k in (0, 1)]
    val = [data.first_images("test", 256, k) for k in (0, 1)]
    keras.utils.set_random_seed(a.seed)
    d = nets.discriminator(a.image_size, a.width, 3, False, a.norm)
    opt = keras.optimizers.Adam(2e-4, beta_1=0.5)

    def to_unit(x):
        return tf.cast(x, tf.float32) / 127.5 - 1.0

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            logits, _ = d(x, training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        opt.apply(tape.gradient(loss, d.trainable_variables), d.trainable_variables)
        return loss

    rng = np.random.default_rng(a.seed)
    labels = np.repeat([0, 1], 16)
    t0 = time.time()
    for _ in range(a.steps):
        x = np.concatenate([t[rng.integers(0, len(t), 16)] for t in train])
        loss = float(step(to_unit(x), labels))
    recall = []
    for k in (0, 1):
        logits = d(to_unit(val[k]), training=False)[0].numpy()
        recall.append(float(np.mean((logits[:, 1] > logits[:, 0]) == bool(k))))
    print(f"D alone: width {a.width}, {a.norm} norm, {a.steps} steps ({time.time() - t0:.0f} s): last loss {loss:.3f}; "
          f"val recall without {a.attribute} {recall[0]:.3f}, with it {recall[1]:.3f}")


if __name__ == "__main__":
    main()
