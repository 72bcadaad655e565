"""``tf.data`` streams over collections, deterministic by training step.

The stream position of step ``s`` is ``s * batch_size``; epoch ``e`` is a
stateless permutation seeded by ``(seed, e)``.  So a run resumed at step
``s`` reads exactly the batches an uninterrupted run would have read, with
no iterator state to checkpoint.  Decoding runs in parallel
(``num_parallel_calls``), batches are prefetched, and the element order is
deterministic unless ``deterministic=False`` is asked for.
"""

from __future__ import annotations

import atexit
import gc
import sys

import tensorflow as tf


@atexit.register
def _release_iterators_before_shutdown():
    """Free tf.data iterators while Python is still fully alive.

    Our datasets call Python (``tf.numpy_function``).  If an exception
    escapes to the top level, its traceback keeps a live iterator until
    interpreter finalization, where destroying it waits for in-flight
    Python calls that can no longer take the GIL: the process hangs instead
    of exiting.  Dropping the traceback and collecting at exit avoids that.
    """
    for name in ("last_traceback", "last_value", "last_type", "last_exc"):
        if getattr(sys, name, None) is not None:
            setattr(sys, name, None)
    gc.collect()

from tfface.data.collections import Collection

_FOREVER = 2**62
_FLIP_SEED = 7919  # offsets the flips' random stream from the shuffles' (same run seed)


def to_float(images):
    """uint8 [0, 255] -> float32 [-1, 1], the models' input range."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_uint8(images):
    """float [-1, 1] (values outside are clipped) -> uint8 [0, 255]."""
    return tf.cast(tf.round((tf.clip_by_value(tf.cast(images, tf.float32), -1.0, 1.0) + 1.0) * 127.5), tf.uint8)


def index_stream(size, seed, start=0, shuffle=True):
    """Endless int64 indices into a collection of ``size`` items, from position ``start``."""
    start = int(start)
    if size is None:
        return tf.data.Dataset.range(start, _FOREVER)
    size = int(size)
    if not shuffle:
        return tf.data.Dataset.range(start, _FOREVER).map(lambda i: i % size)
    first_epoch = start // size

    def epoch(e):
        perm = tf.random.experimental.stateless_shuffle(
            tf.range(size, dtype=tf.int64), seed=tf.stack([tf.constant(int(seed), tf.int64), e])
        )
        return tf.data.Dataset.from_tensor_slices(perm)

    return tf.data.Dataset.range(first_epoch, _FOREVER).flat_map(epoch).skip(start - first_epoch * size)


def batches(collection: Collection, batch_size, seed=0, start_step=0, deterministic=True, flip=False):
    """Endless ``(uint8 images [B,S,S,3], float32 labels [B,K])`` batches from ``collection``.

    ``flip``: mirror each image left-right with probability 1/2, decided by (seed, step), so a resumed
    run sees the same flips."""
    b, s, k = int(batch_size), collection.image_size, len(collection.attribute_names)
    idx = index_stream(collection.size, seed, start_step * b, collection.shuffle)

    def load(step, i):
        imgs, labels = tf.numpy_function(collection.load_batch, [i], [tf.uint8, tf.float32])
        imgs.set_shape([b, s, s, 3])
        labels.set_shape([b, k])
        if flip:
            mirror = tf.random.stateless_uniform([b], seed=tf.stack([tf.constant(int(seed), tf.int64) + _FLIP_SEED, step])) < 0.5
            imgs = tf.where(mirror[:, None, None, None], tf.reverse(imgs, axis=[2]), imgs)
        return imgs, labels

    ds = idx.batch(b, drop_remainder=True).enumerate(int(start_step)).map(
        load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    return ds.with_options(options)


def finite_batches(collection: Collection, batch_size, limit=None):
    """One ordered pass over ``collection`` (evaluation): the last batch may be short."""
    n = len(collection) if limit is None else min(int(limit), len(collection))
    s, k = collection.image_size, len(collection.attribute_names)

    def load(i):
        imgs, labels = tf.numpy_function(collection.load_batch, [i], [tf.uint8, tf.float32])
        imgs.set_shape([None, s, s, 3])
        labels.set_shape([None, k])
        return imgs, labels

    return tf.data.Dataset.range(n).batch(int(batch_size)).map(load, num_parallel_calls=tf.data.AUTOTUNE)
