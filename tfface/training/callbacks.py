"""Callbacks: the step counter, NaN guard, checkpoints, progress lines, TensorBoard, samples and judged progress.

The training step itself never logs or saves; these callbacks do, keyed on
the *global* step (``TrainingState.step``), which continues across resumes.
Order matters: :class:`NaNGuard` must run before :class:`Checkpointer` so
that a diverged step is never saved.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

import keras
import tensorflow as tf

from tfface import files
from tfface.errors import DataError
from tfface.training.run import all_finite


class TrainingState:
    """Shared by the callbacks: the global step and why training stopped early."""

    def __init__(self, start_step, total_steps, seconds_before=0.0):
        self.start_step = self.step = int(start_step)
        # Training time across invocations: the seconds of earlier ones (from the run's clock.json), plus
        # this one's wall time minus the time spent measuring (JudgedProgress).
        self.seconds_before, self.started, self.paused = float(seconds_before), time.perf_counter(), 0.0
        self.total_steps = int(total_steps)
        self.stop_at = int(total_steps)  # end of the current phase
        self.diverged = None  # (step, metric name, value) once a loss is NaN/Inf
        # A SIGINT/SIGTERM's handler only records ``stop_requested``; the step loop turns it into
        # ``stop_signal`` (checkpoint after this step, then stop) at a point every worker agrees on, so the
        # callbacks never see a stop that another worker has not seen: StepCounter in one process, the stop vote
        # of multiworker_fit in a cluster.
        self.stop_requested = None
        self.stop_signal = None
        self.last_checkpoint_step = int(start_step)

    def train_seconds(self):
        return self.seconds_before + time.perf_counter() - self.started - self.paused


def _finite_logs(logs):
    for k, v in (logs or {}).items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(f):
            return k, f
    return None


class LearningRates(keras.callbacks.Callback):
    """Before each step: ``assign(step)`` sets the learning rates of the step about to run (the schedule is a
    function of the global step, so a resumed run follows it exactly)."""

    def __init__(self, state, assign):
        super().__init__()
        self.state, self.assign = state, assign

    def on_train_batch_begin(self, batch, logs=None):
        self.assign(self.state.step)


class StepCounter(keras.callbacks.Callback):
    """Advances the global step after every batch and stops at the end of the phase.  In one process it also
    turns a stop request into the stop (``agree_stops``); under several workers their vote does that."""

    def __init__(self, state, agree_stops=True):
        super().__init__()
        self.state, self.agree_stops = state, agree_stops

    def on_train_batch_end(self, batch, logs=None):
        self.state.step += 1
        if self.agree_stops and self.state.stop_signal is None:
            self.state.stop_signal = self.state.stop_requested
        if self.state.step >= self.state.stop_at or self.state.stop_signal is not None:
            self.model.stop_training = True


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite loss; records where."""

    def __init__(self, state):
        super().__init__()
        self.state = state

    def on_train_batch_end(self, batch, logs=None):
        bad = _finite_logs(logs)
        if bad and self.state.diverged is None:
            self.state.diverged = (self.state.step, bad[0], bad[1])
            self.model.stop_training = True


class Checkpointer(keras.callbacks.Callback):
    """Saves every ``every`` steps, at the last step and when a stop signal came; never after a NaN and
    never non-finite weights."""

    def __init__(self, state, manager, step_variable, every, variables, clock=None):
        super().__init__()
        self.state, self.manager, self.step_variable = state, manager, step_variable
        self.every, self.variables = int(every), variables
        self.clock = clock  # called as clock(step, training seconds) after each save (the run's clock.json)

    def on_train_batch_end(self, batch, logs=None):
        s = self.state
        if s.diverged is not None:
            return
        if s.step % self.every == 0 or s.step >= s.total_steps or s.stop_signal is not None:
            if not all_finite(self.variables):
                s.diverged = (s.step, "weights", float("nan"))
                self.model.stop_training = True
                return
            self.step_variable.assign(s.step)
            try:
                self.manager.save(checkpoint_number=s.step)
            except (OSError, tf.errors.OpError) as e:  # e.g. a full disk: the earlier checkpoints stay intact
                reason = getattr(e, "message", None) or getattr(e, "strerror", None) or str(e)
                raise DataError(f"could not save the checkpoint of step {s.step} in {self.manager.directory} "
                                f"({reason.splitlines()[0]}); the checkpoint of step {s.last_checkpoint_step} is kept"
                                ) from None
            s.last_checkpoint_step = s.step
            if self.clock is not None:
                self.clock(s.step, s.train_seconds())


class ProgressLogger(keras.callbacks.Callback):
    """One line every ``every`` steps: step, losses, seconds per step, time left."""

    def __init__(self, state, every, keys=None, stream=None):
        super().__init__()
        self.state, self.every, self.keys = state, int(every), keys
        self.stream = stream or sys.stdout

    def on_train_begin(self, logs=None):
        self.t0, self.s0 = time.perf_counter(), self.state.step

    def on_train_batch_end(self, batch, logs=None):
        s = self.state
        if s.diverged is None and (s.step % self.every == 0 or s.step >= s.total_steps):
            done = s.step - self.s0
            per = (time.perf_counter() - self.t0) / max(done, 1)
            keys = self.keys or sorted(logs or {})
            vals = "  ".join(f"{k}={float(logs[k]):.4g}" for k in keys if k in (logs or {}))
            left = per * (s.total_steps - s.step)
            print(f"step {s.step}/{s.total_steps}  {vals}  {per:.2f}s/step  {left / 60:.1f} min left",
                  file=self.stream, flush=True)


class TensorBoardLogger(keras.callbacks.Callback):
    """Scalars every ``every`` steps, at the global step."""

    def __init__(self, state, writer, every):
        super().__init__()
        self.state, self.writer, self.every = state, writer, int(every)

    def on_train_batch_end(self, batch, logs=None):
        s = self.state
        if s.diverged is None and (s.step % self.every == 0 or s.step >= s.total_steps):
            with self.writer.as_default(step=s.step):
                for k, v in (logs or {}).items():
                    tf.summary.scalar(k, float(v))
            self.writer.flush()


class SampleImages(keras.callbacks.Callback):
    """Every ``every`` steps and at the end: ``make_grid(model)`` -> samples/step_NNNNNN.png and TensorBoard."""

    def __init__(self, state, writer, every, make_grid, samples_dir):
        super().__init__()
        self.state, self.writer, self.every = state, writer, int(every)
        self.make_grid, self.samples_dir = make_grid, samples_dir

    def write(self, step):
        grid = self.make_grid(self.model)
        os.makedirs(self.samples_dir, exist_ok=True)
        path = os.path.join(self.samples_dir, f"step_{step:06d}.png")
        files.save_image(grid, path)
        with self.writer.as_default(step=step):
            tf.summary.image("samples", grid[None], max_outputs=1)
        self.writer.flush()
        return path

    def on_train_batch_end(self, batch, logs=None):
        s = self.state
        if s.diverged is None and (s.step % self.every == 0 or s.step >= s.total_steps):
            self.write(s.step)


class JudgedProgress(keras.callbacks.Callback):
    """Every ``every`` steps and at the end: ``measure(model)`` appended to ``path`` as one JSON line with the
    step and the training seconds so far (quality against wall time).  Its own time is not training time."""

    def __init__(self, state, every, measure, path):
        super().__init__()
        self.state, self.every, self.measure, self.path = state, int(every), measure, path

    def on_train_batch_end(self, batch, logs=None):
        s = self.state
        if s.diverged is None and (s.step % self.every == 0 or s.step >= s.total_steps):
            t0 = time.perf_counter()
            seconds = s.train_seconds()
            record = {"step": s.step, "train_seconds": round(seconds, 1), **self.measure(self.model)}
            record["judge_seconds"] = round(time.perf_counter() - t0, 1)
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")
            s.paused += time.perf_counter() - t0
