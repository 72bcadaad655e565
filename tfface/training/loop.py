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
import shutil
import signal
import sys
import tempfile
import threading
import time

import keras
import tensorflow as tf

from tfface.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, Interrupted, TrainingDiverged, WorkerLost
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
    """SIGINT/SIGTERM during fit() ask for a checkpoint after the current step (``state.stop_requested``,
    see TrainingState); before training starts they stop at once.  A second signal while stopping is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        state = state_holder.get("state")
        if state is None:
            name, code = SIGNALS[signum]
            raise Interrupted(f"{name}: stopped {state_holder.get('outside', 'before training started')}", code)
        if state.stop_requested is None:
            state.stop_requested = signum

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    # TensorFlow's coordination service (MultiWorkerMirroredStrategy) installs its own C-level SIGTERM
    # handler, its preemption notifier, when the strategy is made: the Python handler then never runs and a
    # preempted worker trains on.  ``rearm`` puts ours back.
    state_holder["rearm"] = lambda: [signal.signal(s, handler) for s in SIGNALS]
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
    run = RunDirectory(run_dir)
    saved = run.load_settings() if run.exists() else None
    settings = method.resolve(settings, saved).validate()
    need, have = method.training_memory_bytes(settings), distribution.available_memory_bytes()
    if have is not None and need > have:
        raise SettingsError(f"--image_size={settings.image_size} --width={settings.width} --batch_size={settings.batch_size} "
                            f"needs about {need / 2**30:.1f} GiB to train; this machine has {have / 2**30:.1f} GiB "
                            f"available: lower one of them")
    if saved is not None:
        settings.check_resumable_from(saved, run.path)

    strategy = setup_runtime(settings)
    holder.get("rearm", lambda: None)()  # see stop_signals
    worker = Worker(strategy)
    if settings.batch_size % strategy.num_replicas_in_sync:
        raise SettingsError(f"--batch_size ({settings.batch_size}) must be divisible by the "
                            f"{strategy.num_replicas_in_sync} replicas of the cluster")
    if not worker.chief:
        say = lambda msg: None  # noqa: E731 - the chief reports for all workers
    data = method.load_data(settings)
    say(f"data: {data.describe()}")
    if len(data.skip_log):
        say(f"data: {data.skip_log.summary()}")
    model = build(method, settings, strategy)
    method.prepare_training(model, settings)
    if not worker.chief:
        return _resume_and_fit(settings, method, out, holder, say, run, strategy, data, model, worker)
    with run.lock():  # one training per run directory, from before its first write to the end
        return _resume_and_fit(settings, method, out, holder, say, run, strategy, data, model, worker)


class Worker:
    """This process's part in training: the only one (default, mirrored), or one worker of a
    MultiWorkerMirroredStrategy cluster.  Only the chief writes to the run directory; the others save
    their checkpoints (every worker must take part in saving) to a temporary directory, removed at the end."""

    def __init__(self, strategy):
        self.strategy = strategy
        self.multi = distribution.is_multiworker(strategy)
        self.chief = not self.multi or bool(strategy.extended.should_checkpoint)
        self.scratch = None

    def save_manager(self, manager):
        if self.chief:
            return manager
        self.scratch = tempfile.mkdtemp(prefix="tfface-worker-checkpoints-")
        return tf.train.CheckpointManager(manager.checkpoint, self.scratch, max_to_keep=1)

    def cleanup(self):
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


def _resume_and_fit(settings, method, out, holder, say, run, strategy, data, model, worker):
    try:
        return _resume_and_fit_worker(settings, method, out, holder, say, run, strategy, data, model, worker)
    finally:
        worker.cleanup()


def _resume_and_fit_worker(settings, method, out, holder, say, run, strategy, data, model, worker):
    manager, step_var, start = run.restore(method.checkpoint_objects(model), say=say)
    method.set_learning_rate(model, settings, start)

    if start >= settings.steps and not worker.chief:
        return {}
    if start >= settings.steps:
        say(f"{run.path} is already trained to step {start} (--steps={settings.steps}); nothing to do")
        if start > settings.steps:
            return run.read_metrics() if run.has_metrics() else {}
        if run.has_metrics():
            return run.read_metrics()
        return _finish(run, method, model, data, settings, start, 0.0, say)

    # Made before anything is written (it loads the judge).
    measure = method.progress_measure(settings, data) if settings.judge_every and worker.chief else None
    if worker.chief:
        run.save_settings(settings)
    say(f"run: {run.path}  ({'resuming at step ' + str(start) if start else 'new run'}, "
        f"{settings.steps} steps, {strategy.num_replicas_in_sync} replica(s), {settings.mixed_precision})")
    warning = distribution.precision_warning(settings.mixed_precision)
    if warning and worker.chief:
        say(warning)
    state = cb.TrainingState(start, settings.steps, seconds_before=run.training_seconds_at(start))
    holder["state"] = state
    callbacks = [
        cb.LearningRates(state, lambda step: method.set_learning_rate(model, settings, step)),
        cb.StepCounter(state, agree_stops=not worker.multi),
        cb.NaNGuard(state),
        cb.Checkpointer(state, worker.save_manager(manager), step_var, settings.checkpoint_every, model.weights,
                        clock=run.write_clock if worker.chief else None),
    ]
    writer = tf.summary.create_file_writer(run.log_dir) if worker.chief else None
    if worker.chief:  # only the chief reports and writes
        callbacks += [
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
        if worker.multi:
            multiworker_fit(model, strategy, dataset, callbacks, state, end - state.step)
        else:
            model.fit(dataset, epochs=math.ceil((end - state.step) / settings.log_every),
                      steps_per_epoch=settings.log_every, verbose=0, shuffle=False, callbacks=callbacks)
        if state.diverged is not None or state.stop_signal is not None:
            break
    holder.update(state=None, outside=f"after training (the checkpoint of step {state.step} is kept)")
    if state.stop_requested is not None and state.stop_signal is None and not worker.multi:
        state.stop_signal = state.stop_requested  # came after the last step's stop check: that step is saved
    seconds = time.perf_counter() - t0
    if writer is not None:
        writer.close()
    if state.diverged is not None:
        step, name, value = state.diverged
        kept = (f"the last good checkpoint (step {state.last_checkpoint_step}) in {run.checkpoint_dir} is kept"
                if manager.latest_checkpoint else "no checkpoint had been saved yet")
        raise TrainingDiverged(f"training stopped: {name} became {value} at step {step}; {kept}. "
                               f"Try a lower --learning_rate or --mixed_precision=float32")
    if state.stop_signal is not None:
        name, code = SIGNALS.get(state.stop_signal, ("a stop on another worker", EXIT_TERMINATED))
        raise Interrupted(f"{name} at step {state.step}: checkpoint saved in {run.checkpoint_dir}; re-run the same "
                          f"command to resume", code)
    if not worker.chief:
        return {}
    if len(data.skip_log):
        say(f"data: {data.skip_log.summary()}")
    return _finish(run, method, model, data, settings, state.step, seconds, say, steps_run=state.step - start)


def _finish(run, method, model, data, settings, step, seconds, say, steps_run=0):
    metrics = method.final_metrics(model, data, settings, run.path)
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


# -- several workers (MultiWorkerMirroredStrategy) -------------------------------------------------
OTHER_WORKER_STOPPED = -1  # state.stop_signal when only another worker received a signal
LOST = (tf.errors.DeadlineExceededError, tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.AbortedError,
        tf.errors.InternalError)


def shard_of_global_batches(dataset, context):
    """This input pipeline's slice of every global batch: each worker builds the same global batches from
    the same seed and keeps its own rows, so the cluster trains on exactly the single-process batches."""
    n, i = context.num_input_pipelines, context.input_pipeline_id

    def take(*parts):
        b = tf.shape(parts[0])[0] // n
        return tuple(p[i * b:(i + 1) * b] for p in parts)

    return dataset.map(take, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def multiworker_fit(model, strategy, dataset, callbacks, state, steps):
    """``steps`` training steps under MultiWorkerMirroredStrategy, the callbacks as fit() would call them.

    Keras 3.15's fit() does not run under this strategy; this loop runs ``strategy.run(train_step)``
    (:meth:`tfface.training.gan.GANModel.step_function`) and, after every step, one all-reduce of
    "did any worker get SIGINT/SIGTERM?", so all workers checkpoint and stop at the same step.  A worker
    that dies makes the next collective fail here: WorkerLost.
    """
    dist = strategy.distribute_datasets_from_function(lambda ctx: shard_of_global_batches(dataset, ctx))
    model.own_step = True

    @tf.function
    def any_worker(flag):
        return strategy.reduce("SUM", strategy.run(lambda f: tf.identity(f), args=(flag,)), axis=None)

    cbl = keras.callbacks.CallbackList(callbacks, model=model)
    model.stop_training = False
    try:
        iterator = iter(dist)
        cbl.on_train_begin()
        for i in range(steps):
            cbl.on_train_batch_begin(i)
            logs = model.make_train_function()(iterator)
            logs = {k: float(v) for k, v in logs.items()}
            # Python runs a signal's handler when the collective returns, so a request may arrive during the vote:
            # the other workers did not count it, and it waits for the next step's vote.
            asked = any_worker(tf.constant(0.0 if state.stop_requested is None else 1.0))
            if float(asked) > 0 and state.stop_signal is None:
                state.stop_signal = OTHER_WORKER_STOPPED if state.stop_requested is None else state.stop_requested
            cbl.on_train_batch_end(i, logs)
            if model.stop_training:
                break
        cbl.on_train_end()
    except LOST as e:
        first = (getattr(e, "message", "") or str(e)).strip().splitlines()[0][:160]
        raise WorkerLost(f"lost contact with another worker at step {state.step} ({type(e).__name__}: {first}); "
                         f"stopping. Restart all workers with the same command to resume from the checkpoint of step "
                         f"{state.last_checkpoint_step}") from None
