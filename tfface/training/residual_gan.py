"""The residual-image GAN (Shen & Liu 2017) as a Keras model with a custom train_step."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfface.evaluation import metrics
from tfface.losses import residual as L
from tfface.models import residual as nets
from tfface.training import distribution
from tfface.training.callbacks import grid_image

# §5 and §4: local attributes use alpha = 5e-4, global ones 1e-6; beta = 0.1 alpha.
# (§7 quotes 5e-6 for global attributes; we follow §5, the implementation details.)
LOCAL_ALPHA, GLOBAL_ALPHA = 5e-4, 1e-6
GLOBAL_ATTRIBUTES = ("Male", "Young", "Blond_Hair", "Gray_Hair", "Attractive", "Pale_Skin", "Chubby", "Heavy_Makeup")


def default_alpha(attribute):
    """The paper's alpha for an attribute: 1e-6 for global ones (male, young, ...), else 5e-4."""
    return GLOBAL_ALPHA if attribute in GLOBAL_ATTRIBUTES else LOCAL_ALPHA


class ResidualGAN(keras.Model):
    """G0 (adds the attribute), G1 (removes it) and a 3-class D, trained as in §3.

    ``train_step`` takes a batch ``(x0, x1)``: images without and with the
    attribute, in [-1, 1].  ``call(x)`` returns ``(G0(x), G1(x))``.
    """

    def __init__(self, image_size=128, width=1.0, residual=True, dual=True, sync_batchnorm=False, zero_residual=False,
                 d_norm="batch", **kwargs):
        super().__init__(**kwargs)
        self.image_size, self.width = int(image_size), float(width)
        self.residual, self.dual = bool(residual), bool(dual)
        self.sync_batchnorm, self.zero_residual, self.d_norm = bool(sync_batchnorm), bool(zero_residual), d_norm
        make_g = lambda name: nets.transformation_network(  # noqa: E731
            self.image_size, self.width, self.residual, self.sync_batchnorm, self.zero_residual, name=name)
        self.g0 = make_g("G0")
        self.g1 = make_g("G1")
        self.d = nets.discriminator(self.image_size, self.width, 3, self.sync_batchnorm, d_norm, name="D")
        self.built = True  # the sub-networks are functional models, built on creation

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "width": self.width,
                "residual": self.residual, "dual": self.dual, "sync_batchnorm": self.sync_batchnorm,
                "zero_residual": self.zero_residual, "d_norm": self.d_norm}

    def compile(self, g_optimizer, d_optimizer, alpha=LOCAL_ALPHA, beta=None, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.alpha = float(alpha)
        self.beta = 0.1 * self.alpha if beta is None else float(beta)
        names = ["d_loss", "d_accuracy", "g_loss", "g_adv", "g_dual", "g_pix", "g_per"]
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def build_optimizers(self):
        """Create optimizer slots now (needed before restoring a checkpoint)."""
        self.g_optimizer.build(self.generator_variables)
        self.d_optimizer.build(self.d.trainable_variables)

    @property
    def generator_variables(self):
        return self.g0.trainable_variables + self.g1.trainable_variables

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
                logits, _ = self.d(ops.concatenate([x0, x1, fakes], axis=0), training=True)
                d_loss = distribution.global_mean(L.classification_loss(logits, labels))
                scaled = distribution.scale_loss(self.d_optimizer, d_loss)
            d_vars = self.d.trainable_variables
            self.d_optimizer.apply(d_tape.gradient(scaled, d_vars), d_vars)
            d_accuracy = ops.mean(ops.cast(ops.argmax(logits, axis=-1) == labels, "float32"))

            # 2. G0 and G1 against the updated D: adversarial (eq. 6) + dual
            #    (eq. 7) + residual sparsity (eq. 3) + perceptual (eq. 5) = eq. 8.
            images = [x0_gen, x1_gen, x0, x1]
            if self.dual:
                images += [self.g1(x0_gen, training=True), self.g0(x1_gen, training=True)]
            logits, features = self.d(ops.concatenate(images, axis=0), training=True)
            lg = ops.split(logits, len(images), axis=0)
            ft = ops.split(features, len(images), axis=0)
            adv = L.adversarial_loss(lg[0], L.POSITIVE) + L.adversarial_loss(lg[1], L.NEGATIVE)
            dual = (L.dual_loss(lg[4], L.NEGATIVE) + L.dual_loss(lg[5], L.POSITIVE)) if self.dual else ops.zeros_like(adv)
            pix = L.residual_sparsity_loss(x0_gen - x0) + L.residual_sparsity_loss(x1_gen - x1)
            per = L.perceptual_loss(ft[2], ft[0]) + L.perceptual_loss(ft[3], ft[1])
            g_per_example = L.generator_loss(adv, dual, pix, per, self.alpha, self.beta)
            g_loss = distribution.global_mean(g_per_example)
            scaled = distribution.scale_loss(self.g_optimizer, g_loss)
        g_vars = self.generator_variables
        self.g_optimizer.apply(g_tape.gradient(scaled, g_vars), g_vars)

        values = {"d_loss": d_loss * distribution.num_replicas(), "d_accuracy": d_accuracy,
                  "g_loss": g_loss * distribution.num_replicas(), "g_adv": ops.mean(adv), "g_dual": ops.mean(dual),
                  "g_pix": ops.mean(pix), "g_per": ops.mean(per)}
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}


class ResidualMethod:
    """What the shared training loop needs to train a :class:`ResidualGAN`."""

    name = "residual"
    log_keys = ["d_loss", "d_accuracy", "g_loss", "g_adv", "g_dual", "g_pix", "g_per"]
    sample_count = 4

    def resolve(self, s):
        """Fill in the paper's defaults: alpha by attribute (local/global), beta = 0.1 alpha."""
        alpha = default_alpha(s.attribute) if s.alpha is None else s.alpha
        beta = 0.1 * alpha if s.beta is None else s.beta
        return dataclasses.replace(s, alpha=alpha, beta=beta)

    def load_data(self, s):
        from tfface.data import load_domains

        return load_domains(s.data, s.attribute, s.image_size, seed=s.seed, strict=s.strict_data,
                            synthetic_test_size=s.eval_images, synthetic_train_size=s.synthetic_train_size)

    def build_model(self, s, sync_batchnorm=False):
        model = ResidualGAN(s.image_size, s.width, s.residual, s.dual, sync_batchnorm, s.residual_init == "zero", s.d_norm)
        model.compile(
            distribution.make_optimizer(s.learning_rate, s.beta_1, s.beta_2, s.mixed_precision, "g_optimizer"),
            distribution.make_optimizer(s.learning_rate, s.beta_1, s.beta_2, s.mixed_precision, "d_optimizer"),
            alpha=s.alpha, beta=s.beta, jit_compile=s.jit_compile,
        )
        model.build_optimizers()
        return model

    def checkpoint_objects(self, model):
        return {"model": model, "g_optimizer": model.g_optimizer, "d_optimizer": model.d_optimizer}

    def set_learning_rate(self, model, lr):
        for opt in (model.g_optimizer, model.d_optimizer):
            inner = getattr(opt, "inner_optimizer", opt)
            inner.learning_rate.assign(lr)

    def phases(self, s):
        """One phase: the paper trains G0, G1 and D together "without any staging" (§5)."""
        return [(s.steps, "")]

    def enter_phase(self, model, phase):
        pass

    def dataset(self, data, s, start_step):
        return data.train_dataset(s.batch_size, seed=s.seed, start_step=start_step, deterministic=True)

    def _test_images(self, data, domain, n):
        coll = data.test[domain]
        idx = np.arange(min(n, coll.size))
        return idx, coll.load_batch(idx)[0]

    def sample_grid(self, model, data):
        """Rows: x0 | residual | G0(x0) || x1 | residual | G1(x1), for fixed test images."""
        n = self.sample_count
        _, x0 = self._test_images(data, 0, n)
        _, x1 = self._test_images(data, 1, n)
        e0 = edit(model.g0, x0)
        e1 = edit(model.g1, x1)
        rows = [[x0[i], residual_picture(x0[i], e0[i]), e0[i], x1[i], residual_picture(x1[i], e1[i]), e1[i]]
                for i in range(min(len(x0), len(x1)))]
        return grid_image(rows)

    def evaluate(self, model, data, s):
        """Ground-truth edit scores on synthetic data; residual statistics otherwise."""
        out = {"method": self.name, "attribute": s.attribute, "data": s.data}
        names = {0: ("add", model.g0), 1: ("remove", model.g1)}
        for domain, (direction, g) in names.items():
            idx, x = self._test_images(data, domain, s.eval_images)
            y = edit(g, x)
            entry = {"images": int(len(x)),
                     "mean_abs_residual": float(np.abs(y.astype(np.float64) - x).mean() / 127.5)}
            if data.has_ground_truth:
                _, target, mask = data.test[domain].counterfactual(idx, s.attribute)
                entry.update(metrics.edit_scores(x, y, target, mask))
            out[direction] = entry
        return out

    def summarize(self, m):
        for direction in ("add", "remove"):
            e = m[direction]
            if "model" in e:
                yield (f"{direction} {m['attribute']}: PSNR vs ground truth {e['model']['psnr']:.2f} dB "
                       f"(do-nothing {e['identity']['psnr']:.2f}), inside the attribute region "
                       f"{e['model']['psnr_in_mask']:.2f} (do-nothing {e['identity']['psnr_in_mask']:.2f}), "
                       f"outside {e['model']['psnr_outside_mask']:.2f}")
            else:
                yield f"{direction} {m['attribute']}: mean |residual| {e['mean_abs_residual']:.4f} on {e['images']} test images"


def edit(generator, images, batch_size=64):
    """Run a generator on uint8 images in inference mode; returns uint8 (clipped)."""
    from tfface.data.pipeline import to_float, to_uint8

    out = [to_uint8(generator(to_float(images[i:i + batch_size]), training=False)).numpy()
           for i in range(0, len(images), batch_size)]
    return np.concatenate(out) if out else np.zeros_like(images)


def residual_picture(x, y):
    """A residual y - x as a picture: zero is mid-grey, +-1 (in [-1, 1] units) saturates."""
    r = (y.astype(np.float32) - x.astype(np.float32)) / 127.5
    return np.round(127.5 + 127.5 * np.clip(r, -1, 1)).astype(np.uint8)
