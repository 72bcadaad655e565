import keras
import numpy as np
import pytest
import tensorflow as tf

from tfface.models.dense import Dense


def _pair(units, in_dim, **kwargs):
    """Keras's Dense and ours, built with the same non-trivial weights."""
    ref, ours = keras.layers.Dense(units, **kwargs), Dense(units, **kwargs)
    rng = np.random.default_rng(0)
    for layer in (ref, ours):
        layer.build((None, in_dim))
    weights = [rng.normal(0, 0.1, w.shape).astype(np.float32) for w in ref.get_weights()]
    for layer in (ref, ours):
        layer.set_weights(weights)
    return ref, ours


def _training_step(layer, graph=True):
    """Output and gradients (input, then each trainable weight) of a loss that weighs every output."""
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * tf.range(1.0, 1.0 + y.shape[-1]))
        return y, tape.gradient(loss, [x, *layer.trainable_variables])
    return tf.function(step) if graph else step


@pytest.mark.parametrize("use_bias, activation, dtype, graph", [
    (True, None, "float32", True), (False, "relu", "float32", True), (True, "tanh", "mixed_bfloat16", True),
    (True, None, "float32", False), (True, "tanh", "mixed_bfloat16", False)])
def test_training_output_and_gradients_are_keras_dense(use_bias, activation, dtype, graph):
    ref, ours = _pair(24, 300, use_bias=use_bias, activation=activation, dtype=dtype)
    x = tf.constant(np.random.default_rng(1).normal(size=(5, 300)), tf.float32)
    (y_ref, g_ref), (y_ours, g_ours) = _training_step(ref, graph)(x), _training_step(ours, graph)(x)
    assert y_ours.dtype == y_ref.dtype and len(g_ours) == len(g_ref) == 2 + use_bias
    tol = 1e-2 if dtype == "mixed_bfloat16" else 1e-5
    np.testing.assert_allclose(tf.cast(y_ours, tf.float32), tf.cast(y_ref, tf.float32), rtol=tol, atol=tol)
    for a, b in zip(g_ours, g_ref):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(tf.cast(a, tf.float32), tf.cast(b, tf.float32), rtol=tol, atol=tol)


def _matmuls_transposing_the_kernel(layer, in_dim, units):
    """Names of the training step's matrix products whose right operand is the [in, units] kernel, transposed."""
    graph = _training_step(layer).get_concrete_function(tf.TensorSpec((4, in_dim), tf.float32)).graph
    return [op.name for op in graph.get_operations() if op.type == "MatMul" and op.get_attr("transpose_b")
            and op.inputs[1].shape.as_list() == [in_dim, units]]


def test_the_input_gradient_does_not_read_the_kernel_transposed():
    """The point of the layer: Keras's backward pass multiplies by the transposed [in, units] kernel (oneDNN's
    slow case for a wide kernel and a small batch), ours does not."""
    ref, ours = _pair(24, 300)
    assert _matmuls_transposing_the_kernel(ref, 300, 24)
    assert not _matmuls_transposing_the_kernel(ours, 300, 24)


def test_inputs_of_higher_rank_and_inference_calls_are_keras_dense():
    ref, ours = _pair(6, 8)
    x = tf.constant(np.random.default_rng(2).normal(size=(2, 3, 8)), tf.float32)
    np.testing.assert_allclose(ours(x, training=True), ref(x, training=True), rtol=1e-6)
    np.testing.assert_allclose(ours(x[:, 0]), ref(x[:, 0]), rtol=1e-6)


def test_a_saved_model_file_reloads_the_layer(tmp_path):
    inputs = keras.Input((10,))
    model = keras.Model(inputs, Dense(4, activation="relu", name="wide")(inputs))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.get_layer("wide")) is Dense and loaded.get_layer("wide").get_config() == model.get_layer("wide").get_config()
    x = np.random.default_rng(3).normal(size=(3, 10)).astype(np.float32)
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
