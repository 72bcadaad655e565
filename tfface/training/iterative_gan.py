"""The iterative GAN ("Two Birds with One Stone") as a Keras model with a custom train_step."""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfface.evaluation import metrics
from tfface.losses import iterative as L
from tfface.models import iterative as nets
from tfface.training import distribution
from tfface.training.callbacks import grid_image


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


class IterativeGAN(keras.Model):
    """G(z, c), D and the auxiliary classifier C, trained in two stages (§1, Fig. 2).

    ``train_step`` takes ``(x_real, c_real, z, c_fake)``: real images in
    [-1, 1] with their 0/1 labels, latent codes from U(-1, 1) and the labels
    to generate.  Stage 1 optimises L_ACGAN; stage 2 adds L_inte.
    """

    def __init__(self, image_size=64, z_dim=100, n_labels=8, width=1.0, sync_batchnorm=False, **kwargs):
        super().__init__(**kwargs)
        self.image_size, self.z_dim, self.n_labels = int(image_size), int(z_dim), int(n_labels)
        self.width, self.sync_batchnorm = float(width), bool(sync_batchnorm)
        self.g = nets.generator(self.image_size, self.z_dim, self.n_labels, self.width, self.sync_batchnorm, name="G")
        self.d = nets.discriminator(self.image_size, self.width, self.sync_batchnorm, name="D")
        self.c = nets.classifier(self.d.outputs[1].shape[-1], self.z_dim, self.n_labels, self.width, self.sync_batchnorm, name="C")
        self.stage = 1
        self.schedule = (1, 1)
        self.built = True

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "z_dim": self.z_dim, "n_labels": self.n_labels,
                "width": self.width, "sync_batchnorm": self.sync_batchnorm}

    def compile(self, g_optimizer, d_optimizer, lambdas=(2.0, 0.5, 1.0), update_ratio=2.0, max_updates=3, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.lambdas = tuple(float(v) for v in lambdas)
        self.update_ratio, self.max_updates = float(update_ratio), int(max_updates)
        names = ["d_loss", "g_loss", "d_adv", "g_adv", "label_real", "label_fake", "inte", "per", "pix", "z", "d_updates", "g_updates"]
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def dc_variables(self):
        return self.d.trainable_variables + self.c.trainable_variables

    def _d_update_variables(self):
        """What D's update trains: all of D and C, except C's z head in stage 1 (plain ACGAN has no L_z)."""
        if self.stage == 2:
            return self.dc_variables
        return self.d.trainable_variables + _without(self.c.trainable_variables, self.c.get_layer("z"))

    def build_optimizers(self):
        self.g_optimizer.build(self.g.trainable_variables)
        self.d_optimizer.build(self.dc_variables)

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
            label_real = L.label_loss(cl_real, c_real)                              # §3.2.2
            label_fake = L.label_loss(cl_fake, c_fake)
            loss = adv + label_real + label_fake
            if self.stage == 2:
                # D/C as the encoder of the integrated loss (§3.3): recover z
                # from G(z, c), and rebuild x_real from (z~, c~).  c~ is held
                # fixed here so reconstruction cannot bend the label predictions;
                # the perceptual term is G's alone (minimising it over D would
                # just shrink D's features).
                x_rebuilt = self.g([z_real, ops.stop_gradient(ops.sigmoid(cl_real))], training=True)
                pix = L.pixel_loss(x_real, x_rebuilt)
                zl = L.latent_code_loss(z, z_fake)
                loss = loss + L.integrated_loss(0.0, pix, zl, self.lambdas)
            mean = distribution.global_mean(loss)
            scaled = distribution.scale_loss(self.d_optimizer, mean)
        v = self._d_update_variables()
        self.d_optimizer.apply(tape.gradient(scaled, v), v)
        return {"d_loss": ops.mean(loss), "d_adv": ops.mean(adv), "label_real": ops.mean(label_real),
                "label_fake": ops.mean(label_fake)}

    def _g_update(self, x_real, c_real, z, c_fake):
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
            label = L.label_loss(cl_fake, c_fake)                                   # §3.2.2
            loss = adv + label
            out = {"g_adv": ops.mean(adv)}
            if self.stage == 2:                                                     # §3.3
                x_rebuilt = self.g([z_real, ops.sigmoid(cl_real)], training=True)
                # Perceptual features of x_real and x_rebuilt under the same
                # batch statistics (one call, half real as in D's training).
                _, _, hidden = self.d(ops.concatenate([x_real, x_rebuilt], axis=0), training=True)
                h = [ops.split(t, 2, axis=0) for t in hidden]
                per = L.perceptual_loss([t[0] for t in h], [t[1] for t in h])
                pix = L.pixel_loss(x_real, x_rebuilt)
                zl = L.latent_code_loss(z, z_fake)
                inte = L.integrated_loss(per, pix, zl, self.lambdas)
                loss = loss + inte
                out.update(inte=ops.mean(inte), per=ops.mean(per), pix=ops.mean(pix), z=ops.mean(zl))
            mean = distribution.global_mean(loss)
            scaled = distribution.scale_loss(self.g_optimizer, mean)
        v = self.g.trainable_variables
        self.g_optimizer.apply(tape.gradient(scaled, v), v)
        out["g_loss"] = ops.mean(loss)
        return out

    def train_step(self, data):
        x_real, c_real, z, c_fake = data
        n_d, n_g = self.schedule
        # 1. D and C: n_d updates (eq. 1, max over D, C).
        for _ in range(n_d):
            d_out = self._d_update(x_real, c_real, z, c_fake)
        # 2. G: n_g updates (eq. 1, min over G).
        for _ in range(n_g):
            g_out = self._g_update(x_real, c_real, z, c_fake)
        values = {**d_out, **g_out, "d_updates": float(n_d), "g_updates": float(n_g)}
        for name, value in values.items():
            self.trackers[name].update_state(value)
        logs = {name: t.result() for name, t in self.trackers.items() if name in values}
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
                variants[key] = self._make_function(self.train_step)
            logs = variants[key](iterator)
            self.schedule = update_counts(float(logs["step_d_adv"]) / 2.0, float(logs["step_g_adv"]),
                                          self.update_ratio, self.max_updates)
            return logs

        self.train_function = dispatch
        return dispatch


SAMPLE_ATTRIBUTES = ("Eyeglasses", "Smiling", "Male", "Bangs", "Blond_Hair", "Young", "No_Beard", "Mouth_Slightly_Open")


def _without(variables, layer):
    skip = {id(w) for w in layer.trainable_variables}
    return [w for w in variables if id(w) not in skip]


def hamming_loss(probabilities, labels, threshold=0.5):
    """Share of wrong labels over all (image, label) pairs (the paper's Fig. 4 measure)."""
    pred = np.asarray(probabilities) >= threshold
    return float(np.mean(pred != (np.asarray(labels) >= 0.5)))


class AttributeClassifier(keras.Model):
    """The paper's "CNN" baseline (Fig. 4): the same D trunk and C head, trained only on labels."""

    def __init__(self, image_size, n_labels, width=1.0, **kwargs):
        super().__init__(**kwargs)
        self.d = nets.discriminator(image_size, width, name="D")
        self.c = nets.classifier(self.d.outputs[1].shape[-1], 1, n_labels, width, name="C")
        self.built = True

    def call(self, x, training=False):
        _, shared, _ = self.d(x, training=training)
        return ops.sigmoid(self.c(shared, training=training)[1])

    def compile(self, optimizer, **kwargs):
        super().compile(**kwargs)
        self.opt = optimizer
        self.tracker = keras.metrics.Mean(name="label_loss")

    @property
    def metrics(self):
        return [self.tracker]

    def train_step(self, data):
        x, c = data
        # D's real/fake head and C's z head get no signal from labels alone; leave them out.
        v = _without(self.d.trainable_variables, self.d.get_layer("source")) + _without(self.c.trainable_variables, self.c.get_layer("z"))
        with tf.GradientTape() as tape:
            _, shared, _ = self.d(x, training=True)
            loss = L.label_loss(self.c(shared, training=True)[1], c)
            mean = distribution.global_mean(loss)
        self.opt.apply(tape.gradient(mean, v), v)
        self.tracker.update_state(ops.mean(loss))
        return {"label_loss": self.tracker.result()}


class IterativeMethod:
    """What the shared training loop needs to train an :class:`IterativeGAN`."""

    name = "iterative"
    log_keys = ["d_loss", "g_loss", "d_adv", "g_adv", "label_real", "label_fake", "per", "pix", "z", "d_updates", "g_updates"]
    sample_count = 4

    def resolve(self, s):
        stage1 = s.steps // 2 if s.stage1_steps is None else s.stage1_steps
        baseline = s.steps if s.baseline_steps is None else s.baseline_steps
        return dataclasses.replace(s, stage1_steps=stage1, baseline_steps=baseline, alpha=None, beta=None)

    def load_data(self, s):
        from tfface.data import load_labeled

        return load_labeled(s.data, s.image_size, seed=s.seed, strict=s.strict_data, split=s.split,
                            synthetic_test_size=s.eval_images, synthetic_train_size=s.synthetic_train_size,
                            attribute=s.attribute)

    def build_model(self, s, sync_batchnorm=False):
        model = IterativeGAN(s.image_size, s.z_dim, self._n_labels(s), s.width, sync_batchnorm)
        model.compile(
            distribution.make_optimizer(s.learning_rate, s.beta_1, s.beta_2, s.mixed_precision, "g_optimizer"),
            distribution.make_optimizer(s.learning_rate, s.beta_1, s.beta_2, s.mixed_precision, "d_optimizer"),
            lambdas=(s.lambda_per, s.lambda_pix, s.lambda_z), update_ratio=s.update_ratio,
            max_updates=s.max_updates, jit_compile=s.jit_compile,
        )
        model.build_optimizers()
        return model

    def _n_labels(self, s):
        return len(self.attribute_names(s))

    def attribute_names(self, s):
        """The labels a run with settings ``s`` learns (known without loading the data)."""
        from tfface.data import celeba, synthetic

        kind = s.data.split(":", 1)[0]
        return {"synthetic": synthetic.ATTRIBUTES, "celeba": celeba.ATTRIBUTES}.get(kind, (s.attribute,))

    def checkpoint_objects(self, model):
        return {"model": model, "g_optimizer": model.g_optimizer, "d_optimizer": model.d_optimizer}

    def set_learning_rate(self, model, lr):
        for opt in (model.g_optimizer, model.d_optimizer):
            getattr(opt, "inner_optimizer", opt).learning_rate.assign(lr)

    def phases(self, s):
        """Stage 1: ACGAN only; stage 2: ACGAN + integrated loss (§1, Fig. 2)."""
        return [(s.stage1_steps, "stage1"), (s.steps, "stage2")]

    def enter_phase(self, model, phase):
        model.stage = 2 if phase == "stage2" else 1
        model.schedule = (1, 1)
        model.train_function = None  # retrace: the stage changes the step

    def dataset(self, data, s, start_step):
        """``(x, c_real, z, c_fake)``: z ~ U(-1, 1) (§5.3.5) seeded by (seed, step); the labels to
        generate are another image's labels from the same batch (the data's label distribution)."""
        z_dim, b = s.z_dim, s.batch_size

        def add_codes(step, xc):
            x, c = xc
            z = tf.random.stateless_uniform([b, z_dim], seed=tf.stack([tf.cast(s.seed, tf.int64), step]),
                                            minval=-1.0, maxval=1.0)
            return x, c, z, tf.roll(c, shift=1, axis=0)

        ds = data.train_dataset(b, seed=s.seed, start_step=start_step, deterministic=True)
        return ds.enumerate(start_step).map(add_codes, num_parallel_calls=tf.data.AUTOTUNE)

    # -- samples and evaluation ------------------------------------------------------
    def _test(self, data, n):
        idx = np.arange(min(n, data.test.size))
        x, c = data.test.load_batch(idx)
        return idx, x, c

    def _sample_attributes(self, data):
        names = [a for a in SAMPLE_ATTRIBUTES if a in data.attribute_names][:4]
        return names or list(data.attribute_names[:4])

    def sample_grid(self, model, data):
        """Rows: input | rebuilt | one attribute flipped per column;  last row: generated faces."""
        from tfface.iterative import Editor

        ed = Editor(model, data.attribute_names)
        _, x, c = self._test(data, self.sample_count)
        names = self._sample_attributes(data)
        cols = [x, ed.reconstruct(x)]
        for name in names:
            k = data.attribute_names.index(name)
            cols.append(ed.transform(x, {name: 1 - c[:, k]}))
        rows = [[col[i] for col in cols] for i in range(len(x))]
        gen = ed.generate(len(cols), labels=np.repeat(c[:1], len(cols), axis=0), seed=0)
        return grid_image(rows + [list(gen)])

    def evaluate(self, model, data, s):
        from tfface.iterative import Editor

        ed = Editor(model, data.attribute_names)
        idx, x, c = self._test(data, s.eval_images)
        probs = ed.recognize(x)
        prevalence = self._training_prevalence(data)
        out = {"method": self.name, "data": s.data, "attribute_names": list(data.attribute_names),
               "test_images": int(len(x))}
        out["recognition"] = {
            "hamming_loss": hamming_loss(probs, c),
            "majority_baseline_hamming_loss": hamming_loss(np.broadcast_to(prevalence, c.shape), c),
            "per_attribute_accuracy": {n: float(np.mean((probs[:, k] >= 0.5) == (c[:, k] >= 0.5)))
                                       for k, n in enumerate(data.attribute_names)},
        }
        rebuilt = ed.reconstruct(x)
        out["reconstruction"] = {"psnr": metrics.mean_finite(metrics.psnr(rebuilt, x)),
                                 "l1": float(np.abs(rebuilt.astype(np.float64) - x).mean() / 127.5)}
        if s.baseline_steps:
            out["recognition"]["cnn_baseline_hamming_loss"] = self._cnn_baseline(data, s, x, c)
        if data.has_ground_truth:
            out["transformation"] = self._transformation_scores(ed, data, idx, x, c, rebuilt)
        return out

    def _training_prevalence(self, data, n=4096):
        coll = data.train
        if getattr(coll, "labels", None) is not None:
            labels = coll.labels
        else:
            labels = coll.attributes(np.arange(n if coll.size is None else min(n, coll.size))).astype(np.float32)
        return (labels.mean(axis=0) >= 0.5).astype(np.float32)

    def _cnn_baseline(self, data, s, x_test, c_test):
        keras.utils.set_random_seed(s.seed + 1)
        clf = AttributeClassifier(s.image_size, len(data.attribute_names), s.width)
        clf.compile(keras.optimizers.Adam(s.learning_rate, beta_1=s.beta_1, beta_2=s.beta_2))
        ds = data.train_dataset(s.batch_size, seed=s.seed + 1, start_step=0)
        clf.fit(ds, epochs=1, steps_per_epoch=s.baseline_steps, verbose=0, shuffle=False)
        from tfface.data.pipeline import to_float

        probs = np.concatenate([clf(to_float(x_test[i:i + 64]), training=False).numpy() for i in range(0, len(x_test), 64)])
        return hamming_loss(probs, c_test)

    def _transformation_scores(self, ed, data, idx, x, c, rebuilt):
        """Per attribute: flip it, compare with the rendered counterfactual inside the attribute's mask.

        ``accuracy`` is the share of images whose transformed attribute region is
        closer (L1) to the counterfactual than to the unchanged reconstruction.
        """
        scores = {}
        for k, name in enumerate(data.attribute_names):
            _, target, mask = data.test.counterfactual(idx, name)
            moved = ed.transform(x, {name: 1 - c[:, k]})
            m3 = np.repeat(mask[..., None], 3, axis=-1)
            err_t = np.array([np.abs(moved[i].astype(float) - target[i])[m3[i]].mean() for i in range(len(x))])
            err_r = np.array([np.abs(rebuilt[i].astype(float) - target[i])[m3[i]].mean() for i in range(len(x))])
            scores[name] = {
                "accuracy": float(np.mean(err_t < err_r)),
                "psnr_in_mask": metrics.mean_finite(metrics.psnr(moved, target, mask)),
                "rebuild_psnr_in_mask": metrics.mean_finite(metrics.psnr(rebuilt, target, mask)),
            }
        scores["mean_accuracy"] = float(np.mean([v["accuracy"] for v in scores.values()]))
        return scores

    def summarize(self, m):
        r = m["recognition"]
        line = f"recognition: hamming loss {r['hamming_loss']:.4f} (majority baseline {r['majority_baseline_hamming_loss']:.4f}"
        if "cnn_baseline_hamming_loss" in r:
            line += f", CNN baseline {r['cnn_baseline_hamming_loss']:.4f}"
        yield line + ")"
        yield f"reconstruction: PSNR {m['reconstruction']['psnr']:.2f} dB, L1 {m['reconstruction']['l1']:.4f}"
        if "transformation" in m:
            yield f"transformation: mean accuracy vs counterfactual {m['transformation']['mean_accuracy']:.3f}"
