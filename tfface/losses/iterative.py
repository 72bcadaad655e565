"""Losses of the iterative GAN ("Two Birds with One Stone", §3), one function each.

The objective is eq. (1): min_G max_{D,C} L_ACGAN(G, D, C) + L_inte(G, D, C),
with L_ACGAN = L_adv + L_label (§3.2) and
L_inte = lambda1 L_per + lambda2 L_pix + lambda3 L_z (§3.3), lambda = (2, 0.5, 1).
Only eq. (1) is numbered in the paper; the functions cite sections.

Every function returns a per-example loss ``[B]``; the train step reduces
with the global batch size.

Interpretations:

- L_adv (§3.2.1) is written in the minimax form.  D minimises the binary
  cross-entropy of real -> 1, fake -> 0; G minimises the non-saturating
  -log D(G(z, c)) (the form ACGAN and DCGAN implementations use, since
  log(1 - D(G)) has no gradient when D wins).
- L_label (§3.2.2) is printed as "E[log C(D(x))]" with a garbled expression
  for c~; with n independent sigmoid outputs its natural reading is the
  binary cross-entropy between c~ and the labels, averaged over the n labels.
- ||.|| in L_per, L_pix and L_z is not specified; we use the mean absolute
  difference (per element), which keeps the paper's lambdas on the same
  scale as the cross-entropies whatever the image size.  L_per averages the
  layers h1..h4 of D with equal weights alpha_i = 1/4 (§2.4's form).
"""

from __future__ import annotations

from keras import ops


def _f32(x):
    return ops.cast(x, "float32")


def _mean_per_example(x):
    x = _f32(x)
    return ops.mean(ops.reshape(x, (ops.shape(x)[0], -1)), axis=1)


def _bce_logits(logits, targets):
    logits = _f32(logits)
    targets = ops.cast(targets, "float32")
    return ops.binary_crossentropy(targets, logits, from_logits=True)


def adversarial_discriminator_loss(real_logits, fake_logits):
    """§3.2.1, L_adv for D: -log D(x_real) - log(1 - D(G(z, c))), per example."""
    real = _bce_logits(real_logits, ops.ones_like(real_logits))
    fake = _bce_logits(fake_logits, ops.zeros_like(fake_logits))
    return _mean_per_example(real) + _mean_per_example(fake)


def adversarial_generator_loss(fake_logits):
    """§3.2.1, L_adv for G, non-saturating: -log D(G(z, c)), per example."""
    return _mean_per_example(_bce_logits(fake_logits, ops.ones_like(fake_logits)))


def label_loss(label_logits, labels):
    """§3.2.2, L_label: binary cross-entropy of C's n sigmoid outputs against the labels, mean over labels."""
    return _mean_per_example(_bce_logits(label_logits, labels))


def label_sum_loss(label_logits, labels):
    """§3.2.2, L_label = E[log C(D(x))] read literally: C(D(x)) is the probability of the whole label vector,
    a product of n independent sigmoids, so its log is the *sum* of the n per-label terms (n times
    :func:`label_loss`; the paper does not print a reduction).  Against the adversarial loss this weighs the
    labels n times more."""
    x = _bce_logits(label_logits, labels)
    return ops.sum(ops.reshape(x, (ops.shape(x)[0], -1)), axis=1)


LABEL_LOSSES = {"mean": label_loss, "sum": label_sum_loss}


def perceptual_loss(hidden_real, hidden_rebuilt, weights=None):
    """§3.3.2 (with §2.4's layer weights), L_per = sum_i alpha_i mean|h_i(x_rebuilt) - h_i(x_real)|.

    ``hidden_*`` are lists of D's feature maps; ``weights`` default to 1/len.
    """
    n = len(hidden_real)
    weights = [1.0 / n] * n if weights is None else list(weights)
    total = 0.0
    for w, a, b in zip(weights, hidden_real, hidden_rebuilt):
        total = total + w * _mean_per_example(ops.abs(_f32(a) - _f32(b)))
    return total


def pixel_loss(x_real, x_rebuilt):
    """§3.3.1, L_pix = mean|x_real - x_rebuilt| with x_rebuilt = G(z~, c~), per example."""
    return _mean_per_example(ops.abs(_f32(x_real) - _f32(x_rebuilt)))


def latent_code_loss(z, z_recovered):
    """§3.3.3, L_z = mean|z~ - z| with z~ recovered by C from G(z, c), per example."""
    return _mean_per_example(ops.abs(_f32(z_recovered) - _f32(z)))


def latent_code_norm_loss(z, z_recovered):
    """§3.3.3 with ||.|| read as printed, the Euclidean norm: L_z = ||z~ - z||_2 per example.

    The per-element mean (:func:`latent_code_loss`) weighs z's 100 dimensions together like one pixel
    term, and D's trunk, shaped by the adversarial and label losses, then keeps none of z (README).  The
    norm is sqrt(z_dim) times larger at a constant guess (5.8 vs 0.5 for z ~ U(-1, 1)^100) and its gradient
    has unit length whatever the error, so L_z keeps its pull as z~ approaches z.
    """
    d = _f32(z_recovered) - _f32(z)
    return ops.sqrt(ops.sum(ops.square(d), axis=-1) + 1e-8)


LATENT_CODE_LOSSES = {"mean": latent_code_loss, "norm": latent_code_norm_loss}


def change_sparsity_loss(x_edit, x_rebuilt):
    """Not in this paper: the L1 sparsity of the residual-image paper's eq. (3), ||r||_1, applied to the change a
    label flip makes, r = G(z~, c') - G(z~, c~); mean |r| per example (as :func:`pixel_loss`, so its weight is
    on the scale of lambda_pix).  A transformation that also redraws the rest of the face is penalised."""
    return _mean_per_example(ops.abs(_f32(x_edit) - _f32(x_rebuilt)))


def identity_loss(embedding_real, embedding_rebuilt):
    """Not in this paper: 1 - cos(E(x_real), E(x_rebuilt)) per example, for unit embeddings E of a pretrained
    face recogniser (:mod:`tfface.models.face_recognizer`), the identity loss of encoder-decoder face models
    such as pSp (Richardson et al. 2021).  §3.3's L_per and L_pix compare D's features and pixels, which a
    64 px rebuild can match closely while a face recogniser still calls it another person (README, *What the
    identity target asks*).  0 for the same direction, 1 for orthogonal embeddings."""
    return 1.0 - ops.sum(_f32(embedding_real) * _f32(embedding_rebuilt), axis=-1)


def feature_matching_loss(maps_real, maps_rebuilt):
    """Not in this paper: the distance of two faces in a pretrained face recogniser's intermediate maps
    (:meth:`tfface.models.face_recognizer.FaceRecognizer.maps`), as LPIPS (Zhang et al. 2018) measures it
    without its learnt channel weights: at each position the channel vector is scaled to unit length, and
    the squared distance of the two is summed over channels, averaged over positions and summed over the
    maps. Where :func:`identity_loss` compares the one embedding the recogniser ends in, this compares
    what its layers see on the way, which leaves a rebuild less room to satisfy it with features of its own
    (README, *The rebuild misses the person on faces it trained on as well*). Per example:
    0 for maps equal up to a positive scale at each position, at most 4 per map."""
    total = 0.0
    for real, rebuilt in zip(maps_real, maps_rebuilt):
        real, rebuilt = _f32(real), _f32(rebuilt)
        real = real / (ops.sqrt(ops.sum(ops.square(real), axis=-1, keepdims=True)) + 1e-6)
        rebuilt = rebuilt / (ops.sqrt(ops.sum(ops.square(rebuilt), axis=-1, keepdims=True)) + 1e-6)
        total = total + ops.mean(ops.sum(ops.square(real - rebuilt), axis=-1), axis=(1, 2))
    return total


def integrated_loss(per, pix, z, lambdas=(2.0, 0.5, 1.0)):
    """§3.3, L_inte = lambda1 L_per + lambda2 L_pix + lambda3 L_z (paper: lambda = (2.0, 0.5, 1.0))."""
    l1, l2, l3 = lambdas
    return l1 * per + l2 * pix + l3 * z
