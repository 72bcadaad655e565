"""Regularisers of D that neither paper has, each off by default and chosen by a flag.

:func:`r1_penalty` (Mescheder, Geiger & Nowozin, "Which Training Methods for GANs do actually
Converge?", ICML 2018, eq. 9): the squared gradient norm of D's score on real images,
``gamma / 2 * ||grad_x D(x)||^2``.  It makes D flat around the real data, so a small perturbation of a
real image cannot swing D's verdict, the failure that the residual method's removal generator
exploited (README, "Towards editors for real faces").

:func:`real_class_loss`: D's attribute decision on real images alone, as StarGAN's and AttGAN's
classifiers learn it (on real images only).
"""

from __future__ import annotations

from keras import ops

from tfface.losses.residual import classification_loss


def r1_penalty(gradients):
    """Per-example ``||g||^2`` of the gradient of D's score on real images (shape ``[B]``; the caller
    weighs it by gamma / 2).

    With the residual method's 3-class D, the score is ``log p_t(x)``, the log-probability D gives a
    real image's own class t (0 or 1): R1's "D is flat at the data", read for a classifier.  A penalty
    on a single real/fake logit does not exist there, and penalising all three classes' logits would
    also flatten D between the two real classes, which is the distinction the generators must learn.
    """
    g = ops.cast(gradients, "float32")
    return ops.sum(ops.reshape(ops.square(g), (ops.shape(g)[0], -1)), axis=1)


def real_class_loss(logits, labels):
    """Per-example 2-class cross-entropy of D's two *real* classes on real images: ``-log q_t(x)`` with
    ``q = softmax(logits[:, :2])`` and t = 0 (without the attribute) or 1 (with it).

    Why (measured, README "Towards editors for real faces"): inside the 3-class game D learnt the
    attribute badly. Trained alongside the generators for 3,000 steps it called 32% of real glasses-wearers
    "no glasses" even on its training images, almost all of them with clear glasses, while the same network
    trained on the real images alone recalled 0.83-0.86 of the val split's (scripts/discriminator_alone.py).
    Eq. 9's "generated" class pushes the larger real logit of a generated image down hardest: when G0's
    frames are good enough to raise p_1, that teaches D that frames are *not* glasses. This term keeps the boundary between the two real
    classes where the real images put it. It leaves the generated class out entirely, so it says nothing
    about real against generated.
    """
    return classification_loss(logits[:, :2], labels)
