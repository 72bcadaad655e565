"""The residual-image method (Shen & Liu 2017): one attribute, two domains, G0 adds it and G1 removes it.

Its own files: the networks (tfface/models/residual.py), the losses
(tfface/losses/residual.py), the Keras model and train step
(tfface/training/residual_gan.py), the SavedModel signatures
(``residual_archive`` in tfface/export/saved_model.py) and the measures
(tfface/evaluation/residual.py).
"""

from __future__ import annotations

import numpy as np

from tfface.data.sources import load_domains
from tfface.evaluation import regions
from tfface.evaluation import residual as measures
from tfface.export import saved_model
from tfface.inference import DIRECTIONS, ResidualEditor
from tfface.methods.base import Method
from tfface.pictures import grid_image, residual_picture
from tfface.pretrained import WEIGHTS
from tfface.training.residual_gan import ResidualGAN, default_alpha


class ResidualMethod(Method):
    name = "residual"
    model_class = ResidualGAN
    log_keys = ResidualGAN.metric_names + ("d_r1",)  # d_r1 only with --r1_gamma
    tflite_outputs = {"add_tensor": ("edited", True), "remove_tensor": ("edited", True)}
    sample_count = 4

    def resolve(self, s, saved=None):
        """Fill in the paper's defaults: alpha by attribute (local/global), beta = 0.1 alpha; a resumed run
        keeps its G layer layout (its checkpoints name layers by position)."""
        alpha = default_alpha(s.attribute) if s.alpha is None else s.alpha
        s = s.replace(alpha=alpha, beta=0.1 * alpha if s.beta is None else s.beta)
        return s if saved is None else s.replace(g_layers=saved.g_layers)

    def attribute_names(self, s):
        return (s.attribute,)

    def subject(self, s):
        return s.attribute

    def load_data(self, s, test_only=False):
        return load_domains(s.data_spec, s.attribute, s.image_size, seed=s.seed, strict=s.strict_data,
                            synthetic_test_size=s.eval_images, synthetic_train_size=s.synthetic_train_size,
                            test_only=test_only)

    def loss_arguments(self, s):
        remove_k = s.outside_weight if s.remove_outside_weight is None else s.remove_outside_weight
        return {"alpha": s.alpha, "beta": s.beta, "diffaugment": s.diffaugment, "r1_gamma": s.r1_gamma,
                "real_class_weight": s.real_class_weight, "diffaugment_colour": s.diffaugment_colour,
                "sparsity_weights": tuple(None if k == 1 else regions.sparsity_weights(s.attribute, s.image_size, k)
                                          for k in (s.outside_weight, remove_k))}

    def phases(self, s):
        """One phase: the paper trains G0, G1 and D together "without any staging" (§5)."""
        return [(s.steps, "")]

    def dataset(self, data, s, start_step):
        return data.train_dataset(s.batch_size, seed=s.seed, start_step=start_step, deterministic=True, flip=s.flip)

    def editor(self, model, s=None, strength=1.0):
        return ResidualEditor(model, strength=strength)

    def sample_grid(self, model, data):
        """Rows: x0 | residual | G0(x0) || x1 | residual | G1(x1), for fixed test images."""
        sets = measures.edited_test_sets(self.editor(model), data, self.sample_count)
        (_, x0, e0), (_, x1, e1) = (sets[d] for d in DIRECTIONS)
        return grid_image([[x0[i], residual_picture(x0[i], e0[i]), e0[i], x1[i], residual_picture(x1[i], e1[i]), e1[i]]
                           for i in range(min(len(x0), len(x1)))])

    def final_metrics(self, model, data, s, run_dir=None):
        return measures.final_metrics(self.editor(model), data, s)

    def progress_measure(self, s, data):
        judge = measures.ProgressJudge(s)
        return lambda model: judge(self.editor(model), data)

    def summarize(self, metrics):
        return measures.summary_lines(metrics)

    def export_archive(self, model, s):
        return saved_model.residual_archive(model, s)

    def bundled_networks(self, model):
        return WEIGHTS, (model.g0, model.g1)  # D is not shipped

    def bundle_entry(self, s, evaluation):
        return {"attribute": s.attribute, "val": measures.registry_scores(evaluation)}

    def bundle_probe(self, run, images):
        return np.concatenate([np.asarray(run.model.g0(images)), np.asarray(run.model.g1(images))])

    def tflite_feeds(self, images01, s):
        feed = {"images": images01, "strength": np.ones([len(images01)], np.float32)}
        return {"add_tensor": feed, "remove_tensor": feed}

    def evaluate(self, ctx, figures_dir):
        return measures.evaluate(ctx, figures_dir)

    def report_sections(self, result):
        return measures.report_sections(result)

    def ablation_row(self, ctx):
        return measures.ablation_row(ctx)
