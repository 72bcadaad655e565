"""The judge: a strong attribute classifier, trained once per (data kind, image size) and shipped.

It scores edits (flip rates) and gives the features of distribution distances.
Trained on CelebA's official *train* partition with augmentation and a
class-balanced loss, and reported on the *val* partition per attribute as
**balanced accuracy** (the mean of the true-positive and true-negative
rates, so a rare attribute cannot be "learnt" by always answering no)::

    tfface judge --data celeba:../shared/data/celeba_sample --image_size 64 --work_dir ~/runs/judge-celeba-64px

Training is resumable: the work directory holds a checkpoint (model,
optimizer, epoch) after every epoch, and the same command continues from it.
The result is ``judge.json`` (architecture, labels, val scores) and
``judge.weights.npz`` (float16 weights) in ``--out``.

Architecture: a small residual CNN (4 stages of two 3x3 residual blocks,
32-256 channels, global average pooling, dropout, one logit per attribute);
the input is uint8-range RGB, rescaled inside the model.
"""

from __future__ import annotations

import json
import os
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from tfface import files
from tfface.data import pipeline
from tfface.data.celeba import CROP, CelebA
from tfface.data.collections import FileCollection, SyntheticCollection
from tfface.data.spec import parse_data_flag
from tfface.inference import batched

CHANNELS = (32, 64, 128, 256)
WEIGHTS, INFO = "judge.weights.npz", "judge.json"
# Judges shipped in the package, by (data kind, image size): tfface/judges/<kind>-<size>px/ (licence beside them).
SHIPPED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "judges")


def shipped_dir(kind, image_size):
    """The shipped judge for a data kind and image size; FileNotFoundError naming what is shipped."""
    d = os.path.join(SHIPPED, f"{kind}-{image_size}px")
    if not os.path.isfile(os.path.join(d, INFO)):
        have = sorted(n for n in os.listdir(SHIPPED) if os.path.isdir(os.path.join(SHIPPED, n)))
        raise FileNotFoundError(f"no shipped judge for {kind} at {image_size} px (shipped: {', '.join(have) or 'none'})")
    return d


def build(image_size, n_labels, width=1.0, dropout=0.3, name="judge"):
    """uint8-range images [N, S, S, 3] -> attribute probabilities; layers ``features`` and ``logits`` are named."""
    ch = [max(8, int(round(c * width))) for c in CHANNELS]
    x_in = keras.Input((image_size, image_size, 3), name="image")
    h = layers.Rescaling(1 / 127.5, offset=-1.0, name="to_unit")(x_in)
    stem_stride = 2 if image_size >= 128 else 1
    h = layers.Conv2D(ch[0], 3, stem_stride, padding="same", use_bias=False, name="stem_conv")(h)
    h = layers.ReLU(name="stem_relu")(layers.BatchNormalization(momentum=0.9, name="stem_bn")(h))
    for s, c in enumerate(ch, start=1):
        for b in (1, 2):
            stride = 2 if b == 1 else 1
            name_ = f"s{s}b{b}"
            y = layers.Conv2D(c, 3, stride, padding="same", use_bias=False, name=f"{name_}_conv1")(h)
            y = layers.ReLU(name=f"{name_}_relu1")(layers.BatchNormalization(momentum=0.9, name=f"{name_}_bn1")(y))
            y = layers.Conv2D(c, 3, 1, padding="same", use_bias=False, name=f"{name_}_conv2")(y)
            y = layers.BatchNormalization(momentum=0.9, name=f"{name_}_bn2")(y)
            if stride != 1 or h.shape[-1] != c:
                h = layers.BatchNormalization(momentum=0.9, name=f"{name_}_skip_bn")(
                    layers.Conv2D(c, 1, stride, use_bias=False, name=f"{name_}_skip")(h))
            h = layers.ReLU(name=f"{name_}_out")(layers.Add(name=f"{name_}_add")([h, y]))
    h = layers.GlobalAveragePooling2D(name="features")(h)
    h = layers.Dropout(dropout, name="dropout")(h)
    logits = layers.Dense(n_labels, name="logits")(h)
    out = layers.Activation("sigmoid", name="attributes")(logits)
    return keras.Model(x_in, out, name=name)


def predict(model, images, batch_size=128):
    """uint8 images [N,S,S,3] -> probabilities [N, n_labels] (a tuple of arrays for a model with several outputs)."""

    def call(x):
        # Converted to float per batch: a whole test set as float32 would take four times its uint8 memory.
        out = model(x.astype(np.float32), training=False)
        return tuple(out) if isinstance(out, (list, tuple)) else out

    return batched(call, np.asarray(images), batch_size=batch_size)


def balanced_accuracy(probabilities, labels, threshold=0.5):
    """Per attribute: (true-positive rate + true-negative rate) / 2; NaN where a class is absent."""
    pred = np.asarray(probabilities) >= threshold
    truth = np.asarray(labels) >= 0.5
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = (pred & truth).sum(0) / truth.sum(0)
        tnr = (~pred & ~truth).sum(0) / (~truth).sum(0)
    return (tpr + tnr) / 2


def balanced_bce(positive_rate, floor=0.02):
    """Binary cross-entropy in which each attribute's two classes weigh half each (rates floored)."""
    p = np.clip(np.asarray(positive_rate, np.float32), floor, 1 - floor)
    w_pos, w_neg = tf.constant(0.5 / p), tf.constant(0.5 / (1 - p))

    def loss(y_true, y_pred):
        y_pred = tf.clip_by_value(tf.cast(y_pred, tf.float32), 1e-6, 1 - 1e-6)
        bce = -(w_pos * y_true * tf.math.log(y_pred) + w_neg * (1 - y_true) * tf.math.log(1 - y_pred))
        return tf.reduce_mean(bce, axis=-1)

    return loss


def augment(images, seed):
    """Random horizontal flip, shift up to 1/16 of the side, brightness and contrast (uint8 in, float 0-255 out)."""
    x = tf.cast(images, tf.float32)
    n, s = tf.shape(x)[0], images.shape[1]
    pad = max(1, s // 16)
    seeds = tf.random.experimental.stateless_split(seed, 5)
    flip = tf.random.stateless_uniform([n, 1, 1, 1], seeds[0]) < 0.5
    x = tf.where(flip, x[:, :, ::-1], x)
    x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    off = tf.random.stateless_uniform([2], seeds[1], 0, 2 * pad + 1, dtype=tf.int32)
    x = x[:, off[0]:off[0] + s, off[1]:off[1] + s]
    bright = tf.random.stateless_uniform([n, 1, 1, 1], seeds[2], -20.0, 20.0)
    contrast = tf.random.stateless_uniform([n, 1, 1, 1], seeds[3], 0.8, 1.2)
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return tf.clip_by_value((x - mean) * contrast + mean + bright, 0.0, 255.0)


def splits(data, image_size, seed=0, synthetic_train=20000, synthetic_val=2000):
    """(train collection, val collection, description) for a judge of ``data``."""
    spec = parse_data_flag(data) if isinstance(data, str) else data
    if spec.kind == "synthetic":
        train = SyntheticCollection(image_size, (seed + 1) << 40, synthetic_train)
        val = SyntheticCollection(image_size, 1 << 51, synthetic_val)
        return train, val, f"synthetic: {synthetic_train} train / {synthetic_val} val identities"
    if spec.kind != "celeba":
        raise ValueError("a judge is trained on synthetic or celeba data")
    celeba = CelebA.load(spec.paths[0])
    train_idx, val_idx = celeba.split_indices("train"), celeba.split_indices("val")
    make = lambda idx: FileCollection(celeba.paths(idx), image_size, celeba.labels[idx], celeba.attribute_names,  # noqa: E731
                                      crop=CROP)
    return make(train_idx), make(val_idx), f"{spec}: official train {len(train_idx)} / val {len(val_idx)}"


def _positive_rate(collection, n=20000):
    if isinstance(collection, FileCollection):
        return collection.labels.mean(axis=0)
    return collection.attributes(np.arange(min(n, collection.size))).mean(axis=0)


def train(data, image_size, epochs=30, batch_size=64, learning_rate=2e-3, width=1.0, work_dir=None, out=None, seed=0,
          synthetic_sizes=(20000, 2000), say=print):
    """Train (or resume) a judge; write ``out``/judge.json and judge.weights.npz. Returns the info dict."""
    work_dir = os.path.abspath(os.path.expanduser(work_dir or os.path.join("runs", f"judge-{image_size}px")))
    out = out or os.path.join(work_dir, "judge")
    keras.utils.set_random_seed(seed)
    train_c, val_c, described = splits(data, image_size, seed, *synthetic_sizes)
    say(f"judge: {described}, {image_size}px, {epochs} epochs of {len(train_c) // batch_size} steps")
    names = tuple(train_c.attribute_names)
    model = build(image_size, len(names), width)
    steps = len(train_c) // batch_size
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps)
    opt = keras.optimizers.Adam(schedule)
    model.compile(opt, loss=balanced_bce(_positive_rate(train_c)))
    opt.build(model.trainable_variables)
    epoch = tf.Variable(0, dtype=tf.int64, name="epoch")
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model, optimizer=opt, epoch=epoch),
                                         os.path.join(work_dir, "checkpoints"), max_to_keep=2)
    if manager.latest_checkpoint:
        manager.checkpoint.read(manager.latest_checkpoint).assert_existing_objects_matched()
        say(f"judge: resuming after epoch {int(epoch.numpy())} ({manager.latest_checkpoint})")
    val_x, val_y = val_c.load_batch(np.arange(len(val_c)))
    for e in range(int(epoch.numpy()), epochs):
        t0 = time.perf_counter()
        ds = pipeline.batches(train_c, batch_size, seed, start_step=e * steps)
        ds = ds.enumerate(e * steps).map(
            lambda i, xy: (augment(xy[0], tf.stack([tf.cast(seed, tf.int64), i])), xy[1]),
            num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
        hist = model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
        epoch.assign(e + 1)
        manager.save(checkpoint_number=e + 1)
        bal = balanced_accuracy(predict(model, val_x), val_y)
        say(f"judge epoch {e + 1}/{epochs}: loss {hist.history['loss'][-1]:.4f}, val mean balanced accuracy "
            f"{np.nanmean(bal):.4f}, {time.perf_counter() - t0:.0f} s")
    probs = predict(model, val_x)
    bal, acc = balanced_accuracy(probs, val_y), ((probs >= 0.5) == (val_y >= 0.5)).mean(axis=0)
    info = {"data": str(data), "image_size": image_size, "width": width, "attribute_names": list(names),
            "epochs": epochs, "batch_size": batch_size, "val_images": int(len(val_x)), "described": described,
            "val_balanced_accuracy": {n: float(b) for n, b in zip(names, bal)},
            "val_accuracy": {n: float(a) for n, a in zip(names, acc)},
            "mean_val_balanced_accuracy": float(np.nanmean(bal)), "mean_val_accuracy": float(acc.mean())}
    save(model, info, out)
    say(f"judge: {out} (val mean balanced accuracy {info['mean_val_balanced_accuracy']:.4f})")
    return info


def save(model, info, directory):
    """judge.json + judge.weights.npz (float16: half the size; measured on CelebA val, balanced accuracies move by < 0.001)."""
    with files.building_directory(directory) as tmp:
        np.savez_compressed(os.path.join(tmp, WEIGHTS), *[w.astype(np.float16) for w in model.get_weights()])
        files.write_json(os.path.join(tmp, INFO), info)


def load(directory):
    """(model, info) of a saved judge."""
    path = os.path.join(directory, INFO)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no judge at {directory}")
    with open(path) as f:
        info = json.load(f)
    model = build(info["image_size"], len(info["attribute_names"]), info.get("width", 1.0))
    with np.load(os.path.join(directory, WEIGHTS)) as z:
        model.set_weights([z[f"arr_{i}"].astype(np.float32) for i in range(len(z.files))])
    return model, info
