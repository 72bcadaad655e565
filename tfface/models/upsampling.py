"""Nearest-neighbour x2 upsampling followed by a k x k convolution, computed without the upsampled map.

The residual paper's G decodes with "upsample x2, 3x3 conv" (Table 1).  After nearest-neighbour
upsampling every 2 x 2 block of the map holds one input pixel four times, so each of the four output
pixel *phases* (row even or odd, column even or odd) is a convolution of the small input with a smaller
kernel: for a 3 x 3 kernel K, an even output row sees input rows i-1 (tap K[0]) and i (K[1] + K[2]), an odd
one rows i (K[0] + K[1]) and i+1 (K[2]); columns likewise.  :class:`UpsamplingConv2D` computes all four
phases as one 2 x 2 convolution with 4 x the filters over the input padded by one pixel (each phase is a
window of it shifted by its offset) and interleaves them (``depth_to_space``, a "sub-pixel" convolution).
It computes the same function as ``UpSampling2D(2)`` then ``Conv2D(k, padding="same")`` (to float rounding;
tested, values and gradients) with the same kernel variable, so weights load either way, but:

- 16 instead of 36 multiply-adds per output value for k = 3 (9 instead of 25 for k = 5): at 128 px and
  width 1 the two upsampling blocks are two thirds of G's convolution work;
- the 4x larger upsampled map is never built, so training does not keep it for the kernel's gradient.

It also adds fixed costs (building the phase kernel, cutting and interleaving the phases), so with few
input channels upsampling then convolving is faster; :func:`phases_pay` chooses (measured on this CPU with
``benchmarks/upsampling.py``: a training pass of G at 128 px and width 1 1.26-1.29x faster, at 64 px
1.38x at width 0.5 and 1.13x at width 0.25; inference 1.12-1.39x faster).

``skip`` (U-Net skips, ``--g_skips``): the layer also takes a map at the output size whose channels come
after the upsampled ones, as ``Concatenate()([UpSampling2D(2)(x), skip])`` then the convolution would see
them; that part of the kernel is an ordinary convolution of ``skip``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from tfface.models.padding import PADDINGS, reflect


@keras.saving.register_keras_serializable(package="tfface")
class NearestUpsampling2x(layers.Layer):
    """Nearest-neighbour x2 upsampling as reshape, broadcast and reshape.

    Same values as ``UpSampling2D(2)``, but with static shapes (UpSampling2D's
    ``repeat`` loses them and TFLite then cannot convert the next conv) and
    plain ops in the gradient (XLA on CPU has no kernel for the gradient of
    ``Resizing``'s resize op).  The gradient, the sum over each 2 x 2 block, is
    4 x average pooling: the broadcast's own gradient (a 6-D reduction) took a
    quarter of the main job's train step on CPU (profiled), pooling is one fast op.
    """

    def call(self, x):
        return _nearest_upsampling_2x(x)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, 2 * h, 2 * w, c)


@ops.custom_gradient
def _nearest_upsampling_2x(x):
    _, h, w, c = x.shape
    y = ops.reshape(ops.reshape(x, (-1, h, 1, w, 1, c)) * ops.ones((1, 1, 2, 1, 2, 1), dtype=x.dtype), (-1, 2 * h, 2 * w, c))

    def grad(*args, upstream=None):
        upstream = args[0] if upstream is None else upstream
        return ops.average_pool(upstream, 2, 2) * ops.cast(4, upstream.dtype)  # each 2 x 2 block's sum

    return y, grad


def _phase_windows(kernel_size):
    """For a k x k kernel (odd k): per phase a in {0, 1} (even or odd output row), the input offset each tap
    reads, and the first offset of the phase's window; all windows have the same size m = k // 2 + 1."""
    c = kernel_size // 2
    reads = [[(a + d - c) // 2 for d in range(kernel_size)] for a in (0, 1)]
    return reads, [min(r) for r in reads], kernel_size // 2 + 1


def _phase_taps(kernel_size):
    """The constant [4 m m, k k] 0/1 matrix whose row (phase 2a + b, window row, window column) sums the kernel
    taps (row-major over k x k) that this phase reads at that window position; and m."""
    reads, starts, m = _phase_windows(kernel_size)
    select = np.zeros((4, m, m, kernel_size, kernel_size), np.float32)
    for a in (0, 1):
        for b in (0, 1):
            for dy in range(kernel_size):
                for dx in range(kernel_size):
                    select[2 * a + b, reads[a][dy] - starts[a], reads[b][dx] - starts[b], dy, dx] = 1.0
    return select.reshape(4 * m * m, kernel_size * kernel_size), m


def _cut_phases(y, offsets, h, w):
    """[B, h, w, 4 f] from the phase convolution's output [B, h + m - 1, w + m - 1, 4 f]: phase (a, b), the
    channels (2a + b) f ... (2a + b + 1) f, cut at rows from ``offsets[a]`` and columns from ``offsets[b]``.

    Its gradient pads each phase's quarter of the channels back into place and concatenates them.  Autodiff
    of the four slices (``ops.slice``: a Slice's gradient is a Pad, a strided slice's a slow StridedSliceGrad)
    pads each into the full [B, h + m - 1, w + m - 1, 4 f] map and adds the four: 4 x the bytes written, and
    at 128 px the four full maps of a block live at once (the train step's peak, profiled)."""
    f = y.shape[-1] // 4

    def cut(y):
        return ops.concatenate([ops.slice(y, (0, offsets[a], offsets[b], (2 * a + b) * f), (ops.shape(y)[0], h, w, f))
                                for a in (0, 1) for b in (0, 1)], axis=-1)

    @ops.custom_gradient
    def cut_phases(y):
        rows, cols = ops.shape(y)[1], ops.shape(y)[2]

        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            quarters = ops.split(upstream, 4, axis=-1)
            return ops.concatenate([ops.pad(quarters[2 * a + b], [[0, 0], [offsets[a], rows - h - offsets[a]],
                                                                  [offsets[b], cols - w - offsets[b]], [0, 0]])
                                    for a in (0, 1) for b in (0, 1)], axis=-1)

        return cut(y), grad

    return cut_phases(y)


PHASES_FROM_CHANNELS = 32


def phases_pay(upsampled_channels):
    """Whether the phase convolution is faster than upsampling then convolving, on a CPU, for this many
    upsampled input channels: it saves multiply-adds in proportion to the input channels but adds fixed
    costs (building the phase kernel, cutting and interleaving the four phases), so it pays from
    ``PHASES_FROM_CHANNELS`` input channels.  Measured on G (``benchmarks/upsampling.py``, this project's
    2-core CPU, nothing else running, 2026-12-06, since the phase kernel and the cut have cheap gradients):
    with every block on the phase path, a training pass at 64 px is 1.38x faster at width 0.5 (128 and 64
    input channels), 1.13x at width 0.25 (64 and 32; 1.06x with skips), and 0.95x at width 0.125 (32 and 16).
    Before that change the threshold was 128 channels (at 128 px and width 1, 1.26-1.29x)."""
    return upsampled_channels >= PHASES_FROM_CHANNELS


@keras.saving.register_keras_serializable(package="tfface")
class UpsamplingConv2D(layers.Layer):
    """``UpSampling2D(2, "nearest")`` then ``Conv2D(filters, kernel_size, padding="same")`` (odd kernel,
    stride 1), with the kernel variable of that convolution.  Call on ``x`` or on ``[x, skip]``.

    ``phases``: compute it as the phase convolution (True), or as the upsampling and the convolution
    (False: fewer, larger ops, faster when the channels are few; see :func:`phases_pay`); None decides
    by :func:`phases_pay` when the layer is built.

    ``padding``: ``zeros`` (``"same"``) or ``reflect`` (the upsampled map and the skip padded with their
    reflection, :mod:`tfface.models.padding`).  Reflecting the upsampled map by one pixel is repeating the
    input's edge pixel, so the phase path pads the input ``symmetric``; that holds for 3 x 3 kernels only,
    and other kernels take the upsampling path.
    """

    def __init__(self, filters, kernel_size=3, use_bias=True, phases=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", padding="zeros", **kwargs):
        super().__init__(**kwargs)
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
        if padding == "reflect" and phases and kernel_size != 3:
            raise ValueError(f"the phase path reflects 3 x 3 kernels only, got kernel_size {kernel_size}")
        self.filters, self.kernel_size, self.use_bias = int(filters), int(kernel_size), bool(use_bias)
        self.phases, self.padding = phases, padding
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    @staticmethod
    def _shapes(input_shape):
        nested = isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple))
        return list(input_shape) if nested else [input_shape]

    def build(self, input_shape):
        shapes = self._shapes(input_shape)
        self.upsampled_channels = int(shapes[0][-1])
        channels = sum(int(s[-1]) for s in shapes)
        k = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(k, k, channels, self.filters), initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer) if self.use_bias else None
        self.use_phases = phases_pay(self.upsampled_channels) if self.phases is None else bool(self.phases)
        if self.padding == "reflect" and self.kernel_size != 3:
            self.use_phases = False

    def phase_kernel(self, kernel):
        """[m, m, C, 4 F]: the four phases' kernels over their windows, in depth_to_space's (a, b) order.

        One product with the constant 0/1 matrix of :func:`_phase_taps`, so the kernel's gradient is one
        product too (cutting each tap out of the kernel cost one full-size StridedSliceGrad per tap)."""
        k = self.kernel_size
        select, m = _phase_taps(k)
        c, f = kernel.shape[2], kernel.shape[3]
        phases = ops.matmul(ops.convert_to_tensor(select, dtype=kernel.dtype), ops.reshape(kernel, (k * k, c * f)))
        return ops.reshape(ops.transpose(ops.reshape(phases, (4, m, m, c, f)), (1, 2, 3, 0, 4)), (m, m, c, 4 * f))

    def call(self, inputs):
        x, skip = (inputs[0], inputs[1]) if isinstance(inputs, (list, tuple)) else (inputs, None)
        kernel = ops.cast(self.kernel, self.compute_dtype)
        up_kernel, skip_kernel = kernel[:, :, : self.upsampled_channels], kernel[:, :, self.upsampled_channels:]
        k, reflecting = self.kernel_size, self.padding == "reflect"
        if not self.use_phases:
            up = _nearest_upsampling_2x(x)
            y = ops.conv(reflect(up, k), up_kernel, padding="valid") if reflecting else ops.conv(up, up_kernel, padding="same")
        else:
            _, starts, m = _phase_windows(self.kernel_size)
            lo, hi = -min(starts), max(starts) + m - 1
            _, h, w, _ = ops.shape(x)
            # One m x m convolution gives every phase at every window position; phase a's output row i
            # is at position i + starts[a] + lo, so each phase is a shifted window of it.
            padded = ops.pad(x, [[0, 0], [lo, hi], [lo, hi], [0, 0]], mode="symmetric" if reflecting else "constant")
            y = ops.conv(padded, self.phase_kernel(up_kernel), padding="valid")
            y = ops.depth_to_space(_cut_phases(y, [s + lo for s in starts], h, w), 2)  # out[2i + a, 2j + b] = phase (a, b)[i, j]
        if skip is not None:
            y = y + (ops.conv(reflect(skip, k), skip_kernel, padding="valid") if reflecting
                     else ops.conv(skip, skip_kernel, padding="same"))
        if self.use_bias:
            y = y + ops.cast(self.bias, self.compute_dtype)
        return y

    def compute_output_shape(self, input_shape):
        b, h, w, _ = self._shapes(input_shape)[0]
        return (b, None if h is None else 2 * h, None if w is None else 2 * w, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size, "use_bias": self.use_bias,
                "phases": self.phases, "padding": self.padding, "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}
