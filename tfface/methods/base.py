"""The method contract: what one paper's method supplies to training, export and evaluation.

The shared machinery never asks which method it runs; it calls these hooks:

========================  =============================================================
training (tfface.training.loop)
``resolve(settings)``     fill in the method's defaults (e.g. alpha by attribute; a resumed run's own)
``load_data(settings)``   the data source's train/test split (``test_only``: held-out images alone)
``build_model(...)``      the compiled Keras model with its two optimizers built
``prepare_training``      load what only training needs, before the run directory is written
``checkpoint_objects``    what a checkpoint holds (model, both optimizers)
``set_learning_rate``     G's and D's learning rates of a step (flags may change on resume; the decay)
``phases(settings)``      ``[(end_step, name)]``: one fit() per phase
``enter_phase``           switch the model to a phase (e.g. the iterative GAN's stages)
``dataset(...)``          the endless training tf.data stream, starting at a step
``sample_grid``           the picture saved every ``--sample_every`` steps
``final_metrics``         metrics.json at the end of training; ``summarize``: its lines
``progress_measure``      ``measure(model) -> dict`` every ``--judge_every`` steps
using a trained model
``editor(model, s)``      the inference object (:mod:`tfface.inference`)
``attribute_names(s)``    the labels the model knows, without loading data
export (tfface.export.exporter)
``export_archive``        the SavedModel's signatures (``keras.export.ExportArchive``)
``export_metadata``       what assets.extra/tfface.json adds for this method
``tflite_outputs``        {tensor signature: (checked output, is it an image)}
``tflite_feeds``          inputs of each tensor signature for float images in [0, 1]
bundling (tfface.pretrained.building)
``bundled_networks``      (weights file, the networks a bundle keeps)
``bundle_entry``          the registry fields: what it edits, its val scores from ``tfface evaluate``
``bundle_probe``          float outputs of a run on images, to compare float16 weights with the run's
evaluation (tfface.evaluation.evaluate)
``evaluate(ctx, dir)``    the measures of ``tfface evaluate``; ``report_sections``: markdown
``ablation_row(ctx)``     one row of the ``--compare`` table
========================  =============================================================

:class:`Method` implements what both methods share: an Adam optimizer
pair (wrapped for float16 loss scaling), the checkpoint objects, the
learning-rate setting, a single phase, and the default run directory name.
"""

from __future__ import annotations

import os

from tfface.settings import Settings
from tfface.training import distribution

GIB = 1 << 30
# Measured (BENCHMARKS.md): the residual GAN at 128 px, width 1, batch 16 peaks at 5.3 GiB; activations
# grow with batch x pixels x width, on top of about 1 GiB for TensorFlow and the data.
MEASURED_BYTES, MEASURED_AT, BASE_BYTES = 5.3 * GIB, (16, 128, 1.0), 1.0 * GIB


class Method:
    name = ""
    log_keys: tuple = ()
    model_class = None  # a tfface.training.gan.GANModel subclass
    tflite_outputs: dict = {}

    # -- settings -----------------------------------------------------------------------------
    def resolve(self, settings: Settings, saved: Settings | None = None) -> Settings:
        """Fill in the method's defaults; ``saved``: the settings of the run being resumed (None for a new run)."""
        return settings

    def attribute_names(self, settings: Settings) -> tuple:
        raise NotImplementedError

    def subject(self, settings: Settings) -> str:
        """What the model edits, for names and titles (an attribute, or "all")."""
        raise NotImplementedError

    def training_memory_bytes(self, settings: Settings) -> int:
        """A rule of thumb for the peak memory of training (both methods' networks are of one size class)."""
        b, s, w = MEASURED_AT
        scale = (settings.batch_size / b) * (settings.image_size / s) ** 2 * (settings.width / w)
        return int(BASE_BYTES + MEASURED_BYTES * scale)

    def default_run_dir(self, settings: Settings) -> str:
        return os.path.join("runs", f"{self.name}-{self.subject(settings)}-{settings.data_spec.kind}-{settings.image_size}px")

    # -- data and model -----------------------------------------------------------------------
    def load_data(self, settings: Settings, test_only=False):
        """DomainData or LabeledData (:mod:`tfface.data.sources`); ``test_only``: the held-out images alone."""
        raise NotImplementedError

    def model_arguments(self, settings: Settings) -> dict:
        """Constructor arguments of ``model_class`` beyond the settings of the same names."""
        return {}

    def loss_arguments(self, settings: Settings) -> dict:
        """``compile`` arguments of ``model_class`` (loss weights and the like)."""
        return {}

    def make_optimizers(self, settings: Settings):
        """(generator optimizer, discriminator optimizer): Adam as in both papers."""
        return tuple(distribution.make_optimizer(lr, settings.beta_1, settings.beta_2, settings.mixed_precision, name)
                     for lr, name in zip(settings.learning_rates(0), ("g_optimizer", "d_optimizer")))

    def build_model(self, settings: Settings, sync_batchnorm=False):
        model = self.model_class(**settings.pick(self.model_class.settings_keys), **self.model_arguments(settings),
                                 sync_batchnorm=sync_batchnorm)
        model.compile(*self.make_optimizers(settings), jit_compile=settings.jit_compile, **self.loss_arguments(settings))
        model.build_optimizers()
        return model

    def checkpoint_objects(self, model):
        return {"model": model, "g_optimizer": model.g_optimizer, "d_optimizer": model.d_optimizer}

    def set_learning_rate(self, model, settings: Settings, step):
        """G's and D's learning rates for ``step`` (the flags may change on resume; the schedule moves each step)."""
        for opt, lr in zip((model.g_optimizer, model.d_optimizer), settings.learning_rates(step)):
            getattr(opt, "inner_optimizer", opt).learning_rate.assign(lr)

    def phases(self, settings: Settings):
        return [(settings.steps, "")]

    def prepare_training(self, model, settings: Settings):
        """Load what training needs and evaluating or exporting a run does not (a file a flag names), so that a
        missing file fails before the run directory is written."""

    def enter_phase(self, model, phase):
        pass

    def dataset(self, data, settings: Settings, start_step):
        raise NotImplementedError

    # -- results ------------------------------------------------------------------------------
    def editor(self, model, settings: Settings, strength=1.0):
        """The inference object of a trained model; ``strength`` scales its edits (UsageError where the method
        has no such scale)."""
        raise NotImplementedError

    def sample_grid(self, model, data):
        raise NotImplementedError

    def final_metrics(self, model, data, settings: Settings, run_dir=None) -> dict:
        """metrics.json's measures; ``run_dir``: where training keeps what they measured against, if anything."""
        raise NotImplementedError

    def summarize(self, metrics: dict):
        raise NotImplementedError

    def progress_measure(self, settings: Settings, data):
        """``measure(model) -> dict`` of the edits' quality on held-out data, for ``--judge_every``."""
        raise NotImplementedError

    # -- export ------------------------------------------------------------------------------
    def export_archive(self, model, settings: Settings):
        raise NotImplementedError

    def export_metadata(self, settings: Settings) -> dict:
        return {}

    def tflite_feeds(self, images01, settings: Settings) -> dict:
        raise NotImplementedError

    # -- bundling ----------------------------------------------------------------------------
    def bundled_networks(self, model) -> tuple:
        """(weights file name, the networks a bundle keeps, float16)."""
        raise NotImplementedError

    def bundle_entry(self, settings: Settings, evaluation) -> dict:
        """Registry fields of this method: what it edits and its val scores from ``evaluation`` (the run's
        ``tfface evaluate`` metrics, None when it was not evaluated)."""
        raise NotImplementedError

    def bundle_probe(self, run, images):
        """Float outputs of a trained run on float images in [-1, 1] [N, S, S, 3]."""
        raise NotImplementedError

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, ctx, figures_dir) -> dict:
        raise NotImplementedError

    def report_sections(self, result: dict) -> list:
        raise NotImplementedError

    def ablation_row(self, ctx) -> dict:
        raise ValueError(f"{ctx.run_dir}: {self.name} runs have no ablation table (--compare)")
