"""Losses of the residual-image paper (Shen & Liu 2017, §3), one function per equation.

Every function returns a **per-example** loss of shape ``[B]``; the training
step averages over the *global* batch (see
:func:`tfface.training.distribution.global_mean`), which keeps gradients
right under ``tf.distribute``.

Class labels of D (§3.3): 0 = real image without the attribute (x0),
1 = real image with it (x1), 2 = generated.  G0 maps domain 0 to 1 (adds the
attribute), G1 maps 1 to 0 (removes it).

Interpretation of D(.) in eqs. 6 and 7: the paper writes them with a binary
D(.) although D is a 3-class softmax.  We read D(y) as the probability that
y is a *real image of the target class* and 1 - D(y) as that of the *other
real class*, i.e. each term is -log p_t with t the real class the generated
image should pass for:

    eq. 6   i=0: -log p_1(G0(x0))         i=1: -log p_0(G1(x1))
    eq. 7   i=0: -log p_0(G1(G0(x0)))     i=1: -log p_1(G0(G1(x1)))

Reading 1 - D as "p_0 + p_2" instead would reward G1 for producing
obviously generated images (class 2), which defeats the GAN.

Norms: ||.||_1 in eqs. 3 and 5 is a sum over the image (or feature map),
per example.  The paper's weights alpha = 5e-4 and beta = 0.1 alpha only
make sense with sums (with means the terms would vanish next to the
adversarial ones), so sums it is; at other image sizes the sums scale with
the pixel count.
"""

from __future__ import annotations

from keras import ops

NEGATIVE, POSITIVE, GENERATED = 0, 1, 2


def _per_example_sum(x):
    return ops.sum(ops.reshape(x, (ops.shape(x)[0], -1)), axis=1)


def residual_sparsity_loss(residual, weights=None):
    """Eq. 3, l_pix(r) = ||r||_1: L1 norm of the residual image, summed per example.

    ``weights`` (not in the paper; ``--outside_weight``): a per-pixel map [H, W, 1] multiplying |r| before
    the sum, e.g. 1 inside a local attribute's face region and more outside it.  The paper counts on the
    uniform L1 alone to keep a local edit local (§3.2); the weighted sum says where "local" is.  None is
    the paper's uniform norm.
    """
    magnitude = ops.abs(ops.cast(residual, "float32"))
    if weights is not None:
        magnitude = magnitude * weights
    return _per_example_sum(magnitude)


def classification_loss(logits, labels):
    """Eq. 4, l_cls(t, p) = -log p_t: softmax cross-entropy of D's 3-class logits.

    ``labels`` are class indices (int, shape [B]).  This is also D's whole
    loss (eq. 9).
    """
    logits = ops.cast(logits, "float32")
    return ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)


def perceptual_loss(features_real, features_generated):
    """Eq. 5, l_per(x, x~) = ||phi(x) - phi(x~)||_1 on D's third-layer activations, summed per example."""
    return _per_example_sum(ops.abs(ops.cast(features_real, "float32") - ops.cast(features_generated, "float32")))


def _target_class_loss(logits, target_class):
    labels = ops.full((ops.shape(logits)[0],), target_class, dtype="int32")
    return classification_loss(logits, labels)


def adversarial_loss(logits_of_generated, target_class):
    """Eq. 6, l_GAN: -log p_t(G_i(x_i)), with t = 1 for G0's outputs and t = 0 for G1's.

    See the module docstring for why D(.) is read as the target real class.
    """
    return _target_class_loss(logits_of_generated, target_class)


def dual_loss(logits_of_dual, target_class):
    """Eq. 7, l_dual: -log p_t(G_{1-i}(G_i(x_i))), t = i: after both manipulations an image
    should pass for a real image of its original class (t = 0 for x0, t = 1 for x1)."""
    return _target_class_loss(logits_of_dual, target_class)


def generator_loss(gan, dual, pix, per, alpha, beta):
    """Eq. 8, l_G = l_GAN + l_dual + alpha * l_pix + beta * l_per (per example)."""
    return gan + dual + alpha * pix + beta * per
