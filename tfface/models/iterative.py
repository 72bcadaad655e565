"""Networks of the iterative GAN ("Two Birds with One Stone", §4 and Fig. 3).

Generator G(z, c)::

    concat(z, c) -> FC -> reshape [s/16, s/16, 512]
    5x5 deconv 256, 128, 64 (stride 2, batchnorm, ReLU), 5x5 deconv 3 (stride 2, tanh)

Discriminator D (with the classifier C on its shared layer)::

    5x5 conv 64, 128, 256, 512 (stride 2, leaky ReLU; batchnorm from the 2nd on) -> h1..h4
    flatten(h4) -> FC 1             -> s (real/fake logit; sigmoid gives the probability)
    flatten(h4) -> FC 1024, leaky ReLU -> the shared layer      (shared_layer="fc", §3.3.1)
    or  flatten(h4) itself                                       (shared_layer="flatten", §4)

    C: shared -> FC 128, batchnorm, ReLU -> FC n_labels, sigmoid -> c~
       shared -> FC z_dim, tanh -> z~                       (z_head="shared", Fig. 3)
       or  FC 128, batchnorm, ReLU -> FC z_dim, tanh -> z~  (z_head="hidden")
       or  flatten(h4) -> FC z_dim, tanh -> z~              (z_head="conv": D hands C flatten(h4) beside
                                                             the shared layer, which then serves the labels only)

Interpretations:

- The paper reshapes the FC output to 5x5x512 yet lists 16->32->64->128 after
  four stride-2 deconvolutions (and an FC of "8584 neurons", which matches
  neither).  Four stride-2 layers reaching s pixels must start from s/16, so
  the FC has (s/16)^2 * 512 units: 8x8x512 for 128 px, 4x4x512 for 64 px.
  D mirrors this and ends at s/16 x s/16 x 512 (not 5x5x512).
- z and c enter G concatenated (ACGAN's conditioning).
- D's hidden maps h1..h4 are returned for the perceptual loss.
- §3.3.1 links h4 to "two different full connected layers" giving "a 1024-dimension share layer" and the
  source scalar; §4 says "we flat the tensor and pass it to classifier as input" and adds "an extra full
  connect layer" only for the source.  ``shared_layer`` selects either reading; with ``flatten`` C's first
  FC (128 units) reads the flattened h4 directly, the "squash ... into 128 dimensions" of §4.
- Batchnorm/activation placement follows DCGAN, on which the paper builds.
- ``width`` multiplies channel counts and the FC sizes (1.0 = the paper).

G's FC and D's shared layer, whose kernels are far larger than a batch, are :class:`tfface.models.dense.Dense`:
Keras's layer with an input gradient that does not read the kernel transposed (the same values, faster).
"""

from __future__ import annotations

import keras
from keras import layers

from tfface.models.dense import Dense
from tfface.models.normalization import BatchNormalization

G_CHANNELS = (512, 256, 128, 64)
D_CHANNELS = (64, 128, 256, 512)
SHARED_UNITS = 1024
SHARED_LAYERS = ("fc", "flatten")
C_HIDDEN = 128


def _init():
    return keras.initializers.RandomNormal(0.0, 0.02)


def _ch(c, width):
    return max(1, int(round(c * width)))


def _bn(name, sync, leaky_relu=None):
    return BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=sync, leaky_relu=leaky_relu,
                              gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02), name=name)


def _upsample(h, filters, upsample, name, **kwargs):
    """x2 in space: a 5x5 stride-2 transposed convolution (§4); a 4x4 one (``deconv4``: the kernel size divisible
    by the stride, so each output pixel of a 2x2 block receives 2x2 taps, where 5x5 gives the four of them 3x3,
    3x2, 2x3 and 2x2 taps: the uneven overlap behind the DCGAN checkerboard, Odena et al. 2016); or
    nearest-neighbour x2 then a 5x5 convolution (``resize``: every output pixel sees the same taps, so no
    checkerboard at all)."""
    if upsample in ("deconv", "deconv4"):
        k = 5 if upsample == "deconv" else 4
        return layers.Conv2DTranspose(filters, k, 2, padding="same", kernel_initializer=_init(), name=name, **kwargs)(h)
    h = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_up")(h)
    return layers.Conv2D(filters, 5, padding="same", kernel_initializer=_init(), name=name, **kwargs)(h)


def generator(image_size=128, z_dim=100, n_labels=40, width=1.0, sync_batchnorm=False, upsample="deconv", name="G"):
    """G(z, c) -> image in [-1, 1]; ``upsample`` is ``deconv`` (§4), ``deconv4`` or ``resize`` (see ``_upsample``)."""
    if image_size % 16:
        raise ValueError(f"image size must be a multiple of 16, got {image_size}")
    s0 = image_size // 16
    z = keras.Input((z_dim,), name="z")
    c = keras.Input((n_labels,), name="c")
    ch = [_ch(v, width) for v in G_CHANNELS]
    h = layers.Concatenate(name="zc")([z, c])
    h = Dense(s0 * s0 * ch[0], use_bias=False, kernel_initializer=_init(), name="project")(h)
    h = layers.Reshape((s0, s0, ch[0]), name="reshape")(h)
    h = layers.ReLU(name="project_relu")(_bn("project_bn", sync_batchnorm)(h))
    for i, filters in enumerate(ch[1:], start=1):
        h = _upsample(h, filters, upsample, f"deconv{i}", use_bias=False)
        h = layers.ReLU(name=f"deconv{i}_relu")(_bn(f"deconv{i}_bn", sync_batchnorm)(h))
    h = _upsample(h, 3, upsample, "deconv4", dtype="float32")
    out = layers.Activation("tanh", dtype="float32", name="image")(h)
    return keras.Model([z, c], out, name=name)


def discriminator(image_size=128, width=1.0, sync_batchnorm=False, shared_layer="fc", with_convolution=False,
                  name="D"):
    """D(x) -> (source logit [B,1], shared layer [B,1024w] or flatten(h4), [h1, h2, h3, h4]).

    ``with_convolution``: the second output is concat(shared layer, flatten(h4)), what C reads with
    ``z_head="conv"`` (:func:`classifier` splits it); nothing changes with ``shared_layer="flatten"``.
    """
    if shared_layer not in SHARED_LAYERS:
        raise ValueError(f"shared_layer must be one of {SHARED_LAYERS}, got {shared_layer!r}")
    x = keras.Input((image_size, image_size, 3), name="image")
    h, hidden = x, []
    for i, filters in enumerate(D_CHANNELS, start=1):
        h = layers.Conv2D(_ch(filters, width), 5, 2, padding="same", use_bias=i == 1, kernel_initializer=_init(), name=f"conv{i}")(h)
        if i > 1:  # the batch norm applies the leaky ReLU too (its gradient keeps less: models.normalization)
            h = layers.Identity(name=f"h{i}")(_bn(f"conv{i}_bn", sync_batchnorm, leaky_relu=0.2)(h))
        else:
            h = layers.LeakyReLU(0.2, name=f"h{i}")(h)
        hidden.append(layers.Activation("linear", dtype="float32", name=f"h{i}_f32")(h))
    flat = layers.Flatten(name="flatten")(h)
    source = layers.Dense(1, kernel_initializer=_init(), dtype="float32", name="source")(flat)
    if shared_layer == "flatten":
        return keras.Model(x, [source, flat, hidden], name=name)
    shared = Dense(_ch(SHARED_UNITS, width), kernel_initializer=_init(), name="shared")(flat)
    shared = layers.LeakyReLU(0.2, name="shared_act")(shared)
    if with_convolution:
        shared = layers.Concatenate(name="shared_and_convolution")([shared, flat])
    return keras.Model(x, [source, shared, hidden], name=name)


Z_HEADS = ("shared", "hidden", "conv")


def classifier(shared_units, z_dim=100, n_labels=40, width=1.0, sync_batchnorm=False, z_head="hidden",
               convolution_units=0, name="C"):
    """C(shared) -> (z~ in (-1, 1), label logits).  Sigmoid of the logits gives c~.

    ``z_head``: ``shared`` reads z~ with one FC from the shared layer, as Fig. 3 draws it (the FC-128/BN/ReLU
    layer feeds only the labels); ``hidden`` reads it from that layer (128 * width units: 32 at width 0.25,
    fewer than z's 100 dimensions); ``conv`` reads it with one FC from the flattened last convolution that
    D hands over after the shared layer (``convolution_units`` values, D's ``with_convolution``), so the shared
    layer serves the labels alone (with ``convolution_units`` 0 it reads the shared layer, as ``shared``).
    """
    if z_head not in Z_HEADS:
        raise ValueError(f"z_head must be one of {Z_HEADS}, got {z_head!r}")
    inp = keras.Input((shared_units + convolution_units,), name="shared")
    s, conv = (inp[:, :shared_units], inp[:, shared_units:]) if convolution_units else (inp, inp)
    h = layers.Dense(_ch(C_HIDDEN, width), use_bias=False, kernel_initializer=_init(), name="fc")(s)
    h = layers.ReLU(name="fc_relu")(_bn("fc_bn", sync_batchnorm)(h))
    z = layers.Dense(z_dim, activation="tanh", kernel_initializer=_init(), dtype="float32",
                     name="z")({"shared": s, "hidden": h, "conv": conv}[z_head])
    c = layers.Dense(n_labels, kernel_initializer=_init(), dtype="float32", name="c_logits")(h)
    return keras.Model(inp, [z, c], name=name)
