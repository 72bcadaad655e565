"""Reflection padding with the amounts of ``padding="same"``, for G's ``--g_padding reflect``.

A ``"same"`` convolution pads with zeros, and zeros tell a network where the image's border is: the
convolutions next to it see a dark frame that no other position sees, so G can (and the bundled
eyeglasses remover did, README) learn outputs that belong to the border rather than to the face, such as
a tinted line along the crop's top rows, even on a flat grey input.  Padding with the image's own
reflection (as CycleGAN's generators do) gives the border the statistics of its neighbours: on a
constant image every position then sees the same input, so G's output is constant too (tested).

:class:`ReflectionPadding2D` pads before a ``"valid"`` convolution by exactly what ``"same"`` would
(TensorFlow's rule: the total is max((ceil(n / s) - 1) s + k - n, 0), the smaller half before), so the
output sizes, the kernels and their checkpoints are those of the zero-padded network.
"""

from __future__ import annotations

import keras
from keras import layers, ops

PADDINGS = ("zeros", "reflect")


def same_padding(size, kernel_size, strides=1):
    """(before, after): what ``padding="same"`` adds along an axis of ``size`` (TensorFlow's rule)."""
    out = -(-size // strides)
    total = max((out - 1) * strides + kernel_size - size, 0)
    return total // 2, total - total // 2


def reflect(x, kernel_size, strides=1, mode="reflect"):
    """``x`` [B, H, W, C] padded by ``mode`` as ``padding="same"`` would pad it (static H, W)."""
    _, h, w, _ = x.shape
    return ops.pad(x, [[0, 0], same_padding(h, kernel_size, strides), same_padding(w, kernel_size, strides), [0, 0]],
                   mode=mode)


@keras.saving.register_keras_serializable(package="tfface")
class ReflectionPadding2D(layers.Layer):
    """Pads [B, H, W, C] with its reflection by what a ``kernel_size``/``strides`` ``"same"`` convolution
    pads with zeros; follow it with that convolution at ``padding="valid"``."""

    def __init__(self, kernel_size, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size, self.strides = int(kernel_size), int(strides)

    def call(self, x):
        return reflect(x, self.kernel_size, self.strides)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        grow = lambda n: None if n is None else n + sum(same_padding(n, self.kernel_size, self.strides))  # noqa: E731
        return (b, grow(h), grow(w), c)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides}
