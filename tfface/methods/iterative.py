"""The iterative GAN ("Two Birds with One Stone"): G(z, c), D and C on all labels, in two stages.

Its own files: the networks (tfface/models/iterative.py), the losses
(tfface/losses/iterative.py), the Keras model, train step and adaptive
update rule (tfface/training/iterative_gan.py), the SavedModel signatures
(``iterative_archive`` in tfface/export/saved_model.py) and the measures,
with the CNN baseline (tfface/evaluation/iterative.py).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfface.data import celeba, synthetic
from tfface.data.sources import load_labeled
from tfface.evaluation import iterative as measures
from tfface.export import saved_model
from tfface.inference import Editor
from tfface.models.face_recognizer import IdentityEmbedder
from tfface.methods.base import Method
from tfface.pictures import grid_image
from tfface.pretrained import NETWORK_WEIGHTS
from tfface.training.iterative_gan import IterativeGAN

# Attributes flipped in the sample grid, where the data has them.
SAMPLE_ATTRIBUTES = ("Eyeglasses", "Smiling", "Male", "Bangs", "Blond_Hair", "Young", "No_Beard", "Mouth_Slightly_Open")


class IterativeMethod(Method):
    name = "iterative"
    model_class = IterativeGAN
    log_keys = tuple(k for k in IterativeGAN.metric_names if k != "inte")
    tflite_outputs = {"transform_tensor": ("image", True), "recognize_tensor": ("probabilities", False)}
    sample_count = 4

    def resolve(self, s, saved=None):
        """Stage 1 lasts half of --steps unless set; a resumed run keeps the boundary it was trained with (a
        longer --steps must not move stage 2's start back or forth under steps already trained)."""
        stage1 = s.stage1_steps
        if stage1 is None:
            stage1 = saved.stage1_steps if saved is not None and saved.stage1_steps is not None else s.steps // 2
        return s.replace(stage1_steps=stage1,
                         baseline_steps=s.steps if s.baseline_steps is None else s.baseline_steps, alpha=None, beta=None)

    def attribute_names(self, s):
        """The labels a run with settings ``s`` learns (known without loading the data)."""
        if s.label_names:
            return s.label_names
        return {"synthetic": synthetic.ATTRIBUTES, "celeba": celeba.ATTRIBUTES}.get(s.data_spec.kind, (s.attribute,))

    def subject(self, s):
        return "all"

    def load_data(self, s, test_only=False):
        return load_labeled(s.data_spec, s.image_size, seed=s.seed, strict=s.strict_data, split=s.split,
                            synthetic_test_size=s.eval_images, synthetic_train_size=s.synthetic_train_size,
                            attribute=s.attribute, test_only=test_only, labels=s.label_names)

    def model_arguments(self, s):
        return {"n_labels": len(self.attribute_names(s))}

    def loss_arguments(self, s):
        return {"lambdas": (s.lambda_per, s.lambda_pix, s.lambda_z), "update_ratio": s.update_ratio,
                "max_updates": s.max_updates, "z_loss": s.z_loss,
                "fake_label_weight": s.fake_label_weight, "fake_label_stage": s.fake_label_stage,
                "z_loss_stage": s.z_loss_stage,
                "label_loss": s.label_loss,
                "label_weight": s.label_weight, "d_label_weight": s.d_label_weight,
                "lambda_edit": s.lambda_edit, "lambda_change": s.lambda_change, "lambda_id": s.lambda_id}

    def phases(self, s):
        """Stage 1: ACGAN only; stage 2: ACGAN + integrated loss (§1, Fig. 2)."""
        return [(s.stage1_steps, "stage1"), (s.steps, "stage2")]

    def prepare_training(self, model, settings):
        """The face recogniser of ``--lambda_id``: training alone uses it, and a missing file fails before the
        run directory is written, not when stage 2 begins."""
        if settings.lambda_id and model.recognizer is None:
            model.recognizer = IdentityEmbedder(settings.identity_model, settings.identity_shift,
                                               settings.identity_scale)

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

        ds = data.train_dataset(b, seed=s.seed, start_step=start_step, deterministic=True, flip=s.flip)
        return ds.enumerate(start_step).map(add_codes, num_parallel_calls=tf.data.AUTOTUNE)

    def editor(self, model, s, strength=1.0):
        """``strength`` scales the photo path's pasted change (:meth:`Editor.paste`), not G's transformations."""
        return Editor(model, self.attribute_names(s), strength=strength)

    def sample_grid(self, model, data):
        """Rows: input | rebuilt | one attribute flipped per column;  last row: generated faces."""
        ed = Editor(model, data.attribute_names)
        x, c = data.test.load_batch(np.arange(min(self.sample_count, data.test.size)))
        names = [a for a in SAMPLE_ATTRIBUTES if a in data.attribute_names][:4] or list(data.attribute_names[:4])
        cols = [x, ed.reconstruct(x)]
        for name in names:
            k = data.attribute_names.index(name)
            cols.append(ed.transform(x, {name: 1 - c[:, k]}))
        rows = [[col[i] for col in cols] for i in range(len(x))]
        gen = ed.generate(len(cols), labels=np.repeat(c[:1], len(cols), axis=0), seed=0)
        return grid_image(rows + [list(gen)])

    def final_metrics(self, model, data, s, run_dir=None):
        return measures.final_metrics(Editor(model, data.attribute_names), data, s, run_dir)

    def progress_measure(self, s, data):
        judge = measures.ProgressJudge(s, data)
        return lambda model: judge(Editor(model, data.attribute_names))

    def summarize(self, metrics):
        return measures.summary_lines(metrics)

    def export_archive(self, model, s):
        return saved_model.iterative_archive(model, s, self.attribute_names(s))

    def bundled_networks(self, model):
        return NETWORK_WEIGHTS, (model.g, model.d, model.c)  # D and C encode a face, G draws it

    def bundle_entry(self, s, evaluation):
        return {"attributes": list(self.attribute_names(s)), "z_dim": s.z_dim,
                "val": measures.registry_scores(evaluation)}

    def bundle_probe(self, run, images):
        """Reconstructions, as the uint8 images users get, back in [-1, 1]."""
        x = np.round((images + 1) * 127.5).astype(np.uint8)
        return run.editor().reconstruct(x).astype(np.float32) / 127.5 - 1

    def export_metadata(self, s):
        return {"z_dim": s.z_dim}

    def tflite_feeds(self, images01, s):
        n, k = len(images01), len(self.attribute_names(s))
        return {"transform_tensor": {"images": images01, "attributes": -np.ones([n, k], np.float32)},
                "recognize_tensor": {"images": images01}}

    def evaluate(self, ctx, figures_dir):
        return measures.evaluate(ctx, figures_dir)

    def report_sections(self, result):
        return measures.report_sections(result)
