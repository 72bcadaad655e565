"""A separate attribute classifier, the judge of edits (flip rate, as in AttGAN / STGAN).

It is trained on the training split of the same data as the editors, saved,
and reused by every evaluation of that data::

    tfface classifier --data synthetic --image_size 64 --out classifiers/synthetic-64px

writes ``classifier.keras`` and ``classifier.json`` (labels, image size, its
own test accuracy per attribute).
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np
from keras import layers

from tfface import files
from tfface.data.sources import load_labeled
from tfface.data.spec import parse_data_flag
from tfface.inference import batched

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
    return os.path.join("classifiers", f"{parse_data_flag(data).kind}-{image_size}px")


def train(data="synthetic", image_size=64, steps=1500, batch_size=64, seed=0, out=None, attribute="attribute", say=print):
    """Train on the training split and save to ``out``; returns the info dict."""
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
    with files.building_directory(out) as tmp:
        model.save(os.path.join(tmp, "classifier.keras"))
        files.write_json(os.path.join(tmp, "classifier.json"), info)
    say(f"attribute classifier: {out} (mean test accuracy {info['mean_test_accuracy']:.3f} on {len(x)} images)")
    return info


def load(directory):
    """(model, info) of a saved classifier."""
    path = os.path.join(directory, "classifier.keras")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no attribute classifier at {directory} (train one with tfface classifier)")
    with open(os.path.join(directory, "classifier.json")) as f:
        info = json.load(f)
    return keras.models.load_model(path), info


def predict(model, images, batch_size=128):
    """uint8 images [N,S,S,3] -> probabilities [N, n_labels]."""
    return batched(lambda x: model(x, training=False), np.asarray(images, np.float32), batch_size=batch_size)
