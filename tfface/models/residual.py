"""Networks of the residual-image paper (Shen & Liu 2017, Table 1).

Image transformation network G (one per direction)::

    5x5 conv 64,  stride 1, batchnorm, leaky ReLU
    4x4 conv 128, stride 2, batchnorm, leaky ReLU
    4x4 conv 256, stride 2, batchnorm, leaky ReLU
    upsample x2, 3x3 conv 128, batchnorm, leaky ReLU
    upsample x2, 3x3 conv 64,  batchnorm, leaky ReLU
    4x4 conv 3                                   -> residual image r
    output x + r                                 (eq. 2)

Discriminative network D::

    4x4 conv 64, 128, 256, 512, 1024, each stride 2, batchnorm, leaky ReLU
    4x4 conv head -> 3 logits (negative real, positive real, generated)

Interpretations (the table leaves these open):

- Layer order is conv -> batchnorm -> leaky ReLU (slope 0.2), as in DCGAN,
  which the table's column order ("conv, leaky ReLU, stride, batchnorm")
  does not fix.  Upsampling is nearest-neighbour (x2) *before* the 3x3 conv.
- D's head is written "4x4 conv. 1", but D is a 3-class classifier (eq. 4):
  the head has 3 outputs.  It is a valid convolution over the final feature
  map; its kernel is min(4, map size), so 64- and 32-pixel inputs work.
- The residual is linear (no tanh) and the output x + r is not clipped
  during training (D sees the raw sum, so out-of-range pixels are
  penalised adversarially); exported models clip to the image range.
- "Third layer" of D for the perceptual loss (eq. 5) is the output of the
  third conv block (256 channels, 1/8 of the input size).
- ``width`` multiplies every channel count (1.0 = the paper); it and the
  image size exist for small runs and tests.
- With ``residual=False`` (the §6.2 ablation) the last conv is followed by
  tanh and is the whole output image.
- All weights start from N(0, 0.02) (§5); batchnorm scales from N(1, 0.02).
"""

from __future__ import annotations

import keras
from keras import layers

from tfface.models.normalization import BatchNormalization
from tfface.models.padding import ReflectionPadding2D
from tfface.models.upsampling import NearestUpsampling2x, UpsamplingConv2D

G_CHANNELS = (64, 128, 256, 128, 64)
D_CHANNELS = (64, 128, 256, 512, 1024)
PERCEPTUAL_LAYER = "block3"  # the "third layer" of D (eq. 5)


def _init():
    return keras.initializers.RandomNormal(0.0, 0.02)


def _ch(c, width):
    return max(1, int(round(c * width)))


def _bn(name, sync, leaky_relu=None):
    return BatchNormalization(
        momentum=0.9, epsilon=1e-5, gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02),
        synchronized=sync, leaky_relu=leaky_relu, name=name,
    )


def _conv(x, filters, kernel, strides, padding, **kwargs):
    """A ``"same"``-sized convolution, its border padded with ``padding`` (zeros, or reflect: a
    ``<name>_pad`` layer before a valid convolution, :mod:`tfface.models.padding`)."""
    if padding == "zeros":
        return layers.Conv2D(filters, kernel, strides, padding="same", **kwargs)(x)
    x = ReflectionPadding2D(kernel, strides, name=kwargs["name"].replace("_conv", "") + "_pad")(x)
    return layers.Conv2D(filters, kernel, strides, padding="valid", **kwargs)(x)


def _block(x, filters, kernel, strides, name, sync, upsample=False, skip=None, fused=True, padding="zeros"):
    """conv -> batch norm -> leaky ReLU; with ``upsample``, nearest x2 before the convolution and ``skip``
    (if any) concatenated after the upsampled channels: one :class:`UpsamplingConv2D` when ``fused``, else
    the layers ``<name>_up``, ``<name>_skip`` and ``<name>_conv``.  The batch norm layer ``<name>_bn`` applies
    the leaky ReLU too (its gradient then keeps less, :mod:`tfface.models.normalization`); ``<name>`` is its
    output."""
    conv_kwargs = dict(use_bias=False, kernel_initializer=_init(), name=f"{name}_conv")
    if upsample and fused:
        x = UpsamplingConv2D(filters, kernel, padding=padding, **conv_kwargs)(x if skip is None else [x, skip])
    else:
        if upsample:
            x = NearestUpsampling2x(name=f"{name}_up")(x)
            if skip is not None:
                x = layers.Concatenate(name=f"{name}_skip")([x, skip])
        x = _conv(x, filters, kernel, strides, padding, **conv_kwargs)
    x = _bn(f"{name}_bn", sync, leaky_relu=0.2)(x)
    return layers.Identity(name=name)(x)  # where the separate LeakyReLU layer was: same names, same positions


def transformation_network(image_size=128, width=1.0, residual=True, sync_batchnorm=False, zero_residual=False,
                           skips=False, fused=True, padding="zeros", name="G"):
    """G: image in [-1, 1] -> manipulated image (x + G(x) when ``residual``).

    ``zero_residual`` starts the output layer at zero, so G starts as the
    identity (r = 0 in eq. 2) instead of adding N(0, 0.02)-initialised noise.
    ``skips`` (a departure from Table 1) concatenates block1's and block2's
    features to the upsampled maps of the same size before block5's and
    block4's convolutions (U-Net style): without them the residual is decoded
    from the quarter-resolution bottleneck alone and cannot follow a thin
    structure of the input pixel by pixel, such as the frames that removing
    glasses must paint over.
    ``fused`` computes each "upsample x2, 3x3 conv" block (with its skip) as
    one :class:`UpsamplingConv2D`, the same function with the same weights
    (faster; see that module); ``fused=False`` builds the upsampling,
    concatenation and convolution as separate layers (the layout of runs
    made before it, whose checkpoints name layers by position).
    ``padding``: how every convolution pads the border, ``zeros`` (``"same"``, Table 1 does not say) or
    ``reflect`` (the map's reflection, :mod:`tfface.models.padding`: G cannot tell the border from the face).
    """
    if image_size % 4:
        raise ValueError(f"image size must be a multiple of 4, got {image_size}")
    x_in = keras.Input((image_size, image_size, 3), name="image")
    c = [_ch(c, width) for c in G_CHANNELS]
    h1 = _block(x_in, c[0], 5, 1, "block1", sync_batchnorm, padding=padding)
    h2 = _block(h1, c[1], 4, 2, "block2", sync_batchnorm, padding=padding)
    h = _block(h2, c[2], 4, 2, "block3", sync_batchnorm, padding=padding)
    h = _block(h, c[3], 3, 1, "block4", sync_batchnorm, upsample=True, skip=h2 if skips else None, fused=fused,
               padding=padding)
    h = _block(h, c[4], 3, 1, "block5", sync_batchnorm, upsample=True, skip=h1 if skips else None, fused=fused,
               padding=padding)
    # Under mixed precision the output convolution computes in the low precision like every other layer, and the
    # float32 layers after it (the sum x + r, or tanh) take its output in float32.
    init = "zeros" if (zero_residual and residual) else _init()
    out = _conv(h, 3, 4, 1, padding, kernel_initializer=init, name="output_conv")
    if residual:
        out = layers.Add(dtype="float32", name="x_plus_residual")([layers.Activation("linear", dtype="float32", name="input_f32")(x_in), out])
    else:
        out = layers.Activation("tanh", dtype="float32", name="whole_image")(out)
    return keras.Model(x_in, out, name=name)


def _sn_block(x, filters, kernel, strides, name):
    conv = layers.Conv2D(filters, kernel, strides, padding="same", kernel_initializer=_init(), name=f"{name}_conv")
    x = layers.SpectralNormalization(conv, name=f"{name}_sn")(x)
    return layers.LeakyReLU(0.2, name=name)(x)


def discriminator(image_size=128, width=1.0, num_classes=3, sync_batchnorm=False, norm="batch", name="D"):
    """D: image -> (class logits [B, num_classes], third-layer features).

    ``norm="batch"`` is Table 1; ``norm="spectral"`` replaces batchnorm with
    spectral normalisation of every conv (Miyato et al. 2018), a common
    stabiliser that keeps D from overpowering the generators.
    """
    if norm not in ("batch", "spectral"):
        raise ValueError(f"norm must be batch or spectral, got {norm!r}")
    x_in = keras.Input((image_size, image_size, 3), name="image")
    h, features = x_in, None
    for i, c in enumerate(D_CHANNELS, start=1):
        if norm == "batch":
            h = _block(h, _ch(c, width), 4, 2, f"block{i}", sync_batchnorm)
        else:
            h = _sn_block(h, _ch(c, width), 4, 2, f"block{i}")
        if f"block{i}" == PERCEPTUAL_LAYER:
            features = h
    k = min(4, h.shape[1])
    head = layers.Conv2D(num_classes, k, padding="valid", kernel_initializer=_init(), name="head")
    if norm == "spectral":
        head = layers.SpectralNormalization(head, name="head_sn")
    logits = head(h)
    logits = layers.Flatten(name="flat")(logits)
    logits = layers.Activation("linear", dtype="float32", name="logits")(logits)
    features = layers.Activation("linear", dtype="float32", name="features")(features)
    return keras.Model(x_in, [logits, features], name=name)
