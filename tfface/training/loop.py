"""The training loop shared by both methods: settings -> data -> model -> fit -> metrics.

A *method* (the contract is :class:`tfface.methods.base.Method`; one per
paper in :mod:`tfface.methods`) supplies what differs: data, model, phases,
dataset, sample grid and final metrics.  This module owns what is common: the run directory, resuming from the last
checkpoint, determinism, devices and precision, callbacks, stopping on a
non-finite loss, and writing ``metrics.json``.

``fit`` runs with one "epoch" per ``log_every`` steps (so metric means are
per log interval); checkpoints, progress lines and samples are keyed on the
global step, which continues across resumes.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time

import keras
import tensorflow as tf

from tfface.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, Interrupted, TrainingDiverged
from tfface.settings import Settings, SettingsError
from tfface.training import callbacks as cb
from tfface.training import distribution
from tfface.training.run import RunDirectory


def setup_runtime(settings: Settings):
    """Determinism, precision and the distribution strategy (before any model is built)."""
    distribution.configure_devices(settings.strategy, settings.replicas)
    keras.utils.set_random_seed(settings.seed)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    distribution.set_precision(settings.mixed_precision)
    return distribution.make_strategy(settings.strategy, settings.replicas)


def build(method, settings: Settings, strategy):
    with strategy.scope():
        return method.build_model(settings, sync_batchnorm=strategy.num_replicas_in_sync > 1)


SIGNALS = {signal.SIGINT: ("SIGINT", EXIT_INTERRUPTED), signal.SIGTERM: ("SIGTERM", EXIT_TERMINATED)}


@contextlib.contextmanager
def stop_signals(state_holder):
    """SIGINT/SIGTERM during fit() ask for a checkpoint after the current step (``state.stop_signal``);
    before training starts they stop at once.  A second signal while stopping is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        state = state_holder.get("state")
        if state is None:
            name, code = SIGNALS[signum]
            raise Interrupted(f"{name}: stopped {state_holder.get('outside', 'before training started')}", code)
        if state.stop_signal is None:
            state.stop_signal = signum

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def train(settings: Settings, run_dir: str, method, out=None):
    """Train (or resume) ``method`` with ``settings`` in ``run_dir``; returns the final metrics."""
    holder = {}
    with stop_signals(holder):
        return _train(settings, run_dir, method, out, holder)


def _train(settings, run_dir, method, out, holder):
    out = out or sys.stdout
    say = lambda msg: print(msg, file=out, flush=True)  # noqa: E731
    settings = method.resolve(settings).validate()
    need, have = method.training_memory_bytes(settings), distribution.available_memory_bytes()
    if have is not None and need > have:
        raise SettingsError(f"--image_size={settings.image_size} --width={settings.width} --batch_size={settings.batch_size} "
                            f"needs about {need / 2**30:.1f} GiB to train; this machine has {have / 2**30:.1f} GiB "
                            f"available: lower one of them")
    run = RunDirectory(run_dir)
    if run.exists():
        settings.check_resumable_from(run.load_settings(), run.path)

    strategy = setup_runtime(settings)
    data = method.load_data(settings)
    say(f"data: {data.describe()}")
    if len(data.skip_log):
        say(f"data: {data.skip_log.summary()}")
    model = build(method, settings, strategy)
    with run.lock():  # one training per run directory, from before its first write to the end
        return _resume_and_fit(settings, method, out, holder, say, run, strategy, data, model)


def _resume_and_fit(settings, method, out, holder, say, run, strategy, data, model):
    manager, step_var, start = run.restore(method.checkpoint_objects(model), say=say)
    method.set_learning_rate(model, settings, start)

    if start >= settings.steps:
        say(f"{run.path} is already trained to step {start} (--steps={settings.steps}); nothing to do")
        if start > settings.steps:
            return run.read_metrics() if run.has_metrics() else {}
        if run.has_metrics():
            return run.read_metrics()
        return _finish(run, method, model, data, settings, start, 0.0, say)

    # Made before anything is written: a method without it refuses --judge_every here.
    measure = method.progress_measure(settings, data) if settings.judge_every else None
    run.save_settings(settings)
    say(f"run: {run.path}  ({'resuming at step ' + str(start) if start else 'new run'}, "
        f"{settings.steps} steps, {strategy.num_replicas_in_sync} replica(s), {settings.mixed_precision})")
    state = cb.TrainingState(start, settings.steps, seconds_before=run.training_seconds_at(start))
    holder["state"] = state
    writer = tf.summary.create_file_writer(run.log_dir)
    callbacks = [
        cb.LearningRates(state, lambda step: method.set_learning_rate(model, settings, step)),
        cb.StepCounter(state),
        cb.NaNGuard(state),
        cb.Checkpointer(state, manager, step_var, settings.checkpoint_every, model.weights, clock=run.write_clock),
        cb.ProgressLogger(state, settings.log_every, method.log_keys, out),
        cb.TensorBoardLogger(state, writer, settings.log_every),
        cb.SampleImages(state, writer, settings.sample_every, lambda m: method.sample_grid(m, data), run.samples_dir),
    ]
    if measure is not None:
        run.trim_progress(start)
        callbacks.append(cb.JudgedProgress(state, settings.judge_every, measure, run.progress_path))
    t0 = time.perf_counter()
    for end, phase in method.phases(settings):
        if state.step >= end:
            continue
        # Each phase (e.g. the iterative GAN's two stages) is one fit() over a
        # dataset that starts at the current step.
        method.enter_phase(model, phase)
        state.stop_at = end
        if phase:
            say(f"phase: {phase} until step {end}")
        dataset = method.dataset(data, settings, state.step)
        model.fit(dataset, epochs=math.ceil((end - state.step) / settings.log_every),
                  steps_per_epoch=settings.log_every, verbose=0, shuffle=False, callbacks=callbacks)
        if state.diverged is not None or state.stop_signal is not None:
            break
    holder.update(state=None, outside=f"after training (the checkpoint of step {state.step} is kept)")
    seconds = time.perf_counter() - t0
    writer.close()
    if state.diverged is not None:
        step, name, value = state.diverged
        kept = (f"the last good checkpoint (step {state.last_checkpoint_step}) in {run.checkpoint_dir} is kept"
                if manager.latest_checkpoint else "no checkpoint had been saved yet")
        raise TrainingDiverged(f"training stopped: {name} became {value} at step {step}; {kept}. "
                               f"Try a lower --learning_rate or --mixed_precision=float32")
    if state.stop_signal is not None:
        name, code = SIGNALS[state.stop_signal]
        raise Interrupted(f"{name} at step {state.step}: checkpoint saved in {run.checkpoint_dir}; re-run the same "
                          f"command to resume", code)
    if len(data.skip_log):
        say(f"data: {data.skip_log.summary()}")
    return _finish(run, method, model, data, settings, state.step, seconds, say, steps_run=state.step - start)


def _finish(run, method, model, data, settings, step, seconds, say, steps_run=0):
    metrics = method.final_metrics(model, data, settings)
    metrics["training"] = {
        "steps": step,
        "steps_this_invocation": steps_run,
        "seconds_this_invocation": round(seconds, 1),
        "seconds_per_step": round(seconds / steps_run, 4) if steps_run else None,
        "skipped_files": data.skip_log.counts,
    }
    run.write_metrics(metrics)
    say(f"metrics: {run.metrics_path}")
    for line in method.summarize(metrics):
        say(line)
    return metrics
