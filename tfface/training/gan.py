"""What both papers' GANs share as Keras models: a generator and a discriminator optimizer,
one metric tracker per logged value, optimizer slots built before a checkpoint is restored,
and a ``get_config`` of the constructor's keyword arguments."""

from __future__ import annotations

import keras
import tensorflow as tf


class GANModel(keras.Model):
    """Base of :class:`~tfface.training.residual_gan.ResidualGAN` and
    :class:`~tfface.training.iterative_gan.IterativeGAN`.

    Subclasses set ``metric_names`` (the values ``train_step`` logs),
    ``settings_keys`` (constructor arguments that are settings of the same
    name and default), ``config_keys`` (all constructor arguments, saved by
    ``get_config``), and the two variable lists their optimizers train.
    """

    metric_names: tuple = ()
    settings_keys: tuple = ()
    config_keys: tuple = ()

    def get_config(self):
        return {**super().get_config(), **{k: getattr(self, k) for k in self.config_keys}}

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.trackers = {n: keras.metrics.Mean(name=n) for n in self.metric_names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def generator_variables(self):
        raise NotImplementedError

    @property
    def discriminator_variables(self):
        raise NotImplementedError

    def build_optimizers(self):
        """Create optimizer slots now (a checkpoint restores into existing slots)."""
        self.g_optimizer.build(self.generator_variables)
        self.d_optimizer.build(self.discriminator_variables)

    # -- the compiled step -----------------------------------------------------------------
    # Keras's fit() drives train_step through its own compiled function.  Under
    # MultiWorkerMirroredStrategy (Keras 3.15) that function's reduction of the logs fails, so the
    # multi-worker loop (tfface.training.loop) sets ``own_step`` and each step is our function:
    # strategy.run(train_step), every log averaged over the replicas.
    own_step = False

    def step_function(self):
        strategy = self.distribute_strategy

        @tf.function
        def step(iterator):
            out = strategy.run(self.train_step, args=(next(iterator),))
            return {k: strategy.reduce("MEAN", v, axis=None) for k, v in out.items()}

        return step

    def compiled_step(self):
        """A new compiled step over an iterator: ours with ``own_step``, else Keras's."""
        return self.step_function() if self.own_step else self._make_function(self.train_step)

    def make_train_function(self, force=False):
        if not self.own_step:
            return super().make_train_function(force)
        if self.train_function is None or force:
            self.train_function = self.step_function()
        return self.train_function

    def track(self, values):
        """Update the trackers of ``values`` ({name: scalar}); returns their running means."""
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}


def variables_without(variables, layer):
    """``variables`` minus the trainable variables of ``layer`` (a head that a loss does not reach)."""
    skip = {id(w) for w in layer.trainable_variables}
    return [w for w in variables if id(w) not in skip]
