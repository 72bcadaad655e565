"""Analytic forward FLOPs of a Keras model: the numerator of the benchmarks' GFLOP/s and shares of peak."""

from __future__ import annotations

from keras import layers


def forward_flops(model, executed=False):
    """Forward FLOPs (2 x multiply-adds) per image of a model's convolutions, transposed convolutions and
    dense layers, counting the layer inside a wrapper (e.g. ``SpectralNormalization``) with the wrapper's shapes.
    Normalisation, activations and additions are left out.

    An ``UpsamplingConv2D`` (:mod:`tfface.models.upsampling`) counts as the network is written, a convolution of the upsampled map (the
    paper's cost: the numerator of every GFLOP/s and share of peak), or with ``executed`` as the multiply-adds
    it runs (its phase convolution needs 16 of the 36 for a 3 x 3 kernel)."""
    total = 0
    for outer in model.layers:
        layer = outer
        while isinstance(layer, layers.Wrapper):
            layer = layer.layer
        if hasattr(layer, "upsampled_channels"):  # an UpsamplingConv2D (duck-typed: benchmarks load this file by path)
            k, _, cin, cout = layer.kernel.shape
            _, h, w, _ = outer.output.shape
            skip = cin - layer.upsampled_channels
            if executed and layer.use_phases:
                m = k // 2 + 1  # one m x m convolution with 4 outputs per filter over the padded input
                total += 2 * m * m * layer.upsampled_channels * 4 * cout * (h // 2 + m - 1) * (w // 2 + m - 1)
                total += 2 * k * k * skip * cout * h * w
            else:
                total += 2 * k * k * cin * cout * h * w
        elif isinstance(layer, layers.Conv2DTranspose):
            # Every input pixel meets the whole kernel (k, k, out, in): k^2 * cin * cout multiply-adds each.
            kh, kw, cout, cin = layer.kernel.shape
            _, h, w, _ = outer.input.shape
            total += 2 * kh * kw * cin * cout * h * w
        elif isinstance(layer, layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            _, h, w, _ = outer.output.shape
            total += 2 * kh * kw * cin * cout * h * w
        elif isinstance(layer, layers.Dense):
            total += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
    return total
