"""A dense layer whose input gradient reads the kernel as it is stored.

The iterative GAN's D ends in a shared fully connected layer (§3.3.1) whose kernel is
[flattened features, 1024 w]: at 128 px and width 1 that is 32,768 x 1,024 (134 MB in float32), far
larger than the batch that goes through it. Autodiff of ``x @ W`` computes the input gradient as
``dy @ W^T``, a matrix product with a transposed right operand, and oneDNN's kernel for that shape
(a few rows times the wide transposed kernel) is slow: 37-43 ms for a batch of 16-48, against 7-16 ms for
the same numbers computed as ``(W @ dy^T)^T``, whose only transposes are of the batch-sized operands, and
6-11 ms for the forward product (measured on this project's CPU, 2026-12-07; the two gradients were
bit-identical). Both of the iterative train step's updates take that gradient
(D's to reach its convolutions, G's to reach G), so it cost about 5% of the step at the paper's size.

:class:`Dense` is Keras's layer with that input gradient: the same variables, configuration and
forward pass, the kernel's gradient ``x^T @ dy`` as before.
"""

import keras
from keras import layers, ops


@ops.custom_gradient
def _matmul(x, kernel):
    """``x @ kernel`` for a [batch, in] ``x``; the input gradient as ``(kernel @ dy^T)^T``."""
    y = ops.matmul(x, kernel)

    def grad(*args, upstream=None):
        upstream = args[0] if upstream is None else upstream
        dx = ops.transpose(ops.matmul(kernel, ops.transpose(upstream)))
        dkernel = ops.matmul(ops.transpose(x), upstream)
        return dx, dkernel

    return y, grad


@keras.saving.register_keras_serializable(package="tfface")
class Dense(layers.Dense):
    """``keras.layers.Dense`` whose input gradient does not multiply by the transposed kernel (module
    docstring): identical results, faster when the kernel is much larger than the batch. Only training
    calls take the new path, so inference graphs (exports, TFLite) hold no custom gradient; inputs of rank
    other than 2, and quantised or LoRA-adapted layers, always take Keras's own."""

    def call(self, inputs, training=None):
        if not training or len(inputs.shape) != 2 or self.quantization_mode is not None or self.lora_enabled:
            return super().call(inputs, training=training)
        # The kernel is read (and cast) here, so the custom gradient sees a tensor, not the variable.
        x = _matmul(inputs, ops.copy(ops.convert_to_tensor(self.kernel, dtype=inputs.dtype)))
        if self.bias is not None:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x
