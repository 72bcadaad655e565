"""Regularisers of D that neither paper has, each off by default and chosen by a flag.

:func:`r1_penalty` (Mescheder, Geiger & Nowozin, "Which Training Methods for GANs do actually
Converge?", ICML 2018, eq. 9): the squared gradient norm of D's score on real images,
``gamma / 2 * ||grad_x D(x)||^2``.  It makes D flat around the real data, so a small perturbation of a
real image cannot swing D's verdict, the failure that the residual method's removal generator
exploited (README, "Towards editors for real faces").
"""

from __future__ import annotations

from keras import ops


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
