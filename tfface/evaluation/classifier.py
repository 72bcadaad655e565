"""A separate attribute classifier, the judge of edits (flip rate, as in AttGAN / STGAN).

It is trained on the training split of the same data as the editors, saved,
and reused by every evaluation of that data::

    python -m tfface.evaluation.classifier --data synthetic --image_size 64 --out classifiers/synthetic-64px

writes ``classifier.keras`` and ``classifier.json`` (labels, image size, its
own test accuracy per attribute).
"""

from __future__ import annotations

import json
import os
import shutil
import sys

import keras
import numpy as np
from keras import layers

CHANNELS = (32, 64, 128, 256)


def build(image_size, n_labels, width=1.0):
    """A plain CNN (not the GANs' discriminators): 4 strided convs, global pooling, sigmoid outputs."""
    x = keras.Input((image_size, image_size, 3), name="image")
    h = layers.Rescaling(1 / 127.5, offset=-1.0, name="to_unit")(x)
    for i, c in enumerate(CHANNELS, start=1):
        h = layers.Conv2D(max(4, int(c * width)), 3, 2, padding="same", use_bias=False, name=f"conv{i}")(h)
        h = layers.BatchNormalization(name=f"bn{i}")(h)
        h = layers.ReLU(name=f"relu{i}")(h)
    h = layers.GlobalAveragePooling2D(name="pool")(h)
    out = layers.Dense(n_labels, activation="sigmoid", name="attributes")(h)
    return keras.Model(x, out, name="attribute_classifier")


def default_dir(data, image_size):
    return os.path.join("classifiers", f"{data.split(':', 1)[0]}-{image_size}px")


def train(data="synthetic", image_size=64, steps=1500, batch_size=64, seed=0, out=None, attribute="attribute", say=print):
    """Train on the training split and save to ``out``; returns the info dict."""
    from tfface.data import load_labeled

    out = out or default_dir(data, image_size)
    keras.utils.set_random_seed(seed)
    d = load_labeled(data, image_size, seed=seed, attribute=attribute, synthetic_test_size=1024)
    model = build(image_size, len(d.attribute_names))
    model.compile(keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    ds = d.train_dataset(batch_size, seed=seed).map(lambda x, c: (x * 127.5 + 127.5, c))  # back to 0..255
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)  # the tf.data pipeline already shuffles
    x, c = d.test.load_batch(np.arange(d.test.size))
    probs = predict(model, x)
    acc = ((probs >= 0.5) == (c >= 0.5)).mean(axis=0)
    info = {"data": str(d.spec), "image_size": image_size, "attribute_names": list(d.attribute_names), "steps": steps,
            "test_images": int(len(x)), "test_accuracy": {n: float(a) for n, a in zip(d.attribute_names, acc)},
            "mean_test_accuracy": float(acc.mean())}
    tmp = out.rstrip("/") + f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    model.save(os.path.join(tmp, "classifier.keras"))
    with open(os.path.join(tmp, "classifier.json"), "w") as f:
        json.dump(info, f, indent=2)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    os.rename(tmp, out)
    say(f"attribute classifier: {out} (mean test accuracy {info['mean_test_accuracy']:.3f} on {len(x)} images)")
    return info


def load(directory):
    """(model, info) of a saved classifier."""
    path = os.path.join(directory, "classifier.keras")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no attribute classifier at {directory} (train one with python -m tfface.evaluation.classifier)")
    with open(os.path.join(directory, "classifier.json")) as f:
        info = json.load(f)
    return keras.models.load_model(path), info


def predict(model, images, batch_size=128):
    """uint8 images [N,S,S,3] -> probabilities [N, n_labels]."""
    images = np.asarray(images, np.float32)
    return np.concatenate([model(images[i:i + batch_size], training=False).numpy() for i in range(0, len(images), batch_size)])


def main(argv=None):
    import argparse

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ap = argparse.ArgumentParser(prog="python -m tfface.evaluation.classifier", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="synthetic")
    ap.add_argument("--image_size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch_size", type=int, default=64)
    ap.add_argument("--attribute", default="attribute", help="label name for --data=folders")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    try:
        train(args.data, args.image_size, args.steps, args.batch_size, args.seed, args.out, args.attribute)
    except (ValueError, FileNotFoundError) as e:
        print(f"tfface.evaluation.classifier: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, ValueError) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
