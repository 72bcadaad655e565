"""The multi-worker step loop's stop vote, run in one process (the default strategy): the callbacks see a
stop only once the vote has counted it."""

import keras
import numpy as np
import tensorflow as tf

from tfface.training import callbacks as cb
from tfface.training.gan import GANModel
from tfface.training.loop import multiworker_fit


class MeanOfBatch(GANModel):
    metric_names = ("loss",)

    def train_step(self, data):
        return self.track({"loss": tf.reduce_mean(data)})


class AfterEachStep(keras.callbacks.Callback):
    def __init__(self, action):
        super().__init__()
        self.action = action

    def on_train_batch_end(self, batch, logs=None):
        self.action()


def test_a_stop_request_during_a_steps_callbacks_stops_every_worker_at_the_next_vote():
    model = MeanOfBatch()
    model.compile(keras.optimizers.SGD(), keras.optimizers.SGD())
    data = tf.data.Dataset.from_tensor_slices(np.zeros((8, 2), "float32")).batch(4).repeat()
    state = cb.TrainingState(0, 10)
    seen = []

    def request():  # what the SIGTERM handler does, here while step 2's callbacks run
        if state.step == 2:
            state.stop_requested = 15

    callbacks = [cb.StepCounter(state, agree_stops=False), AfterEachStep(request),
                 AfterEachStep(lambda: seen.append((state.step, state.stop_signal)))]
    multiworker_fit(model, tf.distribute.get_strategy(), data, callbacks, state, 10)
    assert seen == [(1, None), (2, None), (3, 15)], "step 2's callbacks must not see a stop the vote has not counted"
    assert state.step == 3
