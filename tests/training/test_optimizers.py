"""FusedAdam (tfface/training/optimizers.py) against Keras's Adam: the same updates, checkpoints and replicas."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfface.training import distribution
from tfface.training.optimizers import FusedAdam

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = [(300, 200), (5, 5, 3, 8), (7,)]


def _train(optimizer, steps=5, graph=True, variables=None):
    """``steps`` updates of fixed random gradients; the variables and the optimizer's moments afterwards."""
    rng = np.random.default_rng(0)
    variables = variables or [keras.Variable(rng.normal(size=s).astype("float32")) for s in SHAPES]
    grads = [[tf.constant(rng.normal(size=s).astype("float32")) for s in SHAPES] for _ in range(steps)]
    if not optimizer.built:
        optimizer.build(variables)
    apply = (lambda g: optimizer.apply(g, variables))
    apply = tf.function(apply) if graph else apply
    for g in grads:
        apply(g)
    return [v.numpy() for v in variables] + [m.numpy() for m in optimizer._momentums + optimizer._velocities]


def _adam(cls, **kwargs):
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=3, decay_rate=0.5)
    return cls(schedule, beta_1=0.5, beta_2=0.999, **kwargs)


@pytest.mark.parametrize("graph", [True, False])
@pytest.mark.parametrize("kwargs", [{}, {"clipnorm": 0.5}])
def test_fused_adam_updates_as_keras_adam_does(graph, kwargs):
    expected = _train(_adam(keras.optimizers.Adam, **kwargs), graph=graph)
    got = _train(_adam(FusedAdam, **kwargs), graph=graph)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    # The fused kernel really ran: the parameters moved by Adam's step size, not 0.
    assert np.abs(got[0] - _train(_adam(FusedAdam), steps=0)[0]).max() > 1e-3


def test_amsgrad_falls_back_to_keras_update():
    expected = _train(_adam(keras.optimizers.Adam, amsgrad=True))
    got = _train(_adam(FusedAdam, amsgrad=True))
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_float16_loss_scaling_wraps_it():
    opt = distribution.make_optimizer(1e-2, 0.5, 0.999, "float16", name="g")
    assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
    assert isinstance(opt.inner_optimizer, FusedAdam)


def test_checkpoint_of_keras_adam_resumes_in_fused_adam(tmp_path):
    """Runs trained before FusedAdam saved Keras's Adam: their moments and step count restore into it."""
    rng = np.random.default_rng(1)
    old_vars = [keras.Variable(rng.normal(size=s).astype("float32")) for s in SHAPES]
    old = _adam(keras.optimizers.Adam)
    _train(old, steps=3, variables=old_vars)
    path = tf.train.Checkpoint(optimizer=old, v=old_vars).save(str(tmp_path / "ckpt"))
    expected = _train(old, steps=2, variables=old_vars)

    new_vars = [keras.Variable(np.zeros(s, "float32")) for s in SHAPES]
    new = _adam(FusedAdam)
    new.build(new_vars)
    tf.train.Checkpoint(optimizer=new, v=new_vars).restore(path).assert_consumed()
    assert int(new.iterations.numpy()) == 3
    got = _train(new, steps=2, variables=new_vars)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_get_config_round_trips():
    opt = FusedAdam(3e-4, beta_1=0.5, beta_2=0.99, name="d_optimizer")
    back = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(opt))
    assert isinstance(back, FusedAdam)
    assert (back.beta_1, back.beta_2, float(back.learning_rate)) == (0.5, 0.99, pytest.approx(3e-4))


@pytest.mark.slow
def test_mirrored_replicas_update_as_one_device():
    """Under MirroredStrategy (two logical CPUs) each replica's copy takes the same fused update as one device."""
    proc = subprocess.run([sys.executable, os.path.join(HERE, "mirrored_adam.py")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["replicas"] == 2
    assert r["max_difference"] < 1e-6
    assert r["replica_spread"] == 0.0
    assert r["moved"] > 1e-3
