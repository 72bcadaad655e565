"""Adam whose update runs as one fused TensorFlow kernel per variable.

Keras 3's :class:`keras.optimizers.Adam` writes its update as separate ops
(subtract, multiply, square, add, sqrt, divide and three assignments), each of
which reads and writes the whole variable.  Where a model has one large
weight (D's shared layer of the iterative GAN at 128 px, width 1: 32,768 ×
1,024 values) those passes over memory are 11% of the op time of a stage-1
step (profiled, 2 cores, 2026-12-07): an update of 44 M parameters took 90 ms
against 27 ms for TensorFlow's fused ``ResourceApplyAdam``.
``benchmarks/optimizer.py`` times the train steps with each (BENCHMARKS.md,
*Adam as one fused kernel*).

``ResourceApplyAdam`` computes the same formula as Keras's Adam, in the same
order (TensorFlow's ``ApplyAdam`` kernel)::

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) * (1 - beta_1)
    v += (g^2 - v) * (1 - beta_2)
    var -= m * alpha / (sqrt(v) + epsilon)

and keeps the moments in Keras's own slot variables, so checkpoints, the
learning-rate schedules, gradient clipping, loss scaling and ``tf.distribute``
(the update runs per replica inside ``Strategy.extended.update``) are
unchanged.  Variables it cannot handle (AMSGrad, sparse gradients, dtypes
other than float32 / float64) take Keras's own update.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfface")
class FusedAdam(keras.optimizers.Adam):
    """:class:`keras.optimizers.Adam` with each variable's update as ``tf.raw_ops.ResourceApplyAdam``."""

    def update_step(self, gradient, variable, learning_rate):
        var = variable.value if isinstance(variable, keras.Variable) else variable
        if (self.amsgrad or isinstance(gradient, tf.IndexedSlices)
                or var.dtype not in (tf.float32, tf.float64)):
            return super().update_step(gradient, variable, learning_rate)
        dtype = var.dtype
        index = self._get_variable_index(variable)
        m, v = self._momentums[index].value, self._velocities[index].value
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=var.handle, m=m.handle, v=v.handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype), use_locking=False)
