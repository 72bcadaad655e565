"""A run directory: settings, checkpoints, logs, samples and metrics of one training run.

::

    runs/<name>/
      settings.json        the settings used (reloaded by resume, export and evaluation)
      checkpoints/         models, optimizers and the step counter (last 3 kept)
      logs/                TensorBoard scalars and image grids
      samples/             PNG sample grids at intervals
      clock.json           training seconds at the last checkpoint (quality against wall time)
      progress.jsonl       judged quality every --judge_every steps (one JSON object per line)
      metrics.json         final scores, written when training finishes
      cnn_baseline.npz     the iterative GAN's CNN baseline, which metrics.json compares C with

All JSON files are written atomically.  :func:`tfface.methods.load_run`
rebuilds a trained model from a run directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import shutil

import numpy as np
import tensorflow as tf
from google.protobuf import text_format

from tfface import files
from tfface.errors import DataError, UsageError
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
        self.clock_path = os.path.join(self.path, "clock.json")
        self.progress_path = os.path.join(self.path, "progress.jsonl")

    def exists(self):
        return os.path.isfile(self.settings_path)

    def has_metrics(self):
        return os.path.isfile(self.metrics_path)

    @contextlib.contextmanager
    def lock(self):
        """Hold the run directory for this process (an flock on ``lock``, released at the end or when the
        process dies).  A second training of the same directory gets UsageError naming the holder's pid."""
        self.create()
        f = open(os.path.join(self.path, "lock"), "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            f.close()
            raise UsageError(f"{self.path} is being trained by another process (pid {holder}); wait for it to end, "
                             f"or use another --run_dir") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        try:
            yield
        finally:
            f.close()

    def create(self):
        for d in (self.path, self.checkpoint_dir, self.samples_dir):
            os.makedirs(d, exist_ok=True)

    def load_settings(self) -> Settings:
        if not self.exists():
            raise FileNotFoundError(f"not a run directory (no settings.json): {self.path}")
        try:
            return Settings.load_saved(self.settings_path)
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

    def write_clock(self, step, seconds):
        files.write_json(self.clock_path, {"step": int(step), "train_seconds": round(float(seconds), 1)})

    def training_seconds_at(self, step):
        """Training seconds of the run up to ``step`` (the checkpoint resumed from), from clock.json: exact when
        the clock is of that step, pro rata when it is of a later one (a damaged checkpoint was skipped), 0
        for a new run or a run without a clock."""
        try:
            with open(self.clock_path) as f:
                clock = json.load(f)
            at, seconds = int(clock["step"]), float(clock["train_seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0.0
        return seconds if at <= step else seconds * step / at

    def progress_records(self):
        """The lines of progress.jsonl as dicts (unreadable lines skipped)."""
        out = []
        if os.path.isfile(self.progress_path):
            with open(self.progress_path) as f:
                for line in f:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        continue
        return out

    def trim_progress(self, step):
        """Drop progress lines beyond ``step`` (measured after the checkpoint a resumed run starts from)."""
        records = self.progress_records()
        keep = [r for r in records if int(r.get("step", 0)) <= step]
        if os.path.isfile(self.progress_path) and len(keep) != len(records):
            files.write_text(self.progress_path, "".join(json.dumps(r) + "\n" for r in keep))

    def checkpoint_manager(self, objects: dict):
        """A CheckpointManager over ``objects`` plus an int64 ``step`` variable (returned)."""
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        return self._manager(tf.train.Checkpoint(step=step, **objects)), step

    def _manager(self, checkpoint):
        return tf.train.CheckpointManager(checkpoint, self.checkpoint_dir, max_to_keep=KEEP_CHECKPOINTS,
                                          checkpoint_name="ckpt")

    def latest_checkpoint(self):
        return tf.train.latest_checkpoint(self.checkpoint_dir)

    @property
    def damaged_dir(self):
        return os.path.join(self.checkpoint_dir, "damaged")

    def restore(self, objects: dict, partial=False, say=print):
        """A CheckpointManager over ``objects``, the step variable, and the step restored (0: none).

        The newest checkpoint that restores is used.  A damaged one (truncated
        or corrupt files) is moved to ``checkpoints/damaged/``, never deleted,
        and reported in one line; if no checkpoint restores, DataError.
        """
        manager, step = self.checkpoint_manager(objects)
        damaged = []
        for path in reversed(saved_checkpoints(manager)):
            try:
                status = manager.checkpoint.read(path)
                if partial:
                    status.expect_partial()
                else:
                    status.assert_existing_objects_matched()
            except (tf.errors.OpError, ValueError, IndexError, AssertionError) as e:
                damaged.append((path, f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"))
                continue
            if damaged:
                self._set_aside(damaged, f"using {os.path.basename(path)}", say)
                self._forget(damaged)
                manager = self._manager(manager.checkpoint)  # reads the state without the damaged ones
            return manager, step, int(step.numpy())
        if damaged:
            self._set_aside(damaged, "no checkpoint restores", say)
            raise DataError(f"no checkpoint in {self.checkpoint_dir} restores ({len(damaged)} damaged, kept in "
                            f"{self.damaged_dir}); use another --run_dir to start again")
        return manager, step, 0

    def _forget(self, damaged):
        """Drop checkpoints from the directory's ``checkpoint`` state file (kept ones keep their timestamps)."""
        state = tf.train.get_checkpoint_state(self.checkpoint_dir)
        bad = {os.path.basename(p) for p, _ in damaged}
        names = [os.path.basename(p) for p in state.all_model_checkpoint_paths]
        stamps = list(state.all_model_checkpoint_timestamps) or [state.last_preserved_timestamp + 1.0] * len(names)
        keep = [(n, t) for n, t in zip(names, stamps) if n not in bad]
        del state.all_model_checkpoint_paths[:]
        del state.all_model_checkpoint_timestamps[:]
        state.all_model_checkpoint_paths.extend(n for n, _ in keep)
        state.all_model_checkpoint_timestamps.extend(t for _, t in keep)
        state.model_checkpoint_path = keep[-1][0]
        files.write_text(os.path.join(self.checkpoint_dir, "checkpoint"), text_format.MessageToString(state))

    def _set_aside(self, damaged, outcome, say):
        if not damaged:
            return
        os.makedirs(self.damaged_dir, exist_ok=True)
        for path, _ in damaged:
            for f in glob.glob(path + ".*"):
                shutil.move(f, os.path.join(self.damaged_dir, os.path.basename(f)))
        names = ", ".join(f"{os.path.basename(p)} ({why})" for p, why in damaged)
        say(f"checkpoint: skipped damaged {names}; moved to {self.damaged_dir}; {outcome}")


def saved_checkpoints(manager):
    """The checkpoints a CheckpointManager's directory holds, oldest first.

    A state file without timestamps (written by hand, or by a copy that dropped them) lists no checkpoints
    to the manager; its newest one is still the run's.
    """
    return list(manager.checkpoints) or [p for p in (manager.latest_checkpoint,) if p]


def all_finite(variables):
    """Whether every value of every variable is finite (checked before each checkpoint)."""
    return all(np.isfinite(np.asarray(v)).all() for v in variables)
