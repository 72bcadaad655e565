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

With ``leaky_relu=slope`` the layer is batch norm then a leaky ReLU of that slope, and in training the
pair's gradient keeps only the pair's output, which the next convolution keeps anyway for its kernel's
gradient.  A convolution, batch norm and leaky ReLU in separate layers keep three maps for the backward
pass: the convolution's output (the batch norm's gradient reads it), the batch norm's output (the leaky
ReLU's gradient reads it) and the leaky ReLU's output.  Here the backward pass rebuilds the batch norm's
input from the output instead, as in-place activated batch norm does (Rota Bulo et al. 2018): the leaky
ReLU is inverted (slope 1 / slope below zero; the output has the sign of its input) and so is the batch
norm's affine map, ``x = (y - beta) sqrt(var + eps) / gamma + mean`` with the batch's own moments.  Measured
on the residual train step at 128 px, width 1, batch 16 (float32): peak live tensors 3.40 -> 2.43 GB.
Rebuilding costs two passes over the map in the backward pass: at 128 px, width 1 that is paid back (the
step's speed is unchanged, its peak RSS 5.0 -> 3.5 GB), at 64 px, width 0.5, batch 16 it is not (the step 5%
slower, for memory no one lacks), so the layer rebuilds only maps of ``KEEP_OUTPUT_FROM_BYTES`` or more
and lets autodiff keep smaller ones (their values and gradients are the same, to float rounding).
The rebuilt input differs from the kept one by float rounding, amplified by ``|beta| / |gamma|``
(``xhat = (y - beta) / gamma``); where ``gamma`` is exactly 0 the batch norm's input is lost: the input's
gradient is 0 there (as it is exactly) and ``gamma``'s is taken as 0.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers


@keras.saving.register_keras_serializable(package="tfface")
class BatchNormalization(layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` with TensorFlow's fused kernel for training batches; with
    ``leaky_relu`` (a slope in (0, 1)), followed by that leaky ReLU, whose gradient keeps only the output."""

    def __init__(self, *args, leaky_relu=None, **kwargs):
        super().__init__(*args, **kwargs)
        if leaky_relu is not None and not 0.0 < float(leaky_relu) < 1.0:
            raise ValueError(f"leaky_relu must be a slope in (0, 1), got {leaky_relu!r}")
        self.leaky_relu = None if leaky_relu is None else float(leaky_relu)

    def get_config(self):
        return {**super().get_config(), "leaky_relu": self.leaky_relu}

    def _fused_applies(self, inputs, training, mask):
        rank = len(inputs.shape)
        return (bool(training) and self.trainable and mask is None and not self.synchronized and not self.renorm
                and self.scale and self.center and rank in (2, 4) and self.axis in (-1, rank - 1)
                and keras.backend.backend() == "tensorflow")

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            y = super().call(inputs, training=training, mask=mask)
            return y if self.leaky_relu is None else keras.ops.leaky_relu(y, self.leaky_relu)
        # Statistics in float32, as Keras does under mixed precision: the fused kernel takes bfloat16 maps
        # as they are (it accumulates in float32), so only other dtypes are cast.  Casting bfloat16 maps to
        # float32 and back (and the same in the gradient) was 10% of a bfloat16 train step (profiled).
        x = inputs if inputs.dtype in (tf.float32, tf.bfloat16) else tf.cast(inputs, tf.float32)
        channels = x.shape[-1]
        x4 = x if len(x.shape) == 4 else tf.reshape(x, [-1, 1, 1, channels])
        gamma, beta = tf.cast(self.gamma, tf.float32), tf.cast(self.beta, tf.float32)
        if self.leaky_relu is not None and _map_bytes(x4) >= KEEP_OUTPUT_FROM_BYTES:
            y, mean, variance = _fused_batch_norm_leaky_relu(x4, gamma, beta, self.epsilon, self.leaky_relu)
        else:
            y, mean, variance, _ = _fused_batch_norm(x4, gamma, beta, self.epsilon)
            if self.leaky_relu is not None:
                y = tf.nn.leaky_relu(y, self.leaky_relu)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        if len(x.shape) == 2:
            y = tf.reshape(y, tf.shape(x))
        return tf.cast(y, self.compute_dtype)


# From this size of map (the whole batch's) the leaky ReLU's layer keeps only its output for the backward
# pass; a map of unknown size counts as large.  Between the residual step's maps at 64 px, width 0.5, batch 16
# (2-8 MB, where rebuilding made the step 5% slower) and at 128 px, width 1 (17-67 MB, where it cost nothing).
KEEP_OUTPUT_FROM_BYTES = 16 * 2**20


def _map_bytes(x):
    size = x.shape.num_elements()
    return float("inf") if size is None else size * x.dtype.size


def _fused_batch_norm(x, gamma, beta, epsilon):
    """(y, batch mean, biased batch variance, the kernel's three reserve spaces for its gradient) of a training
    batch [N, H, W, C], with the fused kernel."""
    empty = tf.constant([], tf.float32)
    y, mean, unbiased_variance, *reserves = tf.raw_ops.FusedBatchNormV3(
        x=x, scale=gamma, offset=beta, mean=empty, variance=empty, epsilon=epsilon, exponential_avg_factor=1.0,
        data_format="NHWC", is_training=True)
    return y, mean, _biased(unbiased_variance, x), reserves


def _biased(unbiased_variance, x):
    """Keras keeps the biased batch variance; the fused kernel returns the unbiased one."""
    n = tf.cast(tf.size(x) // x.shape[-1], tf.float32)
    return unbiased_variance * (n - 1.0) / tf.maximum(n, 1.0)


def _fused_batch_norm_leaky_relu(x, gamma, beta, epsilon, slope):
    """(leaky_relu(batch_norm(x)), batch mean, biased batch variance), whose gradient keeps only the output
    (the module docstring says how, and what it costs in precision)."""

    @tf.custom_gradient
    def forward(x, gamma, beta):
        y, mean, variance, (reserve_1, reserve_2, reserve_3) = _fused_batch_norm(x, gamma, beta, epsilon)
        out = tf.nn.leaky_relu(y, slope)

        def grad(d_out, *_):  # the moments feed only the moving averages: no gradient flows through them
            d_y = tf.raw_ops.LeakyReluGrad(gradients=d_out, features=out, alpha=slope)  # out has y's sign
            # Rebuilt only when the backward pass gets here: the executor runs an op once its inputs are ready,
            # and ``out`` is ready in the forward pass, so without this every layer's input would be rebuilt
            # at once and held (measured: 0.4 GB more at the peak).
            with tf.control_dependencies([d_y]):
                y_again = tf.nn.leaky_relu(out, 1.0 / slope)
            # x = y_again * a + b, as one pass: the fused kernel in inference with mean 0 and variance 1.
            a = tf.math.divide_no_nan(tf.sqrt(variance + epsilon), gamma)
            b = mean - beta * a
            x_again, *_ = tf.raw_ops.FusedBatchNormV3(
                x=y_again, scale=a, offset=b, mean=tf.zeros_like(a), variance=tf.fill(tf.shape(a), 1.0 - _UNIT_EPSILON),
                epsilon=_UNIT_EPSILON, data_format="NHWC", is_training=False)
            d_x, d_gamma, d_beta, *_ = tf.raw_ops.FusedBatchNormGradV3(
                y_backprop=d_y, x=x_again, scale=gamma, reserve_space_1=reserve_1, reserve_space_2=reserve_2,
                reserve_space_3=reserve_3, epsilon=epsilon, data_format="NHWC", is_training=True)
            return d_x, d_gamma, d_beta

        return (out, mean, variance), grad

    return forward(x, gamma, beta)


_UNIT_EPSILON = 1e-3  # variance 1 - eps plus eps: the inference kernel then scales by rsqrt(1) = 1 (to rounding)
