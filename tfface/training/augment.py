"""Differentiable augmentation of everything D sees (DiffAugment: Zhao et al., "Differentiable
Augmentation for Data-Efficient GAN Training", NeurIPS 2020), for ``--diffaugment``.

With a few thousand images per class (the CelebA sample has 2,740 training faces with glasses), D learns
features that a tiny, targeted residual flips (measured: after 4,500 steps D gave the removal
generator's outputs a higher probability of "no glasses" (0.38) than real glasses faces (0.17) while the
judge still saw glasses on 93% of them): an adversarial perturbation, cheaper under the L1 sparsity
loss than removing the frames.  Augmenting D's inputs - reals and fakes alike, in D's update and in G's,
and differentiably so G's gradients pass through - keeps D from relying on such fragile cues.

Two of DiffAugment's policies, the ones that cannot remove the attribute: colour (brightness,
saturation, contrast) and translation (up to 1/8 of the side, zero padding); not cutout, which can erase
the glasses of a real "with glasses" face and so mislabel it.  ``--no_diffaugment_colour`` keeps only the
translation (an ablation: does a D that sees colours changed at random forgive a generator's colour casts?
Measured on Eyeglasses, README: the casts stayed, and removal learnt more slowly).  The parameters are drawn
per example and shared by the image sets stacked along the batch (``groups``): x, its edit and its round trip move
together, so eq. 5's perceptual loss still compares aligned features.
"""

from __future__ import annotations

import tensorflow as tf
from keras import ops

TRANSLATION = 0.125


def _draw(shape, lo, hi, groups, seed, k, dtype=tf.float32):
    """Per-example random parameters [n, ...] from the stateless stream (seed, k), tiled over the ``groups``
    stacked sets.  Stateless: the same step draws the same parameters, also after a resume."""
    s = tf.cast(seed, tf.int64) + tf.constant([0, 1000003], tf.int64) * k
    v = tf.random.stateless_uniform(shape, s, lo, hi, dtype=dtype)
    return ops.tile(v, [groups] + [1] * (len(shape) - 1))


def colour(x, groups, seed):
    """DiffAugment's rand_brightness, rand_saturation and rand_contrast (on [-1, 1] images)."""
    n = ops.shape(x)[0] // groups
    x = x + _draw([n, 1, 1, 1], -0.5, 0.5, groups, seed, 1)
    mean = ops.mean(x, axis=3, keepdims=True)
    x = (x - mean) * _draw([n, 1, 1, 1], 0.0, 2.0, groups, seed, 2) + mean
    mean = ops.mean(x, axis=[1, 2, 3], keepdims=True)
    return (x - mean) * _draw([n, 1, 1, 1], 0.5, 1.5, groups, seed, 3) + mean


def translate(x, groups, seed):
    """Shift each example by whole pixels, up to TRANSLATION of the side, zero where the border is uncovered
    (a 0/1 shift matrix per example and axis, so the gradient is exact)."""
    size = x.shape[1]
    n = ops.shape(x)[0] // groups
    k = int(size * TRANSLATION + 0.5)
    shift = _draw([n, 2], -k, k + 1, groups, seed, 4, dtype=tf.int32)
    idx = ops.arange(size)
    # m[b, i, j] = 1 when output row (column) i takes input row (column) j = i - shift.
    rows = ops.cast(ops.equal(idx[None, :, None] - shift[:, 0, None, None], idx[None, None, :]), x.dtype)
    cols = ops.cast(ops.equal(idx[None, :, None] - shift[:, 1, None, None], idx[None, None, :]), x.dtype)
    x = ops.einsum("bij,bjkc->bikc", rows, x)
    return ops.einsum("bkl,bilc->bikc", cols, x)


def diff_augment(images, groups, seed, with_colour=True):
    """``images`` [groups * n, S, S, 3] in [-1, 1] (``groups`` sets of ``n`` stacked along the batch) ->
    colour-changed (unless ``with_colour`` is False) and translated images; example ``i`` of every set gets the
    same parameters.  ``seed``: two integers (e.g. a fixed value and the step), the stateless random stream of
    this call."""
    x = ops.cast(images, "float32")
    if with_colour:
        x = colour(x, groups, seed)
    return ops.cast(translate(x, groups, seed), images.dtype)
