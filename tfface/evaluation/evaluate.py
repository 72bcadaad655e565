"""Evaluate a trained run: the numbers the papers could not give, offline.

    tfface evaluate --run_dir runs/residual-Eyeglasses-synthetic-64px
    tfface evaluate --run_dir RUN --compare runs/no-residual,runs/no-dual    # ablation table
    tfface evaluate --run_dir RUN --data celeba:/data/celeba                 # its test split (or val)
    tfface evaluate --run_dir RUN --data folders:/faces/A,/faces/B --images 500   # a random 500 of each
    tfface evaluate --run_dir RUN --strength 0.8        # the edits as `tfface edit --strength 0.8` makes them

Writes ``<run_dir>/eval/metrics.json`` and ``<run_dir>/eval/report.md`` with
figures (PNG) next to them; the directory is replaced as a whole.  At a
``--strength`` other than 1 the directory is ``<run_dir>/eval-strength-<S>``
(the full-strength evaluation, which bundles read, stays as it is).  What is
measured is the method's (:mod:`tfface.evaluation.residual`,
:mod:`tfface.evaluation.iterative`); this module supplies what both use:
the run, its test data, the judge (the attribute classifier shipped for the
data kind and image size, or ``--classifier DIR``; nothing is trained at
evaluation time, see :mod:`tfface.evaluation.judge`), dlib identity
distances, and the record of measures that could not be taken.
"""

from __future__ import annotations

import math
import os

import keras

from tfface import files
from tfface.errors import UsageError
from tfface.evaluation import distances, face_measures, judge
from tfface.evaluation.report import report
from tfface.methods import load_run
from tfface.training.run import RunDirectory


class EvaluationContext:
    """One run under evaluation: its model, editor and test data, and the shared measures.

    ``data`` (a ``--data`` value) evaluates on other data: its held-out images
    alone, no training split is read (:func:`tfface.data.sources.load_domains`).
    ``images``: test images per domain (None: all of them), a fixed random subset.
    ``strength``: the residual editors' edits scaled as ``tfface edit --strength`` scales them, and an iterative
    GAN's pasted changes (its photo path) as ``tfface iterative transform --strength`` scales them.
    """

    def __init__(self, run_dir, data=None, classifier_dir=None, images=None, say=print, strength=1.0):
        run = load_run(run_dir)
        self.run_dir, self.say, self.step = run.run_dir, say, run.step
        self.method, self.model = run.method, run.model
        changes = {**({"data": data} if data else {}), **({"eval_images": images} if images else {})}
        self.settings = run.settings.replace(**changes).validate()
        self.editor = self.method.editor(self.model, self.settings, strength)
        self.data = self.method.load_data(self.settings, test_only=data is not None)
        self.images = images
        self.classifier_dir = classifier_dir
        self.skipped = {}
        self._classifier = None
        self._judge_outputs = None
        self._identity_reference = None

    def optional(self, name, fn):
        """``fn()``, or None with the reason recorded under ``name`` when a measure cannot be taken
        (no dlib, no classifier label, no face)."""
        try:
            return fn()
        except (RuntimeError, ImportError, FileNotFoundError, ValueError) as e:
            self.skipped[name] = str(e)
            return None

    def classifier(self):
        """(model, info, directory) of the judge: ``--classifier DIR``, else the shipped one for
        (data kind, image size); FileNotFoundError (the measure is skipped, with the reason) when neither exists."""
        if self._classifier is None:
            spec = self.settings.data_spec
            # Folders of faces are judged by the CelebA judge when the attribute is one of its labels.
            kind = "celeba" if spec.kind == "folders" else spec.kind
            d = self.classifier_dir or judge.shipped_dir(kind, self.settings.image_size)
            model, info = judge.load(d)
            if info["image_size"] != self.settings.image_size:
                raise ValueError(f"the judge at {d} is for {info['image_size']} px images, the run's are "
                                 f"{self.settings.image_size} px")
            self._classifier = (model, info, d)
        return self._classifier

    def label_index(self, attribute):
        """The judge's column of ``attribute``; ValueError when it has no such label."""
        names = self.classifier()[1]["attribute_names"]
        if attribute not in names:
            raise ValueError(f"the judge has no label {attribute!r}")
        return names.index(attribute)

    def judged(self, images):
        """(probabilities of all the judge's labels [N, K], its penultimate features [N, F]) of uint8 images,
        from one pass of the judge."""
        if self._judge_outputs is None:  # the judge with its features as a second output, built once
            model = self.classifier()[0]
            self._judge_outputs = keras.Model(model.input, [model.output, model.get_layer("features").output])
        return judge.predict(self._judge_outputs, images)

    def probability_of(self, images, attribute):
        k = self.label_index(attribute)
        return self.judged(images)[0][:, k]

    @staticmethod
    def distribution_distances(edited, unedited, real):
        """Fréchet and kernel distances on judge features from ``real`` images' features, of the edits' and of
        doing nothing's (the unedited inputs')."""
        out = {"real_images": int(len(real))}
        for who, f in (("model", edited), ("do_nothing", unedited)):
            out[who] = {"frechet": distances.frechet_distance(f, real), "kernel": distances.kernel_distance(f, real)}
        return out

    def identity(self, a, b):
        """Identity summary of the pairs (a[i], b[i]).  ``a``'s embeddings are kept for the next call with the
        same array (the test images, against each of their edits in turn)."""
        if self._identity_reference is None or self._identity_reference.inputs is not a:
            self._identity_reference = face_measures.IdentityReference(a)
        return face_measures.identity_summary(self._identity_reference.distances(b))

    def training_metrics(self):
        """The run's own metrics.json (baselines measured at the end of training), or {}."""
        run = RunDirectory(self.run_dir)
        return run.read_metrics() if run.has_metrics() else {}


def output_dir(run_dir, strength=1.0):
    """Where an evaluation at ``strength`` is written: <run_dir>/eval, or eval-strength-<S> at any other strength."""
    return os.path.join(run_dir, "eval" if strength == 1.0 else f"eval-strength-{strength:g}")


def evaluate(run_dir, data=None, classifier_dir=None, images=None, compare=(), say=print, strength=1.0):
    """Run every applicable measure; write :func:`output_dir` (replaced as a whole). Returns the metrics.

    ``images``: test images per domain, a fixed random subset (None: the whole test split)."""
    if images is not None and images < 1:
        raise ValueError(f"--images must be >= 1, got {images}")
    if not (math.isfinite(strength) and strength > 0):
        raise UsageError(f"--strength must be a finite number above 0, got {strength}")
    ctx = EvaluationContext(run_dir, data, classifier_dir, images, say, strength)
    final = output_dir(run_dir, strength)
    with files.building_directory(final) as tmp:
        s = ctx.settings
        result = {"run_dir": ctx.run_dir, "method": s.method, "attribute": s.attribute, "subject": ctx.method.subject(s),
                  "data": s.data, "step": ctx.step, "image_size": s.image_size, "strength": strength}
        result.update(ctx.method.evaluate(ctx, tmp))
        if ctx._classifier is not None:
            _, info, d = ctx._classifier
            result["judge"] = {"dir": d, "mean_val_balanced_accuracy": info["mean_val_balanced_accuracy"],
                               "val_balanced_accuracy": info["val_balanced_accuracy"]}
        if compare:
            rows = []
            for other in [run_dir, *compare]:
                c = ctx if other == run_dir else EvaluationContext(other, images=images, say=say, strength=strength)
                rows.append(c.method.ablation_row(c))
            result["ablation"] = rows
        result["skipped"] = ctx.skipped
        files.write_json(os.path.join(tmp, "metrics.json"), result)
        files.write_text(os.path.join(tmp, "report.md"), report(result, ctx.method.report_sections(result)))
    say(f"evaluation: {os.path.join(final, 'report.md')}")
    return result
