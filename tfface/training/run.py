"""A run directory: settings, checkpoints, logs, samples and metrics of one training run.

::

    runs/<name>/
      settings.json        the settings used (reloaded by resume, export and evaluation)
      checkpoints/         models, optimizers and the step counter (last 3 kept)
      logs/                TensorBoard scalars and image grids
      samples/             PNG sample grids at intervals
      metrics.json         final scores, written when training finishes

All JSON files are written atomically.  :func:`tfface.methods.load_run`
rebuilds a trained model from a run directory.
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf

from tfface import files
from tfface.settings import Settings, SettingsError

KEEP_CHECKPOINTS = 3


class RunDirectory:
    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.settings_path = os.path.join(self.path, "settings.json")
        self.metrics_path = os.path.join(self.path, "metrics.json")
        self.checkpoint_dir = os.path.join(self.path, "checkpoints")
        self.log_dir = os.path.join(self.path, "logs")
        self.samples_dir = os.path.join(self.path, "samples")

    def exists(self):
        return os.path.isfile(self.settings_path)

    def has_metrics(self):
        return os.path.isfile(self.metrics_path)

    def create(self):
        for d in (self.path, self.checkpoint_dir, self.samples_dir):
            os.makedirs(d, exist_ok=True)

    def load_settings(self) -> Settings:
        if not self.exists():
            raise FileNotFoundError(f"not a run directory (no settings.json): {self.path}")
        try:
            return Settings.load(self.settings_path)
        except (ValueError, TypeError) as e:
            raise SettingsError(f"{self.settings_path} is not valid settings JSON: {e}") from None

    def save_settings(self, settings: Settings):
        self.create()
        files.write_text(self.settings_path, settings.to_json() + "\n")

    def write_metrics(self, metrics: dict):
        files.write_json(self.metrics_path, metrics)

    def read_metrics(self):
        with open(self.metrics_path) as f:
            return json.load(f)

    def checkpoint_manager(self, objects: dict):
        """A CheckpointManager over ``objects`` plus an int64 ``step`` variable (returned)."""
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        ckpt = tf.train.Checkpoint(step=step, **objects)
        manager = tf.train.CheckpointManager(ckpt, self.checkpoint_dir, max_to_keep=KEEP_CHECKPOINTS, checkpoint_name="ckpt")
        return manager, step

    def latest_checkpoint(self):
        return tf.train.latest_checkpoint(self.checkpoint_dir)


def restore(manager, step, partial=False):
    """Restore the latest checkpoint, if any. Returns the restored step (0 if none)."""
    path = manager.latest_checkpoint
    if not path:
        return 0
    status = manager.checkpoint.read(path)
    if partial:
        status.expect_partial()
    else:
        status.assert_existing_objects_matched()
    return int(step.numpy())


def all_finite(variables):
    """Whether every value of every variable is finite (checked before each checkpoint)."""
    return all(np.isfinite(np.asarray(v)).all() for v in variables)
