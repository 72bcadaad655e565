import keras
import numpy as np
import pytest
import tensorflow as tf

from tfface.models.normalization import BatchNormalization


def _pair(shape, **kwargs):
    """Keras's layer and ours with the same (non-trivial) weights."""
    ref, ours = keras.layers.BatchNormalization(**kwargs), BatchNormalization(**kwargs)
    for layer in (ref, ours):
        layer.build(shape)
    rng = np.random.default_rng(0)
    values = [rng.normal(1, 0.1, shape[-1]), rng.normal(0, 0.1, shape[-1]), rng.normal(0, 0.1, shape[-1]),
              rng.uniform(0.5, 1.5, shape[-1])]
    for layer in (ref, ours):
        layer.set_weights([v.astype(np.float32) for v in values])
    return ref, ours


def _training_call(layer, x):
    """The layer's output on a training batch, and the gradients (x, gamma, beta) of a loss whose weights
    vary over every element (a per-channel weight has a zero x-gradient)."""
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * tf.reshape(tf.sin(tf.range(tf.size(y), dtype=tf.float32)), y.shape))
        return y, tape.gradient(loss, [x, layer.gamma, layer.beta])

    return step(x)


@pytest.mark.parametrize("shape", [(8, 6, 6, 5), (16, 7)])
def test_fused_training_batch_matches_keras(shape):
    ref, ours = _pair(shape, momentum=0.9, epsilon=1e-5)
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, shape).astype(np.float32))
    results = []
    for layer in (ref, ours):
        y, grads = _training_call(layer, x)
        results.append((y.numpy(), [g.numpy() for g in grads], layer.moving_mean.numpy(), layer.moving_variance.numpy()))
    (y0, g0, m0, v0), (y1, g1, m1, v1) = results
    np.testing.assert_allclose(y1, y0, atol=1e-5)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(m1, m0, atol=1e-6)
    np.testing.assert_allclose(v1, v0, atol=1e-5)  # the biased batch variance, as Keras keeps it
    # The fused kernel really runs (its op is in the graph), and Keras's moments do not.
    graph = tf.function(lambda x: ours(x, training=True)).get_concrete_function(x).graph
    ops = {op.type for op in graph.get_operations()}
    assert "FusedBatchNormV3" in ops and "SquaredDifference" not in ops


def test_inference_and_other_cases_use_keras_own_path():
    ref, ours = _pair((4, 3, 3, 2))
    x = np.random.default_rng(2).normal(size=(4, 3, 3, 2)).astype(np.float32)
    np.testing.assert_array_equal(ours(x, training=False).numpy(), ref(x, training=False).numpy())
    synced = BatchNormalization(synchronized=True)
    synced.build((4, 3, 3, 2))
    graph = tf.function(lambda x: synced(x, training=True)).get_concrete_function(tf.constant(x)).graph
    assert "FusedBatchNormV3" not in {op.type for op in graph.get_operations()}


def test_config_round_trip_and_checkpoint_compatible_weights():
    layer = BatchNormalization(momentum=0.8, epsilon=1e-4, name="bn")
    clone = BatchNormalization.from_config(layer.get_config())
    assert (clone.momentum, clone.epsilon, clone.name) == (0.8, 1e-4, "bn")
    layer.build((2, 4))
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]


def test_bfloat16_maps_go_into_the_fused_kernel_uncast():
    """Under mixed bfloat16 the maps stay bfloat16 (no cast to float32 and back, forward or backward) and
    the results match Keras's layer, which normalises in float32, to bfloat16's rounding."""
    shape = (8, 6, 6, 5)
    ref, ours = _pair(shape, momentum=0.9, epsilon=1e-5, dtype="mixed_bfloat16")
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, shape), tf.bfloat16)
    results = []
    for layer in (ref, ours):
        y, grads = _training_call(layer, x)
        assert y.dtype == tf.bfloat16 and grads[0].dtype == tf.bfloat16
        results.append((tf.cast(y, tf.float32).numpy(), [tf.cast(g, tf.float32).numpy() for g in grads],
                        layer.moving_mean.numpy(), layer.moving_variance.numpy()))
    (y0, g0, m0, v0), (y1, g1, m1, v1) = results
    np.testing.assert_allclose(y1, y0, atol=0.02, rtol=0.01)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, atol=0.02, rtol=0.01)
    np.testing.assert_allclose(m1, m0, rtol=1e-5)
    np.testing.assert_allclose(v1, v0, rtol=1e-5)
    graph = tf.function(lambda x: ours(x, training=True)).get_concrete_function(x).graph
    fused = [op for op in graph.get_operations() if op.type == "FusedBatchNormV3"]
    assert fused and fused[0].inputs[0].dtype == tf.bfloat16
    assert not [op for op in graph.get_operations() if op.type == "Cast" and op.outputs[0].shape.rank == 4]
