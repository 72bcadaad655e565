"""The residual-image GAN (Shen & Liu 2017) as a Keras model with a custom train_step."""

from __future__ import annotations

import tensorflow as tf
from keras import ops

from tfface.losses import penalties
from tfface.losses import residual as L
from tfface.models import residual as nets
from tfface.settings import DEFAULTS
from tfface.training import distribution
from tfface.training.augment import diff_augment
from tfface.training.gan import GANModel

# §5 and §4: local attributes use alpha = 5e-4, global ones 1e-6; beta = 0.1 alpha.
# (§7 quotes 5e-6 for global attributes; we follow §5, the implementation details.)
LOCAL_ALPHA, GLOBAL_ALPHA = 5e-4, 1e-6
GLOBAL_ATTRIBUTES = ("Male", "Young", "Blond_Hair", "Gray_Hair", "Attractive", "Pale_Skin", "Chubby", "Heavy_Makeup")


def default_alpha(attribute):
    """The paper's alpha for an attribute: 1e-6 for global ones (male, young, ...), else 5e-4."""
    return GLOBAL_ALPHA if attribute in GLOBAL_ATTRIBUTES else LOCAL_ALPHA


class ResidualGAN(GANModel):
    """G0 (adds the attribute), G1 (removes it) and a 3-class D, trained as in §3.

    ``train_step`` takes a batch ``(x0, x1)``: images without and with the
    attribute, in [-1, 1].  ``call(x)`` returns ``(G0(x), G1(x))``.  The
    keyword arguments are the settings of the same names (same defaults).
    """

    metric_names = ("d_loss", "d_accuracy", "g_loss", "g_adv", "g_dual", "g_pix", "g_per")
    settings_keys = ("image_size", "width", "residual", "dual", "residual_init", "d_norm", "d_width", "g_skips", "g_layers",
                     "g_padding")  # = Settings
    config_keys = settings_keys + ("sync_batchnorm",)

    def __init__(self, image_size=DEFAULTS.image_size, width=DEFAULTS.width, residual=DEFAULTS.residual,
                 dual=DEFAULTS.dual, residual_init=DEFAULTS.residual_init, d_norm=DEFAULTS.d_norm, d_width=DEFAULTS.d_width,
                 g_skips=DEFAULTS.g_skips, g_layers=DEFAULTS.g_layers, g_padding=DEFAULTS.g_padding, sync_batchnorm=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.image_size, self.width = int(image_size), float(width)
        self.residual, self.dual = bool(residual), bool(dual)
        self.residual_init, self.d_norm, self.sync_batchnorm = residual_init, d_norm, bool(sync_batchnorm)
        self.d_width = None if d_width is None else float(d_width)
        self.g_skips, self.g_layers, self.g_padding = bool(g_skips), g_layers, g_padding
        make_g = lambda name: nets.transformation_network(  # noqa: E731
            self.image_size, self.width, self.residual, self.sync_batchnorm, residual_init == "zero", self.g_skips,
            fused=g_layers == "fused", padding=g_padding, name=name)
        self.g0 = make_g("G0")
        self.g1 = make_g("G1")
        d_width = self.width if self.d_width is None else self.d_width
        self.d = nets.discriminator(self.image_size, d_width, 3, self.sync_batchnorm, d_norm, name="D")
        self.built = True  # the sub-networks are functional models, built on creation

    def compile(self, g_optimizer, d_optimizer, alpha=LOCAL_ALPHA, beta=None, diffaugment=False, r1_gamma=0.0,
                real_class_weight=0.0, diffaugment_colour=True, sparsity_weights=None, **kwargs):
        self.r1_gamma, self.real_class_weight = float(r1_gamma), float(real_class_weight)
        if self.r1_gamma:
            self.metric_names = type(self).metric_names + ("d_r1",)
        super().compile(g_optimizer, d_optimizer, **kwargs)
        self.alpha = float(alpha)
        self.beta = 0.1 * self.alpha if beta is None else float(beta)
        self.diffaugment, self.diffaugment_colour = bool(diffaugment), bool(diffaugment_colour)
        # --outside_weight: a pair of per-pixel weight maps [S, S, 1] of eq. 3's L1, for G0's residual (adding)
        # and G1's (removing; --remove_outside_weight); None, in the pair or for both, is the paper's uniform norm.
        self.sparsity_weights = tuple(None if w is None else ops.convert_to_tensor(w, "float32")
                                      for w in sparsity_weights or (None, None))

    def d_view(self, images, groups, stream):
        """D on ``groups`` image sets stacked along the batch: augmented first with ``--diffaugment`` (the
        same parameters for example i of every set; a stateless stream of the step), else as they are."""
        if self.diffaugment:
            seed = ops.stack([ops.cast(stream, "int64"), ops.cast(self.d_optimizer.iterations, "int64")])
            images = diff_augment(images, groups, seed, self.diffaugment_colour)
        return self.d(images, training=True)

    @property
    def generator_variables(self):
        return self.g0.trainable_variables + self.g1.trainable_variables

    @property
    def discriminator_variables(self):
        return self.d.trainable_variables

    def call(self, x, training=False):
        return self.g0(x, training=training), self.g1(x, training=training)

    def train_step(self, data):
        x0, x1 = data
        n = ops.shape(x0)[0]
        with tf.GradientTape() as g_tape:
            # The manipulations x~i = xi + Gi(xi) (eq. 2), and the dual
            # round trips G1(G0(x0)), G0(G1(x1)) (§3.4).
            x0_gen = self.g0(x0, training=True)
            x1_gen = self.g1(x1, training=True)

            # 1. D learns to tell real negatives (0), real positives (1) and
            #    generated images (2) apart: eq. 4 / eq. 9.  (Nested here so G's
            #    forward pass is shared; the fakes are constants for D.)
            labels = ops.concatenate([ops.full((n,), c, "int32") for c in
                                      (L.NEGATIVE, L.POSITIVE, L.GENERATED, L.GENERATED)], axis=0)
            with tf.GradientTape() as d_tape:
                fakes = ops.stop_gradient(ops.concatenate([x0_gen, x1_gen], axis=0))
                reals = ops.concatenate([x0, x1], axis=0)
                with tf.GradientTape(watch_accessed_variables=False) as r1_tape:
                    r1_tape.watch(reals)
                    logits, _ = self.d_view(ops.concatenate([reals, fakes], axis=0), 4, stream=1)
                    per_example = L.classification_loss(logits, labels)
                    real_score = -ops.sum(per_example[: 2 * n])  # sum of log p_t over the real images
                if self.real_class_weight:  # --real_class_weight (not in the paper): the attribute on reals alone
                    real = penalties.real_class_loss(logits[: 2 * n], labels[: 2 * n])
                    per_example += self.real_class_weight * ops.pad(real, [[0, 2 * n]])
                d_loss = distribution.global_mean(per_example)
                if self.r1_gamma:  # --r1_gamma (not in the paper): D flat around the real images
                    r1 = penalties.r1_penalty(r1_tape.gradient(real_score, reals))
                    d_loss += 0.5 * self.r1_gamma * distribution.global_mean(r1)
                scaled = distribution.scale_loss(self.d_optimizer, d_loss)
            d_vars = self.discriminator_variables
            self.d_optimizer.apply(d_tape.gradient(scaled, d_vars), d_vars)
            d_accuracy = ops.mean(ops.cast(ops.argmax(logits, axis=-1) == labels, "float32"))

            # 2. G0 and G1 against the updated D: adversarial (eq. 6) + dual
            #    (eq. 7) + residual sparsity (eq. 3) + perceptual (eq. 5) = eq. 8.
            images = [x0_gen, x1_gen, x0, x1]
            if self.dual:
                images += [self.g1(x0_gen, training=True), self.g0(x1_gen, training=True)]
            logits, features = self.d_view(ops.concatenate(images, axis=0), len(images), stream=2)
            lg = ops.split(logits, len(images), axis=0)
            ft = ops.split(features, len(images), axis=0)
            adv = L.adversarial_loss(lg[0], L.POSITIVE) + L.adversarial_loss(lg[1], L.NEGATIVE)
            dual = (L.dual_loss(lg[4], L.NEGATIVE) + L.dual_loss(lg[5], L.POSITIVE)) if self.dual else ops.zeros_like(adv)
            w0, w1 = self.sparsity_weights
            pix = L.residual_sparsity_loss(x0_gen - x0, w0) + L.residual_sparsity_loss(x1_gen - x1, w1)
            per = L.perceptual_loss(ft[2], ft[0]) + L.perceptual_loss(ft[3], ft[1])
            g_per_example = L.generator_loss(adv, dual, pix, per, self.alpha, self.beta)
            g_loss = distribution.global_mean(g_per_example)
            scaled = distribution.scale_loss(self.g_optimizer, g_loss)
        g_vars = self.generator_variables
        self.g_optimizer.apply(g_tape.gradient(scaled, g_vars), g_vars)

        logs = {"d_loss": d_loss * distribution.num_replicas(), "d_accuracy": d_accuracy,
                "g_loss": g_loss * distribution.num_replicas(), "g_adv": ops.mean(adv),
                "g_dual": ops.mean(dual), "g_pix": ops.mean(pix), "g_per": ops.mean(per)}
        if self.r1_gamma:
            logs["d_r1"] = ops.mean(r1)
        return self.track(logs)
