"""The iterative GAN ("Two Birds with One Stone") as a Keras model with a custom train_step."""

from __future__ import annotations

import math

import tensorflow as tf
from keras import ops

from tfface.losses import iterative as L
from tfface.models import iterative as nets
from tfface.settings import DEFAULTS
from tfface.training import distribution
from tfface.training.gan import GANModel, variables_without


def update_counts(d_loss, g_loss, ratio=2.0, max_updates=3):
    """§4.1's adaptive schedule: how many D and G updates the next step makes.

    The paper: "While the loss of D is overwhelmingly higher than G, we
    increase the update times of D in this iteration, and vice versa."  Our
    rule: with k = d_loss / g_loss, if k > ratio then D gets
    1 + floor(log_ratio k) updates; if 1/k > ratio, G does; else one each.
    Counts are capped at ``max_updates``; non-finite or non-positive losses
    give (1, 1).  ``d_loss`` should be on the scale of ``g_loss``: we pass
    the mean of D's real and fake terms (at equilibrium both are log 2).
    """
    if not (math.isfinite(d_loss) and math.isfinite(g_loss)) or d_loss <= 0 or g_loss <= 0:
        return 1, 1
    k = d_loss / g_loss
    extra = lambda q: min(max_updates, 1 + int(math.floor(math.log(q) / math.log(ratio) + 1e-9)))  # noqa: E731
    if k > ratio:
        return extra(k), 1
    if 1.0 / k > ratio:
        return 1, extra(1.0 / k)
    return 1, 1


def flip_one_label(c, step):
    """``c`` ([B, n] probabilities) with one label per row, chosen at random, set to the opposite of its
    rounded value: the single-attribute transformation of §5.3.3.  The choice is a function of ``step`` (the
    optimizer's counter, which checkpoints keep), so a resumed run flips the same labels."""
    n = ops.shape(c)[-1]
    seed = ops.stack([ops.cast(step, "int32"), 1815])
    k = tf.random.stateless_uniform(ops.shape(c)[:1], seed, 0, n, dtype="int32")
    one = ops.one_hot(k, n, dtype=c.dtype)
    return c * (1.0 - one) + (1.0 - ops.round(c)) * one


class IterativeGAN(GANModel):
    """G(z, c), D and the auxiliary classifier C, trained in two stages (§1, Fig. 2).

    ``train_step`` takes ``(x_real, c_real, z, c_fake)``: real images in
    [-1, 1] with their 0/1 labels, latent codes from U(-1, 1) and the labels
    to generate.  Stage 1 optimises L_ACGAN; stage 2 adds L_inte.  The
    keyword arguments are the settings of the same names (same defaults);
    ``n_labels`` is the number of attributes of the data.
    """

    metric_names = ("d_loss", "g_loss", "d_adv", "g_adv", "label_real", "label_fake", "inte", "per", "pix", "z",
                    "edit", "change", "id", "d_updates", "g_updates")
    # Constructor arguments named (and defaulted) as in Settings.
    settings_keys = ("image_size", "z_dim", "width", "d_width", "z_head", "shared_layer", "g_upsample")
    config_keys = settings_keys + ("n_labels", "sync_batchnorm")

    def __init__(self, image_size=DEFAULTS.image_size, z_dim=DEFAULTS.z_dim, n_labels=8, width=DEFAULTS.width,
                 d_width=DEFAULTS.d_width, z_head=DEFAULTS.z_head, shared_layer=DEFAULTS.shared_layer,
                 g_upsample=DEFAULTS.g_upsample, sync_batchnorm=False, **kwargs):
        super().__init__(**kwargs)
        self.image_size, self.z_dim, self.n_labels = int(image_size), int(z_dim), int(n_labels)
        self.width, self.sync_batchnorm = float(width), bool(sync_batchnorm)
        self.d_width = None if d_width is None else float(d_width)
        dc_width = self.width if self.d_width is None else self.d_width     # D and C: one recogniser
        self.z_head, self.shared_layer, self.g_upsample = str(z_head), str(shared_layer), str(g_upsample)
        self.g = nets.generator(self.image_size, self.z_dim, self.n_labels, self.width, self.sync_batchnorm,
                                upsample=self.g_upsample, name="G")
        with_convolution = self.z_head == "conv" and self.shared_layer == "fc"   # z~ from flatten(h4)
        self.d = nets.discriminator(self.image_size, dc_width, self.sync_batchnorm, self.shared_layer,
                                    with_convolution, name="D")
        convolution_units = self.d.get_layer("flatten").output.shape[-1] if with_convolution else 0
        self.c = nets.classifier(self.d.outputs[1].shape[-1] - convolution_units, self.z_dim, self.n_labels,
                                 dc_width, self.sync_batchnorm, z_head=self.z_head,
                                 convolution_units=convolution_units, name="C")
        self.stage = 1
        self.schedule = (1, 1)
        self.built = True

    def compile(self, g_optimizer, d_optimizer, lambdas=(DEFAULTS.lambda_per, DEFAULTS.lambda_pix, DEFAULTS.lambda_z),
                update_ratio=DEFAULTS.update_ratio, max_updates=DEFAULTS.max_updates, z_loss=DEFAULTS.z_loss,
                fake_label_weight=DEFAULTS.fake_label_weight, fake_label_stage=DEFAULTS.fake_label_stage,
                z_loss_stage=DEFAULTS.z_loss_stage, label_loss=DEFAULTS.label_loss, label_weight=DEFAULTS.label_weight,
                d_label_weight=DEFAULTS.d_label_weight, lambda_edit=DEFAULTS.lambda_edit,
                lambda_change=DEFAULTS.lambda_change, lambda_id=DEFAULTS.lambda_id, recognizer=None, **kwargs):
        """``recognizer``: the frozen face recogniser of ``lambda_id`` > 0 (images in [-1, 1] -> unit embeddings);
        training sets it from ``--identity_model`` (IterativeMethod.prepare_training)."""
        super().compile(g_optimizer, d_optimizer, **kwargs)
        self.label_loss = L.LABEL_LOSSES[label_loss]
        self.label_weight = float(label_weight)
        self.d_label_weight = None if d_label_weight is None else float(d_label_weight)   # None: label_weight
        self.fake_label_weight = float(fake_label_weight)
        self.fake_label_stage = int(fake_label_stage)
        self.z_loss_stage = int(z_loss_stage)
        self.z_loss = L.LATENT_CODE_LOSSES[z_loss]
        self.lambdas = tuple(float(v) for v in lambdas)
        self.lambda_edit, self.lambda_change = float(lambda_edit), float(lambda_change)
        self.lambda_id, self.recognizer = float(lambda_id), recognizer
        self.update_ratio, self.max_updates = float(update_ratio), int(max_updates)

    @property
    def generator_variables(self):
        return self.g.trainable_variables

    @property
    def discriminator_variables(self):
        """D and C: one optimizer maximises eq. 1 over both."""
        return self.d.trainable_variables + self.c.trainable_variables

    def _d_update_variables(self):
        """What D's update trains: all of D and C, except C's z head before L_z joins (plain ACGAN has no L_z)."""
        if self.stage >= self.z_loss_stage:
            return self.discriminator_variables
        return self.d.trainable_variables + variables_without(self.c.trainable_variables, self.c.get_layer("z"))

    # -- the four abilities (§3.1) -------------------------------------------------
    def encode(self, x, training=False):
        """Recognition and encoding: x -> (z~, label logits) = C(D(x))."""
        _, shared, _ = self.d(x, training=training)
        return self.c(shared, training=training)

    def call(self, x, training=False):
        """Reconstruction: G(C(D(x)))."""
        z, logits = self.encode(x, training=training)
        return self.g([z, ops.sigmoid(logits)], training=training)

    # -- training ----------------------------------------------------------------
    def _d_update(self, x_real, c_real, z, c_fake):
        x_fake = self.g([z, c_fake], training=True)
        with tf.GradientTape() as tape:
            s, shared, _ = self.d(ops.concatenate([x_real, x_fake], axis=0), training=True)
            z_t, c_logits = self.c(shared, training=True)
            s_real, s_fake = ops.split(s, 2, axis=0)
            z_real, z_fake = ops.split(z_t, 2, axis=0)
            cl_real, cl_fake = ops.split(c_logits, 2, axis=0)
            adv = L.adversarial_discriminator_loss(s_real, s_fake)                  # §3.2.1
            label_real = self.label_loss(cl_real, c_real)                              # §3.2.2
            label_fake = self.label_loss(cl_fake, c_fake)
            # §3.2.2 trains C on real and generated images; while G cannot yet draw an attribute, its
            # images carry random labels for it, so ``fake_label_weight`` can hold that term back, in
            # every stage or (``fake_label_stage`` 2) only until the integrated loss joins.
            fake_weight = self.fake_label_weight if self.stage >= self.fake_label_stage else 0.0
            label_weight = self.label_weight if self.d_label_weight is None else self.d_label_weight
            loss = adv + label_weight * (label_real + fake_weight * label_fake)
            if self.stage == 2:
                # D/C as the encoder of the integrated loss (§3.3): recover z
                # from G(z, c), and rebuild x_real from (z~, c~).  c~ is held
                # fixed here so reconstruction cannot bend the label predictions;
                # the perceptual term is G's alone (minimising it over D would
                # just shrink D's features).
                x_rebuilt = self.g([z_real, ops.stop_gradient(ops.sigmoid(cl_real))], training=True)
                pix = L.pixel_loss(x_real, x_rebuilt)
                zl = self.z_loss(z, z_fake)
                loss = loss + L.integrated_loss(0.0, pix, zl, self.lambdas)
            elif self.stage >= self.z_loss_stage:
                # ``z_loss_stage`` 1: L_z alone before the integrated loss (InfoGAN's latent-code term).
                loss = loss + L.integrated_loss(0.0, 0.0, self.z_loss(z, z_fake), self.lambdas)
            mean = distribution.global_mean(loss)
            scaled = distribution.scale_loss(self.d_optimizer, mean)
        v = self._d_update_variables()
        self.d_optimizer.apply(tape.gradient(scaled, v), v)
        return {"d_loss": ops.mean(loss), "d_adv": ops.mean(adv), "label_real": ops.mean(label_real),
                "label_fake": ops.mean(label_fake)}

    def _identity_reference(self, x_real):
        """(jitter, E(x_real)) for the identity loss: this step's random framing of each face (None: the presets'
        boxes) and the input's embedding in it, which the rebuild's is compared with in the same framing.  The
        framing is a function of G's step, so a resumed run draws the same."""
        seed = ops.stack([ops.cast(self.g_optimizer.iterations, "int32"), 4711])
        jitter = self.recognizer.random_jitter(ops.shape(x_real)[0], seed)
        return jitter, ops.stop_gradient(self.recognizer(x_real, jitter))

    def _g_update(self, x_real, c_real, z, c_fake, identity_reference=None):
        """``identity_reference``: :meth:`_identity_reference` of ``x_real`` for ``lambda_id`` (None: made here)."""
        with tf.GradientTape() as tape:
            x_fake = self.g([z, c_fake], training=True)
            # D judges the fakes in a batch of (real, fake), as in D's own
            # update.  D normalises with batch statistics in training mode; a
            # batch of fakes alone is normalised by its own statistics, and D
            # (trained on mixed batches) then calls almost any fake "real"
            # (measured: G's adversarial loss fell to 0.001 while D's was
            # 0.001 too).  The same call encodes x_real for stage 2.
            s, shared, _ = self.d(ops.concatenate([x_fake, x_real], axis=0), training=True)
            z_t, c_logits = self.c(shared, training=True)
            s_fake, _ = ops.split(s, 2, axis=0)
            z_fake, z_real = ops.split(z_t, 2, axis=0)
            cl_fake, cl_real = ops.split(c_logits, 2, axis=0)
            adv = L.adversarial_generator_loss(s_fake)                              # §3.2.1
            label = self.label_loss(cl_fake, c_fake)                                   # §3.2.2
            loss = adv + self.label_weight * label
            out = {"g_adv": ops.mean(adv)}
            if self.stage == 2:                                                     # §3.3
                c_rebuilt = ops.sigmoid(cl_real)
                if self.lambda_edit:
                    # The transformation of §5.3.3, G(z~, c') with one of C's labels flipped, drawn in
                    # the same G call as the rebuild (tfface's addition, ``lambda_edit``: see below).
                    c_edit = flip_one_label(c_rebuilt, self.g_optimizer.iterations)
                    x_both = self.g([ops.concatenate([z_real, z_real], axis=0),
                                     ops.concatenate([c_rebuilt, c_edit], axis=0)], training=True)
                    x_rebuilt, x_edit = ops.split(x_both, 2, axis=0)
                else:
                    x_rebuilt = self.g([z_real, c_rebuilt], training=True)
                # Perceptual features of x_real and x_rebuilt under the same
                # batch statistics (one call, half real as in D's training).
                _, _, hidden = self.d(ops.concatenate([x_real, x_rebuilt], axis=0), training=True)
                h = [ops.split(t, 2, axis=0) for t in hidden]
                per = L.perceptual_loss([t[0] for t in h], [t[1] for t in h])
                pix = L.pixel_loss(x_real, x_rebuilt)
                zl = self.z_loss(z, z_fake)
                inte = L.integrated_loss(per, pix, zl, self.lambdas)
                loss = loss + inte
                out.update(inte=ops.mean(inte), per=ops.mean(per), pix=ops.mean(pix), z=ops.mean(zl))
                if self.lambda_id:
                    # tfface's addition (``lambda_id``): a pretrained recogniser compares the rebuild with the
                    # input as a face, where L_per and L_pix compare features and pixels.
                    jitter, e_real = identity_reference or self._identity_reference(x_real)
                    ident = L.identity_loss(e_real, self.recognizer(x_rebuilt, jitter))
                    loss = loss + self.lambda_id * ident
                    out["id"] = ops.mean(ident)
                if self.lambda_edit:
                    # The paper trains G(z, c') only from prior codes (L_ACGAN) and G(z~, c~) only to
                    # rebuild (L_inte); the transformation G(z~, c') of a real face is trained by neither.
                    # Here D and C judge it as they judge G(z, c) (in a batch of (edit, real)), and
                    # L_change keeps the change to where the label acts.
                    s_e, shared_e, _ = self.d(ops.concatenate([x_edit, x_real], axis=0), training=True)
                    _, cl_e = self.c(shared_e, training=True)
                    s_edit, _ = ops.split(s_e, 2, axis=0)
                    cl_edit, _ = ops.split(cl_e, 2, axis=0)
                    edit = (L.adversarial_generator_loss(s_edit)
                            + self.label_weight * self.label_loss(cl_edit, c_edit))
                    change = L.change_sparsity_loss(x_edit, x_rebuilt)
                    loss = loss + self.lambda_edit * edit + self.lambda_change * change
                    out.update(edit=ops.mean(edit), change=ops.mean(change))
            elif self.stage >= self.z_loss_stage:                                   # L_z alone, stage 1
                zl = self.z_loss(z, z_fake)
                loss = loss + L.integrated_loss(0.0, 0.0, zl, self.lambdas)
                out["z"] = ops.mean(zl)
            mean = distribution.global_mean(loss)
            scaled = distribution.scale_loss(self.g_optimizer, mean)
        v = self.generator_variables
        self.g_optimizer.apply(tape.gradient(scaled, v), v)
        out["g_loss"] = ops.mean(loss)
        return out

    def train_step(self, data):
        x_real, c_real, z, c_fake = data
        n_d, n_g = self.schedule
        # 1. D and C: n_d updates (eq. 1, max over D, C).
        for _ in range(n_d):
            d_out = self._d_update(x_real, c_real, z, c_fake)
        # 2. G: n_g updates (eq. 1, min over G).  The identity loss's recogniser is frozen: x_real is framed and
        #    embedded once for all of them.
        reference = self._identity_reference(x_real) if self.stage == 2 and self.lambda_id else None
        for _ in range(n_g):
            g_out = self._g_update(x_real, c_real, z, c_fake, reference)
        logs = self.track({**d_out, **g_out, "d_updates": float(n_d), "g_updates": float(n_g)})
        # This step's own adversarial losses steer the next step's schedule.
        logs["step_d_adv"] = d_out["d_adv"]
        logs["step_g_adv"] = g_out["g_adv"]
        return logs

    def make_train_function(self, force=False):
        """One compiled step per (D updates, G updates) schedule, chosen before each step.

        The update counts change from step to step (§4.1).  A data-dependent
        loop inside the step cannot apply optimizers under tf.distribute
        (no synchronisation inside control flow), so each schedule is traced
        as its own unrolled function (at most a handful) and Python picks one
        per step from the previous step's losses.
        """
        if self.train_function is not None and not force:
            return self.train_function
        variants = {}

        def dispatch(iterator):
            key = (self.stage, self.schedule)
            if key not in variants:
                variants[key] = self.compiled_step()
            logs = variants[key](iterator)
            self.schedule = update_counts(float(logs["step_d_adv"]) / 2.0, float(logs["step_g_adv"]),
                                          self.update_ratio, self.max_updates)
            return logs

        self.train_function = dispatch
        return dispatch
