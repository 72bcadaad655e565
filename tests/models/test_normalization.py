import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfface.models import normalization
from tfface.models.normalization import BatchNormalization


@pytest.fixture(params=["rebuilt", "kept"])
def backward(request, monkeypatch):
    """Both backward paths of ``BatchNormalization(leaky_relu=...)``: the batch norm's input rebuilt from the
    output (every map counts as large) or kept by autodiff (every map counts as small)."""
    monkeypatch.setattr(normalization, "KEEP_OUTPUT_FROM_BYTES", 0 if request.param == "rebuilt" else float("inf"))
    return request.param


class ThenLeakyReLU(keras.layers.Layer):
    """A batch norm layer, then a leaky ReLU layer: the reference for ``BatchNormalization(leaky_relu=...)``."""

    def __init__(self, bn, slope, **kwargs):
        super().__init__(**kwargs)
        self.bn, self.act = bn, keras.layers.LeakyReLU(slope, dtype=self.dtype_policy)

    gamma = property(lambda self: self.bn.gamma)
    beta = property(lambda self: self.bn.beta)
    moving_mean = property(lambda self: self.bn.moving_mean)
    moving_variance = property(lambda self: self.bn.moving_variance)

    def call(self, x, training=None):
        return self.act(self.bn(x, training=training))


def _pair(shape, leaky_relu=None, **kwargs):
    """Keras's layer and ours with the same (non-trivial) weights; with ``leaky_relu``, Keras's batch norm
    then its LeakyReLU layer, and ours with ``leaky_relu``."""
    ref, ours = keras.layers.BatchNormalization(**kwargs), BatchNormalization(leaky_relu=leaky_relu, **kwargs)
    for layer in (ref, ours):
        layer.build(shape)
    rng = np.random.default_rng(0)
    values = [rng.normal(1, 0.1, shape[-1]), rng.normal(0, 0.1, shape[-1]), rng.normal(0, 0.1, shape[-1]),
              rng.uniform(0.5, 1.5, shape[-1])]
    for layer in (ref, ours):
        layer.set_weights([v.astype(np.float32) for v in values])
    return (ref if leaky_relu is None else ThenLeakyReLU(ref, leaky_relu, dtype=kwargs.get("dtype"))), ours


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


@pytest.mark.parametrize("leaky_relu", [None, 0.2])
@pytest.mark.parametrize("shape", [(8, 6, 6, 5), (16, 7)])
def test_fused_training_batch_matches_keras(shape, leaky_relu, backward):
    """The same values, gradients and moving statistics as Keras's layer (then its LeakyReLU layer); with
    ``leaky_relu`` the gradient rebuilds the batch norm's input from the output (to float rounding)."""
    ref, ours = _pair(shape, leaky_relu, momentum=0.9, epsilon=1e-5)
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
    layer = BatchNormalization(momentum=0.8, epsilon=1e-4, leaky_relu=0.2, name="bn")
    clone = BatchNormalization.from_config(layer.get_config())
    assert (clone.momentum, clone.epsilon, clone.leaky_relu, clone.name) == (0.8, 1e-4, 0.2, "bn")
    with pytest.raises(ValueError, match="slope"):
        BatchNormalization(leaky_relu=1.5)
    layer.build((2, 4))
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]


@pytest.mark.parametrize("leaky_relu", [None, 0.2])
def test_bfloat16_maps_go_into_the_fused_kernel_uncast(leaky_relu, backward):
    """Under mixed bfloat16 the maps stay bfloat16 (no cast to float32 and back, forward or backward) and
    the results match Keras's layer, which normalises in float32, to bfloat16's rounding."""
    shape = (8, 6, 6, 5)
    ref, ours = _pair(shape, leaky_relu, momentum=0.9, epsilon=1e-5, dtype="mixed_bfloat16")
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


def test_a_zero_gamma_gives_finite_gradients(backward):
    """Where gamma is 0 the batch norm's input cannot be rebuilt from the output; the gradients stay finite
    (the input's is 0 there, as it is exactly: the output does not depend on it)."""
    shape = (8, 4, 4, 3)
    _, ours = _pair(shape, 0.2)
    ours.gamma.assign([0.0, 1.0, 0.5])
    x = tf.constant(np.random.default_rng(3).normal(size=shape).astype(np.float32))
    _, (dx, dgamma, dbeta) = _training_call(ours, x)
    assert all(np.isfinite(g.numpy()).all() for g in (dx, dgamma, dbeta))
    np.testing.assert_array_equal(dx.numpy()[..., 0], 0.0)
    assert np.abs(dx.numpy()[..., 1:]).max() > 0


_PEAK_SCRIPT = textwrap.dedent("""
    import os
    os.environ["TF_CPU_ALLOCATOR_USE_BFC"] = "true"  # before TensorFlow loads: its allocator reports peaks
    import json, sys
    import keras, tensorflow as tf
    from tfface.models import normalization
    from tfface.models.normalization import BatchNormalization
    normalization.KEEP_OUTPUT_FROM_BYTES = 0  # these 2 MB maps count as large
    tf.config.threading.set_inter_op_parallelism_threads(1)  # one op at a time: the peak is the graph's own
    together = sys.argv[1] == "together"
    x_in = keras.Input((32, 32, 16))
    h = x_in
    for i in range(10):
        h = keras.layers.Conv2D(16, 3, padding="same", use_bias=False)(h)
        h = BatchNormalization(leaky_relu=0.2 if together else None)(h)
        if not together:
            h = keras.layers.LeakyReLU(0.2)(h)
    model = keras.Model(x_in, h)
    x = tf.random.normal((32, 32, 32, 16))
    @tf.function
    def grads(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x, training=True) ** 2)
        return tape.gradient(loss, model.trainable_variables)
    grads(x)
    tf.config.experimental.reset_memory_stats("CPU:0")
    grads(x)
    print(json.dumps(tf.config.experimental.get_memory_info("CPU:0")["peak"]))
""")


@pytest.mark.slow  # four fresh TensorFlow processes: 13 s
def test_the_leaky_relu_in_the_layer_lowers_the_training_peak_memory():
    """Ten conv -> batch norm -> leaky ReLU blocks on 2 MB maps: with the leaky ReLU in the batch norm
    layer the backward pass keeps one map per block instead of three, so the peak of live tensors during
    a training step's gradient (measured by TensorFlow's allocator, in a fresh process) falls.  One op runs at a
    time, but which of the ready ops runs first varies from process to process, and with it the peak: 0.44-0.72x
    over 12 processes (the least of two is taken)."""
    peaks = {}
    for layout in ("separate", "together"):
        runs = [subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, layout], capture_output=True, text=True, check=True)
                for _ in range(2)]
        peaks[layout] = min(json.loads(out.stdout.strip().splitlines()[-1]) for out in runs)
    assert peaks["together"] < 0.75 * peaks["separate"], peaks  # 67.2 MB both ways with autodiff's gradient


def _rebuilds(layer, shape):
    """Whether the layer's training gradient rebuilds the batch norm's input (the fused kernel run in
    inference mode inside the gradient)."""
    x = tf.zeros(shape)

    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
        return tape.gradient(y, x)

    graph = grad.get_concrete_function(x).graph
    calls = [op for op in graph.get_operations() if op.type == "FusedBatchNormV3"]
    return any(not op.get_attr("is_training") for op in calls)


def test_only_large_maps_are_rebuilt(monkeypatch):
    """Rebuilding costs two passes over the map: it pays where maps are large (memory), not where they are
    small (the step's speed), so the layer rebuilds from ``KEEP_OUTPUT_FROM_BYTES`` up."""
    layer = BatchNormalization(leaky_relu=0.2)
    shape = (8, 6, 6, 5)  # 5,760 bytes
    assert not _rebuilds(layer, shape)
    monkeypatch.setattr(normalization, "KEEP_OUTPUT_FROM_BYTES", 8 * 6 * 6 * 5 * 4)
    assert _rebuilds(layer, shape)
    assert not _rebuilds(BatchNormalization(), shape)  # no leaky ReLU: nothing to rebuild from
