"""Analytic forward FLOPs of a Keras model: the numerator of the benchmarks' GFLOP/s and shares of peak."""

from __future__ import annotations

from keras import layers


def forward_flops(model):
    """Forward FLOPs (2 x multiply-adds) per image of a model's convolutions, transposed convolutions and
    dense layers, counting the layer inside a wrapper (e.g. ``SpectralNormalization``) with the wrapper's shapes.
    Normalisation, activations and additions are left out."""
    total = 0
    for outer in model.layers:
        layer = outer
        while isinstance(layer, layers.Wrapper):
            layer = layer.layer
        if isinstance(layer, layers.Conv2DTranspose):
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
