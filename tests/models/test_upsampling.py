import keras
import numpy as np
import pytest
import tensorflow as tf

from tfface.models.upsampling import NearestUpsampling2x, UpsamplingConv2D, phases_pay


def test_nearest_upsampling_matches_upsampling2d_and_keeps_static_shapes():
    x = np.random.default_rng(0).random((2, 5, 7, 3)).astype(np.float32)
    np.testing.assert_array_equal(NearestUpsampling2x()(x).numpy(), keras.layers.UpSampling2D(2)(x).numpy())
    sym = keras.Input((8, 8, 4))
    assert NearestUpsampling2x()(sym).shape == (None, 16, 16, 4)


def test_nearest_upsampling_gradient_is_the_sum_over_each_block():
    x = tf.constant(np.random.default_rng(0).random((2, 5, 7, 3)).astype(np.float32))
    w = tf.constant(np.random.default_rng(1).normal(size=(2, 10, 14, 3)).astype(np.float32))
    grads = []
    for layer in (NearestUpsampling2x(), keras.layers.UpSampling2D(2)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) * w)
        grads.append(tape.gradient(loss, x).numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grads[0][0, 0, 0], w.numpy()[0, :2, :2].sum(axis=(0, 1)), rtol=1e-6)


def _reference(layer, x, skip):
    """UpSampling2D then Conv2D (after a concatenation with ``skip``) with ``layer``'s weights; with reflect
    padding, the concatenated map padded with its reflection (tf.pad) before a valid convolution."""
    up = keras.layers.UpSampling2D(2)(x)
    inputs = up if skip is None else tf.concat([up, skip], -1)
    padding = "same"
    if layer.padding == "reflect":
        p = layer.kernel_size // 2
        inputs, padding = tf.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT"), "valid"
    conv = keras.layers.Conv2D(layer.filters, layer.kernel_size, padding=padding, use_bias=layer.use_bias)
    conv.build(inputs.shape)
    conv.set_weights(layer.get_weights())
    return conv, inputs


@pytest.mark.parametrize("kernel_size", [3, 5])
@pytest.mark.parametrize("with_skip", [False, True])
@pytest.mark.parametrize("phases", [True, False])
@pytest.mark.parametrize("padding", ["zeros", "reflect"])
def test_same_values_and_gradients_as_upsampling_then_convolution(kernel_size, with_skip, phases, padding):
    rng = np.random.default_rng(kernel_size)
    x = tf.constant(rng.normal(size=(2, 5, 6, 4)).astype(np.float32))
    skip = tf.constant(rng.normal(size=(2, 10, 12, 3)).astype(np.float32)) if with_skip else None
    if padding == "reflect" and phases and kernel_size != 3:
        with pytest.raises(ValueError, match="3 x 3 kernels only"):
            UpsamplingConv2D(7, kernel_size, phases=phases, padding=padding)
        return
    layer = UpsamplingConv2D(7, kernel_size, phases=phases, bias_initializer="random_normal", padding=padding)
    inputs = x if skip is None else [x, skip]
    layer(inputs)
    assert layer.use_phases is phases
    weights = tf.constant(rng.normal(size=(2, 10, 12, 7)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = layer(inputs)
        conv, ref_in = _reference(layer, x, skip)
        ref = conv(ref_in)
        loss_ours, loss_ref = tf.reduce_sum(ours * weights), tf.reduce_sum(ref * weights)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), atol=2e-5)
    np.testing.assert_allclose(tape.gradient(loss_ours, x).numpy(), tape.gradient(loss_ref, x).numpy(), atol=2e-5)
    for g_ours, g_ref in zip(tape.gradient(loss_ours, layer.trainable_weights), tape.gradient(loss_ref, conv.trainable_weights)):
        np.testing.assert_allclose(g_ours.numpy(), g_ref.numpy(), atol=1e-4)


def test_kernel_is_the_convolutions_so_weights_load_either_way():
    layer = UpsamplingConv2D(8, 3, use_bias=False)
    layer([keras.Input((4, 4, 6)), keras.Input((8, 8, 2))])
    assert [w.shape for w in layer.weights] == [(3, 3, 6 + 2, 8)]  # Conv2D(8, 3) on the 8 concatenated channels


def test_static_shapes_and_mixed_precision():
    sym = keras.Input((8, 8, 64))
    assert UpsamplingConv2D(5, 3)(sym).shape == (None, 16, 16, 5)
    layer = UpsamplingConv2D(5, 3, dtype="mixed_bfloat16")
    y = layer(np.ones((1, 4, 4, 64), np.float32))
    assert y.dtype == "bfloat16" and layer.kernel.dtype == "float32"


def test_even_kernels_are_refused():
    with pytest.raises(ValueError, match="odd"):
        UpsamplingConv2D(4, 4)


def test_config_round_trip_keeps_the_choice():
    layer = UpsamplingConv2D(6, 5, use_bias=False, phases=False, name="up")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(clone, UpsamplingConv2D)
    assert (clone.filters, clone.kernel_size, clone.use_bias, clone.phases, clone.name) == (6, 5, False, False, "up")


def test_the_phase_path_is_chosen_for_many_input_channels():
    assert phases_pay(256) and not phases_pay(16)
    few, many = UpsamplingConv2D(4, 3), UpsamplingConv2D(4, 3)
    few.build((None, 4, 4, 8))
    many.build((None, 4, 4, 256))
    assert not few.use_phases and many.use_phases
