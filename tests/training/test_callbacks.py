import io
import math
import os

import keras
import numpy as np
import tensorflow as tf

from tfface.training import callbacks as cb


def model():
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    m.stop_training = False
    return m


def attach(callback, m):
    callback.set_model(m)
    return callback


def test_step_counter_stops_at_the_end_of_the_phase():
    state = cb.TrainingState(start_step=5, total_steps=10)
    state.stop_at = 7
    m = model()
    counter = attach(cb.StepCounter(state), m)
    counter.on_train_batch_end(0)
    assert state.step == 6 and not m.stop_training
    counter.on_train_batch_end(1)
    assert state.step == 7 and m.stop_training


def test_nan_guard_records_the_first_bad_loss():
    state = cb.TrainingState(3, 10)
    m = model()
    guard = attach(cb.NaNGuard(state), m)
    guard.on_train_batch_end(0, {"d_loss": 0.5, "g_loss": 1.0})
    assert state.diverged is None and not m.stop_training
    guard.on_train_batch_end(1, {"d_loss": 0.5, "g_loss": float("inf")})
    guard.on_train_batch_end(2, {"d_loss": float("nan")})
    assert state.diverged == (3, "g_loss", math.inf) and m.stop_training


def test_checkpointer_saves_on_schedule_and_never_a_bad_state(tmp_path):
    state = cb.TrainingState(0, 5)
    weight = tf.Variable([1.0, 2.0])
    step = tf.Variable(0, dtype=tf.int64)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step, w=weight), str(tmp_path), max_to_keep=10)
    m = model()
    saver = attach(cb.Checkpointer(state, manager, step, every=2, variables=[weight]), m)
    for s in range(1, 4):
        state.step = s
        saver.on_train_batch_end(s)
    assert [int(p.rsplit("-", 1)[1]) for p in manager.checkpoints] == [2] and state.last_checkpoint_step == 2
    state.step = 4
    weight.assign([1.0, float("nan")])
    saver.on_train_batch_end(4)
    assert state.diverged == (4, "weights", state.diverged[2]) and m.stop_training
    assert [int(p.rsplit("-", 1)[1]) for p in manager.checkpoints] == [2], "non-finite weights are never saved"
    state.step = 5  # the last step is saved, unless training diverged
    saver.on_train_batch_end(5)
    assert len(manager.checkpoints) == 1


def test_progress_line():
    state = cb.TrainingState(0, 4)
    out = io.StringIO()
    logger = attach(cb.ProgressLogger(state, every=2, keys=["g_loss", "d_loss"], stream=out), model())
    logger.on_train_begin()
    for s in range(1, 5):
        state.step = s
        logger.on_train_batch_end(s, {"d_loss": 0.25, "g_loss": 1.5, "other": 3.0})
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("step 2/4  g_loss=1.5  d_loss=0.25  ") and "other" not in lines[0]
    assert lines[1].startswith("step 4/4") and lines[1].endswith("0.0 min left")


def test_sample_images_are_written_at_intervals(tmp_path):
    state = cb.TrainingState(0, 3)
    writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
    grid = np.full((6, 8, 3), 7, np.uint8)
    samples = attach(cb.SampleImages(state, writer, 2, lambda m: grid, str(tmp_path / "samples")), model())
    for s in range(1, 4):
        state.step = s
        samples.on_train_batch_end(s)
    assert sorted(os.listdir(tmp_path / "samples")) == ["step_000002.png", "step_000003.png"]
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "logs"))


def test_learning_rates_are_set_for_the_step_about_to_run():
    state = cb.TrainingState(start_step=10, total_steps=20)
    seen = []
    callback = attach(cb.LearningRates(state, seen.append), model())
    callback.on_train_batch_begin(0)
    state.step = 11
    callback.on_train_batch_begin(1)
    assert seen == [10, 11]


def test_a_stop_request_stops_at_the_end_of_the_step_it_arrives_in_and_never_midway_through_callbacks():
    state = cb.TrainingState(0, 10)
    m = model()
    counter = attach(cb.StepCounter(state), m)
    counter.on_train_batch_end(0)
    state.stop_requested = 15  # the SIGTERM handler, while the callbacks after StepCounter run
    assert state.stop_signal is None and not m.stop_training, "the callbacks of this step see no stop"
    counter.on_train_batch_end(1)
    assert state.stop_signal == 15 and m.stop_training and state.step == 2

    state = cb.TrainingState(0, 10)  # several workers: only their stop vote turns a request into a stop
    m = model()
    counter = attach(cb.StepCounter(state, agree_stops=False), m)
    state.stop_requested = 15
    counter.on_train_batch_end(0)
    assert state.stop_signal is None and not m.stop_training
