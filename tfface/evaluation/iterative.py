"""Measures of the iterative GAN (paper 2): recognition against a CNN baseline, reconstruction,
transformation; the final metrics of training and a full evaluation.

``ctx`` is the evaluation context of :mod:`tfface.evaluation.evaluate`.
"""

from __future__ import annotations

import io
import os
import zipfile

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfface import files
from tfface.data.pipeline import to_float
from tfface.errors import DataError
from tfface.evaluation import face_measures, metrics, statistics
from tfface.evaluation import judge as judge_lib
from tfface.evaluation.report import fmt, provenance
from tfface.inference import batched
from tfface.losses import iterative as L
from tfface.models import iterative as nets
from tfface.pictures import grid_image
from tfface.training import distribution
from tfface.training.callbacks import LearningRates, StepCounter, TrainingState
from tfface.training.gan import variables_without

# Attributes shown in figures and flipped in the full evaluation, where the data has them.
FIGURE_ATTRIBUTES = ("Eyeglasses", "Smiling", "Male", "Bangs", "Young")


def flipped(probabilities, labels):
    """Per image: does the judge read the opposite of the true label (``labels`` [N] in {0, 1})? The test
    behind every judged flip rate of a transformation, and of doing nothing (the unchanged reconstructions)."""
    return (np.asarray(probabilities) >= 0.5) == (np.asarray(labels) < 0.5)


def hamming_loss(probabilities, labels, threshold=0.5):
    """Share of wrong labels over all (image, label) pairs (the paper's Fig. 4 measure)."""
    pred = np.asarray(probabilities) >= threshold
    return float(np.mean(pred != (np.asarray(labels) >= 0.5)))


class AttributeClassifier(keras.Model):
    """The paper's "CNN" baseline (Fig. 4): the same D trunk and C head, trained only on labels."""

    def __init__(self, image_size, n_labels, width=1.0, shared_layer="fc", **kwargs):
        super().__init__(**kwargs)
        self.d = nets.discriminator(image_size, width, shared_layer=shared_layer, name="D")
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
        v = (variables_without(self.d.trainable_variables, self.d.get_layer("source"))
             + variables_without(self.c.trainable_variables, self.c.get_layer("z")))
        with tf.GradientTape() as tape:
            _, shared, _ = self.d(x, training=True)
            loss = L.label_loss(self.c(shared, training=True)[1], c)
            mean = distribution.global_mean(loss)
        self.opt.apply(tape.gradient(mean, v), v)
        self.tracker.update_state(ops.mean(loss))
        return {"label_loss": self.tracker.result()}


def cnn_baseline(settings, n_labels):
    """The run's CNN baseline, compiled: D's trunk (with its ``--shared_layer``) and C's head at their width
    (``--d_width``, else ``--width``), trained as C is (:func:`baseline_learning_rate`)."""
    width = settings.width if settings.d_width is None else settings.d_width
    clf = AttributeClassifier(settings.image_size, n_labels, width, settings.shared_layer)
    clf.compile(keras.optimizers.Adam(baseline_learning_rate(settings, 0), beta_1=settings.beta_1,
                                      beta_2=settings.beta_2))
    return clf


def baseline_learning_rate(settings, step):
    """The baseline's rate at ``step``: C's (D's learning rate), decaying to 0 from the same fraction of its
    ``--baseline_steps`` as the run's rates do of ``--steps`` (``Settings.learning_rates``)."""
    return settings.learning_rates(step, settings.baseline_steps or 1)[1]


CNN_BASELINE_WEIGHTS = "cnn_baseline.npz"  # in the run directory: the baseline that training measured


def train_cnn_baseline(data, settings):
    """The CNN baseline trained for ``settings.baseline_steps`` on the training split (seeded apart from the GAN)."""
    keras.utils.set_random_seed(settings.seed + 1)
    clf = cnn_baseline(settings, len(data.attribute_names))
    ds = data.train_dataset(settings.batch_size, seed=settings.seed + 1, start_step=0)
    state = TrainingState(0, settings.baseline_steps)
    rate = LearningRates(state, lambda step: clf.opt.learning_rate.assign(baseline_learning_rate(settings, step)))
    clf.fit(ds, epochs=1, steps_per_epoch=settings.baseline_steps, verbose=0, shuffle=False,
            callbacks=[rate, StepCounter(state)])
    return clf


def save_cnn_baseline(clf, path):
    """``clf``'s weights as one .npz, written whole or not at all."""
    buf = io.BytesIO()
    np.savez(buf, *clf.get_weights())
    files.write_bytes(path, buf.getvalue())


def load_cnn_baseline(settings, n_labels, path):
    """The baseline saved by :func:`save_cnn_baseline` for a run of ``settings``; DataError naming the file when
    it cannot be read or does not fit the run."""
    clf = cnn_baseline(settings, n_labels)
    try:
        with np.load(path) as z:
            clf.set_weights([z[f"arr_{i}"] for i in range(len(z.files))])
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not this run's CNN baseline ({e}); remove it to compare C with the baseline "
                        "figure training measured") from e
    return clf


def cnn_baseline_probabilities(clf, x):
    return batched(lambda b: clf(to_float(b), training=False), x)


def compare_with_cnn_baseline(probs, baseline_probs, labels):
    """C's and the baseline's Hamming losses on the same images, and C's minus the baseline's with its
    95% interval (paired bootstrap over images): the test behind "C recognises as well as the CNN"."""
    wrong = lambda p: (np.asarray(p) >= 0.5) != (np.asarray(labels) >= 0.5)  # noqa: E731
    return {"cnn_baseline_hamming_loss": hamming_loss(baseline_probs, labels),
            "minus_cnn_baseline": statistics.paired_difference(wrong(probs), wrong(baseline_probs))}


def training_prevalence(data, n=4096):
    """Each label's majority value on the training split (the "majority guess" baseline)."""
    coll = data.train
    if getattr(coll, "labels", None) is not None:
        labels = coll.labels
    else:
        labels = coll.attributes(np.arange(n if coll.size is None else min(n, coll.size))).astype(np.float32)
    return (labels.mean(axis=0) >= 0.5).astype(np.float32)


def _test_set(data, n=None):
    """The first ``n`` test images (all when None), their indices and labels."""
    idx = np.arange(data.test.size if n is None else min(n, data.test.size))
    x, c = data.test.load_batch(idx)
    return idx, x, c


def _mean_abs_in(a, masks):
    """Per image: the mean of |a| over its mask (a: [N, S, S, 3], masks: bool [N, S, S])."""
    m3 = np.repeat(np.asarray(masks)[..., None], 3, axis=-1)
    return np.array([np.abs(a[i])[m3[i]].mean() for i in range(len(a))])


def closer_to_counterfactual(moved, rebuilt, target, masks):
    """Per face: is ``moved`` closer (mean L1 inside the attribute's mask) to the counterfactual ``target`` than
    ``rebuilt`` is? The test behind the transformation accuracy."""
    moved, rebuilt, target = (np.asarray(a, np.float64) for a in (moved, rebuilt, target))
    return _mean_abs_in(moved - target, masks) < _mean_abs_in(rebuilt - target, masks)


def transformation_scores(editor, data, idx, x, c, rebuilt):
    """Per attribute: flip it, compare with the rendered counterfactual inside the attribute's mask.

    ``accuracy`` is the share of images whose transformed attribute region is
    closer (L1) to the counterfactual than to the unchanged reconstruction; ``accuracy_set`` and
    ``accuracy_clear`` split it by direction (faces without the attribute, ``n_set`` of them, and faces
    with it; None when there are none). ``change_ratio`` is how much G changes the region when the label
    flips (mean |transformed - reconstruction|) against how much the renderer's counterfactual changes it
    (mean |counterfactual - input|): near 0, G ignores the label.
    """
    scores = {}
    share = lambda hits: float(np.mean(hits)) if len(hits) else None  # noqa: E731
    for k, name in enumerate(data.attribute_names):
        _, target, mask = data.test.counterfactual(idx, name)
        moved = editor.transform(x, {name: 1 - c[:, k]})
        closer = closer_to_counterfactual(moved, rebuilt, target, mask)
        unset = np.asarray(c[:, k]) < 0.5
        g_change = _mean_abs_in(np.asarray(moved, np.float64) - rebuilt, mask).mean()
        true_change = _mean_abs_in(np.asarray(target, np.float64) - x, mask).mean()
        scores[name] = {
            "accuracy": float(np.mean(closer)),
            "accuracy_set": share(closer[unset]), "accuracy_clear": share(closer[~unset]), "n_set": int(unset.sum()),
            "change_ratio": float(g_change / max(true_change, 1e-9)),
            "psnr_in_mask": metrics.mean_finite(metrics.psnr(moved, target, mask)),
            "rebuild_psnr_in_mask": metrics.mean_finite(metrics.psnr(rebuilt, target, mask)),
        }
    per = list(scores.values())
    scores["mean_accuracy"] = float(np.mean([v["accuracy"] for v in per]))
    for key in ("accuracy_set", "accuracy_clear"):
        scores[f"mean_{key}"] = metrics.mean_finite([np.nan if v[key] is None else v[key] for v in per])
    return scores


def z_recovery(editor, labels, n=512, seed=0):
    """How much of z C recovers (§3.3.3's aim): R^2 of z~ = C(D(G(z, c))) against z.

    z ~ U(-1, 1) fresh (``seed``), c cycled from ``labels`` (real label combinations), G's images rounded to
    uint8 as any user's are; R^2 = 1 - sum (z~ - z)^2 / sum (z - mean z)^2, pooled over all dimensions, so 0
    is the constant guess and 1 is exact recovery.
    """
    z = np.random.default_rng(seed).uniform(-1, 1, (n, editor.model.z_dim)).astype(np.float32)
    c = np.asarray(labels, np.float32)[np.arange(n) % len(labels)]
    z_hat = np.asarray(editor.encode(editor.generate(z, labels=c))[0], np.float64)
    return float(1.0 - np.sum((z_hat - z) ** 2) / np.sum((z - z.mean(axis=0)) ** 2))


def final_metrics(editor, data, settings, run_dir=None):
    """metrics.json at the end of training: recognition (vs majority and CNN baselines), reconstruction,
    transformation against counterfactuals (synthetic data).  The CNN baseline is saved in ``run_dir``
    (when given) so that ``tfface evaluate`` can compare it with C on any test images."""
    idx, x, c = _test_set(data, settings.eval_images)
    probs = editor.recognize(x)
    prevalence = training_prevalence(data)
    out = {"method": settings.method, "data": settings.data, "attribute_names": list(data.attribute_names),
           "test_images": int(len(x))}
    out["recognition"] = {
        "hamming_loss": hamming_loss(probs, c),
        "majority_baseline_hamming_loss": hamming_loss(np.broadcast_to(prevalence, c.shape), c),
        "per_attribute_accuracy": {n: float(np.mean((probs[:, k] >= 0.5) == (c[:, k] >= 0.5)))
                                   for k, n in enumerate(data.attribute_names)},
    }
    rebuilt = editor.reconstruct(x)
    out["reconstruction"] = {"psnr": metrics.mean_finite(metrics.psnr(rebuilt, x)),
                             "l1": float(np.abs(rebuilt.astype(np.float64) - x).mean() / 127.5)}
    out["latent"] = {"z_r2": z_recovery(editor, c, seed=settings.seed)}
    if settings.baseline_steps:
        clf = train_cnn_baseline(data, settings)
        if run_dir is not None:
            save_cnn_baseline(clf, os.path.join(run_dir, CNN_BASELINE_WEIGHTS))
        out["recognition"].update(compare_with_cnn_baseline(probs, cnn_baseline_probabilities(clf, x), c))
    if data.has_ground_truth:
        out["transformation"] = transformation_scores(editor, data, idx, x, c, rebuilt)
    return out


def summary_lines(m):
    r = m["recognition"]
    line = f"recognition: hamming loss {r['hamming_loss']:.4f} (majority baseline {r['majority_baseline_hamming_loss']:.4f}"
    if "cnn_baseline_hamming_loss" in r:
        line += f", CNN baseline {r['cnn_baseline_hamming_loss']:.4f}"
    line += ")"
    if "minus_cnn_baseline" in r:
        line += f"; C minus the CNN baseline {statistics.difference_text(r['minus_cnn_baseline'])} (95%)"
    yield line
    yield f"reconstruction: PSNR {m['reconstruction']['psnr']:.2f} dB, L1 {m['reconstruction']['l1']:.4f}"
    if "latent" in m:
        yield f"latent code: C recovers z with R^2 {m['latent']['z_r2']:.3f} (0 = the constant guess)"
    if "transformation" in m:
        t = m["transformation"]
        line = f"transformation: mean accuracy vs counterfactual {t['mean_accuracy']:.3f}"
        if t.get("mean_accuracy_set") is not None:     # runs before 2026-12-04 lack the split
            line += f" (setting an attribute {t['mean_accuracy_set']:.3f}, clearing it {t['mean_accuracy_clear']:.3f})"
        yield line


def registry_scores(m):
    """A bundled iterative GAN's val scores from its evaluation ``m`` (None when it was not evaluated):
    recognition, reconstruction, z recovery and the judged flip rates of its transformations."""
    if m is None:
        return None
    rec, rc = m.get("recognition") or {}, m.get("reconstruction") or {}
    return {**provenance(m), "images": m.get("images"), "hamming_loss": rec.get("hamming_loss"),
            "cnn_baseline_hamming_loss": rec.get("cnn_baseline_hamming_loss"),
            "reconstruction_psnr": rc.get("psnr"),
            "reconstruction_identity_median": (rc.get("identity") or {}).get("median_distance"),
            "z_r2": (m.get("latent") or {}).get("z_r2"), "mean_flip_rate": m.get("mean_classifier_flip_rate"),
            "mean_flip_rate_unedited": m.get("mean_classifier_flip_rate_rebuilt"),
            "flip_rate": {n: (t.get("classifier_flip_rate") or {}).get("rate")
                          for n, t in (m.get("transformation") or {}).items()}}


# -- measures along training (--judge_every) -----------------------------------------------
PROGRESS_IDENTITY_PAIRS = 64
PROGRESS_Z_CODES = 256


class ProgressJudge:
    """The four tasks' quality on held-out images while a run trains (``--judge_every``, one line of
    progress.jsonl), on the first ``settings.eval_images`` test images:

    recognition: C's Hamming loss; reconstruction: PSNR and the median dlib identity distance of the first
    ``identity_pairs`` (None without the ``faces`` extra); transformation: per learnt attribute the shipped
    judge's flip rate when it is set to the opposite of its true value on every image, and their mean
    (None without a judge for the data and size), beside the mean of the same rates on the unchanged
    reconstructions (what the flip rate is without an edit); latent code: :func:`z_recovery` on 256 codes.
    """

    def __init__(self, settings, data, identity_pairs=PROGRESS_IDENTITY_PAIRS):
        self.identity_pairs = int(identity_pairs)
        self.idx, self.x, self.c = _test_set(data, settings.eval_images)
        self.names = tuple(data.attribute_names)
        self.judge, self.columns = None, {}
        try:
            self.judge, info = judge_lib.load(judge_lib.shipped_dir(data.spec.kind, settings.image_size))
            self.columns = {n: info["attribute_names"].index(n) for n in self.names if n in info["attribute_names"]}
        except FileNotFoundError:
            pass

    def __call__(self, editor):
        x, c = self.x, self.c
        rebuilt = editor.reconstruct(x)
        out = {"hamming_loss": hamming_loss(editor.recognize(x), c),
               "reconstruction_psnr": metrics.mean_finite(metrics.psnr(rebuilt, x)),
               "identity_median": face_measures.median_identity_distance(x, rebuilt, self.identity_pairs),
               "flip_rate": {}, "mean_flip_rate": None, "z_r2": z_recovery(editor, c, n=PROGRESS_Z_CODES)}
        unchanged = []
        if self.columns:
            p_rebuilt = judge_lib.predict(self.judge, rebuilt)
        for name, col in self.columns.items():
            k = self.names.index(name)
            p = judge_lib.predict(self.judge, editor.transform(x, {name: 1 - c[:, k]}))[:, col]
            out["flip_rate"][name] = float(np.mean(flipped(p, c[:, k])))
            unchanged.append(float(np.mean(flipped(p_rebuilt[:, col], c[:, k]))))
        if out["flip_rate"]:
            out["mean_flip_rate"] = float(np.mean(list(out["flip_rate"].values())))
            # The same judge on the plain reconstructions: how often it reads the opposite value with nothing set.
            out["mean_flip_rate_rebuilt"] = float(np.mean(unchanged))
        return out


# -- full evaluation ------------------------------------------------------------------------
def evaluate(ctx, figures_dir):
    ed, names_all = ctx.editor, ctx.data.attribute_names
    idx, x, c = _test_set(ctx.data, ctx.images)
    probs = ed.recognize(x)
    out = {"images": int(len(x)), "recognition": {"hamming_loss": hamming_loss(probs, c)}}
    trained = ctx.training_metrics()
    if "majority_baseline_hamming_loss" in trained.get("recognition", {}):
        out["recognition"]["majority_baseline_hamming_loss"] = trained["recognition"]["majority_baseline_hamming_loss"]
    baseline = os.path.join(ctx.run_dir, CNN_BASELINE_WEIGHTS)
    if os.path.isfile(baseline):      # the run's own baseline, on these images
        clf = load_cnn_baseline(ctx.settings, len(names_all), baseline)
        out["recognition"].update(compare_with_cnn_baseline(probs, cnn_baseline_probabilities(clf, x), c))
    elif "cnn_baseline_hamming_loss" in trained.get("recognition", {}):
        # Runs from before the baseline was saved: its loss as training measured it, on its own test images.
        out["recognition"]["cnn_baseline_hamming_loss"] = trained["recognition"]["cnn_baseline_hamming_loss"]
        out["recognition"]["cnn_baseline_images"] = trained.get("test_images")
    rebuilt = ed.reconstruct(x)
    out["reconstruction"] = {"psnr": metrics.mean_finite(metrics.psnr(rebuilt, x)),
                             "ssim": metrics.mean_finite(metrics.ssim(rebuilt, x))}
    out["latent"] = {"z_r2": z_recovery(ed, c)}
    out["reconstruction"]["identity"] = ctx.optional("identity_reconstruction", lambda: ctx.identity(x, rebuilt))
    names = [n for n in FIGURE_ATTRIBUTES if n in names_all][:3]
    out["transformation"] = {}
    rows = [list(x[:6]), list(rebuilt[:6])]
    # Every learnt attribute is flipped and judged; the figure's few also get identity and ground truth.
    figure_columns = {}
    for k, name in enumerate(names_all):
        moved = ed.transform(x, {name: 1 - c[:, k]})
        entry = {}
        if name in names:
            figure_columns[name] = list(moved[:6])
            entry["identity"] = ctx.optional(f"identity_{name}", lambda m=moved: ctx.identity(x, m))

        def flip(m=moved, k=k, name=name):
            p = ctx.probability_of(m, name)
            return statistics.rate(flipped(p, c[:, k]))

        entry["classifier_flip_rate"] = ctx.optional(f"classifier_{name}", flip)
        # The photo path: the same change pasted onto the input's own pixels, at the evaluation's strength.
        pasted = ed.paste(x, {name: 1 - c[:, k]})
        entry["pasted"] = {
            "classifier_flip_rate": ctx.optional(f"classifier_pasted_{name}", lambda m=pasted, f=flip: f(m)),
            "identity": ctx.optional(f"identity_pasted_{name}", lambda m=pasted: ctx.identity(x, m))}
        if name in names and ctx.data.has_ground_truth:
            _, target, mask = ctx.data.test.counterfactual(idx, name)
            entry["ground_truth"] = metrics.ground_truth_scores(rebuilt, moved, target, mask)
        out["transformation"][name] = entry
    judged = [e["classifier_flip_rate"]["rate"] for e in out["transformation"].values() if e["classifier_flip_rate"]]
    out["mean_classifier_flip_rate"] = float(np.mean(judged)) if judged else None
    pasted = [e["pasted"] for e in out["transformation"].values()]
    rates = [p["classifier_flip_rate"]["rate"] for p in pasted if p["classifier_flip_rate"]]
    medians = [p["identity"]["median_distance"] for p in pasted if p["identity"]]
    out["pasted"] = {"strength": ed.strength, "mean_classifier_flip_rate": float(np.mean(rates)) if rates else None,
                     "mean_identity_median": float(np.mean(medians)) if medians else None}

    # The judge reading the opposite value on the plain reconstructions (one pass for all attributes).
    judged_names = [(k, name) for k, name in enumerate(names_all) if out["transformation"][name]["classifier_flip_rate"]]
    unchanged = []
    if judged_names:
        p = ctx.judged(rebuilt)[0]
        unchanged = [float(np.mean(flipped(p[:, ctx.label_index(name)], c[:, k]))) for k, name in judged_names]
    out["mean_classifier_flip_rate_rebuilt"] = float(np.mean(unchanged)) if unchanged else None
    rows += [figure_columns[name] for name in names]
    files.save_image(grid_image([list(r) for r in zip(*rows)]), os.path.join(figures_dir, "transform_grid.png"))
    out["figures"] = {"transform_grid": "transform_grid.png"}
    out["figure_columns"] = ["input", "rebuilt"] + [f"flip {n}" for n in names]
    return out


def report_sections(r):
    rec = r["recognition"]
    lines = ["## Recognition", "", "| | Hamming loss |", "|---|---|", f"| classifier C | {fmt(rec['hamming_loss'], 4)} |"]
    for k, label in (("cnn_baseline_hamming_loss", "CNN baseline (same D trunk, labels only)"),
                     ("majority_baseline_hamming_loss", "majority value per label")):
        if k in rec:
            lines.append(f"| {label} | {fmt(rec[k], 4)} |")
    if "minus_cnn_baseline" in rec:
        d = rec["minus_cnn_baseline"]
        lines += ["", f"C minus the CNN baseline, on the same {d['images']} images: {statistics.difference_text(d)} "
                  "(95% interval, bootstrap over images; below 0: C recognises better)."]
    elif rec.get("cnn_baseline_images") is not None:
        lines += ["", f"The CNN baseline's loss is the one training measured, on its first {rec['cnn_baseline_images']} "
                  "test images (the run saved no baseline weights)."]
    rc = r["reconstruction"]
    lines += ["", "## Reconstruction", "", f"PSNR {fmt(rc['psnr'])} dB, SSIM {fmt(rc['ssim'], 3)}"
              + (f", identity median distance {fmt(rc['identity']['median_distance'], 3)}" if rc.get("identity") else ""), ""]
    if "latent" in r:
        lines += [f"Latent code: C recovers z from G's images with R² {fmt(r['latent']['z_r2'], 3)} "
                  "(0 = the constant guess, 1 = exact).", ""]
    lines += ["## Transformation", "", "| attribute | judged flip rate [95% Wilson] | identity median distance | PSNR in mask vs truth |",
              "|---|---|---|---|"]
    for name, t in r["transformation"].items():
        gt = t.get("ground_truth", {}).get("model", {})
        flip = t.get("classifier_flip_rate")
        lines.append(f"| {name} | {statistics.interval_text(flip) if flip else '–'} | "
                     f"{fmt((t.get('identity') or {}).get('median_distance'), 3)} | {fmt(gt.get('psnr_in_mask'))} |")
    if r.get("mean_classifier_flip_rate") is not None:
        lines += ["", f"Mean judged flip rate over the attributes: {fmt(r['mean_classifier_flip_rate'], 3)} "
                  "(each attribute set to the opposite of its true value on every test face); on the unchanged "
                  f"reconstructions: {fmt(r.get('mean_classifier_flip_rate_rebuilt'), 3)}."]
    if "pasted" in r:  # evaluations from before 2026-12-05 lack the photo path
        p = r["pasted"]
        lines += ["", "## The photo path", "",
                  f"The same changes as `tfface iterative transform photo.jpg --strength {p['strength']:g}` pastes them: "
                  f"x + {p['strength']:g} (G(z~, c') - G(z~, c~)), only what the labels change added to the input's own "
                  "pixels.", "", "| attribute | judged flip rate [95% Wilson] | identity median distance |", "|---|---|---|"]
        for name, t in r["transformation"].items():
            flip, ident = t["pasted"]["classifier_flip_rate"], t["pasted"]["identity"]
            lines.append(f"| {name} | {statistics.interval_text(flip) if flip else '–'} | "
                         f"{fmt((ident or {}).get('median_distance'), 3)} |")
        lines += ["", f"Mean judged flip rate {fmt(p['mean_classifier_flip_rate'], 3)}; mean of the identity medians "
                  f"{fmt(p['mean_identity_median'], 3)}."]
    lines += ["", f"Columns: {' | '.join(r['figure_columns'])}", "", f"![transformations]({r['figures']['transform_grid']})", ""]
    return lines
