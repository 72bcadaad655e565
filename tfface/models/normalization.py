"""Batch normalisation with TensorFlow's fused kernel in training (both papers' networks use it).

Keras 3 normalises a training batch with separate ops (the batch moments, then
scale and shift), and the gradient of that is as many more elementwise passes
over every activation.  Profiled on the main job's train step (64 px, width
0.25, 2-core CPU), those passes (Sum, Mul, Tile, SquaredDifference, Mean, ...)
took about 38% of the step, against 53% for all convolutions.  TensorFlow's
``FusedBatchNormV3`` (oneDNN's kernel on CPU, cuDNN's on GPU) computes the
forward pass in one op and its gradient in one more.

:class:`BatchNormalization` is Keras's layer (same variables, checkpoints and
config) with that kernel in training.  The results are Keras's to float
rounding; the moving variance is updated with the biased batch variance, as
Keras does (the fused op returns the unbiased one, which is rescaled).  Where
the fused kernel does not apply, Keras's own path runs: inference, other
backends, masks, cross-replica (synchronised) statistics, renorm, a disabled
scale or centre, an axis other than the last, or a rank other than 2 or 4.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers


@keras.saving.register_keras_serializable(package="tfface")
class BatchNormalization(layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` with TensorFlow's fused kernel for training batches."""

    def _fused_applies(self, inputs, training, mask):
        rank = len(inputs.shape)
        return (bool(training) and self.trainable and mask is None and not self.synchronized and not self.renorm
                and self.scale and self.center and rank in (2, 4) and self.axis in (-1, rank - 1)
                and keras.backend.backend() == "tensorflow")

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        # Statistics in float32, as Keras does under mixed precision: the fused kernel takes bfloat16 maps
        # as they are (it accumulates in float32), so only other dtypes are cast.  Casting bfloat16 maps to
        # float32 and back (and the same in the gradient) was 10% of a bfloat16 train step (profiled).
        x = inputs if inputs.dtype in (tf.float32, tf.bfloat16) else tf.cast(inputs, tf.float32)
        channels = x.shape[-1]
        x4 = x if len(x.shape) == 4 else tf.reshape(x, [-1, 1, 1, channels])
        empty = tf.constant([], tf.float32)
        y, mean, unbiased_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x4, scale=tf.cast(self.gamma, tf.float32), offset=tf.cast(self.beta, tf.float32), mean=empty,
            variance=empty, epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC", is_training=True)
        n = tf.cast(tf.size(x4) // channels, tf.float32)
        variance = unbiased_variance * (n - 1.0) / tf.maximum(n, 1.0)  # Keras keeps the biased batch variance
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        if len(x.shape) == 2:
            y = tf.reshape(y, tf.shape(x))
        return tf.cast(y, self.compute_dtype)
