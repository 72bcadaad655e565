import keras
import numpy as np
import pytest
import tensorflow as tf

from tfface.models.padding import ReflectionPadding2D, reflect, same_padding


@pytest.mark.parametrize("size,kernel,strides", [(8, 4, 2), (8, 4, 1), (9, 4, 2), (8, 5, 1), (7, 3, 1), (6, 3, 2)])
def test_pads_where_same_pads(size, kernel, strides):
    # Padded with zeros, a valid convolution is Keras's "same" one, value for value (amounts and sides).
    rng = np.random.default_rng(size + kernel + strides)
    x = rng.normal(size=(2, size, size, 3)).astype(np.float32)
    same = keras.layers.Conv2D(4, kernel, strides, padding="same")
    want = same(x).numpy()
    valid = keras.layers.Conv2D(4, kernel, strides, padding="valid")
    valid.build(x.shape)
    valid.set_weights(same.get_weights())
    np.testing.assert_allclose(valid(reflect(x, kernel, strides, mode="constant")).numpy(), want, atol=1e-5)


def test_layer_reflects_and_round_trips_its_config():
    x = np.arange(2 * 6 * 6 * 2, dtype=np.float32).reshape(2, 6, 6, 2)
    layer = ReflectionPadding2D(4, 1)
    before, after = same_padding(6, 4, 1)
    assert (before, after) == (1, 2)
    want = tf.pad(x, [[0, 0], [before, after], [before, after], [0, 0]], mode="REFLECT").numpy()
    np.testing.assert_array_equal(layer(x).numpy(), want)
    assert layer.compute_output_shape((None, 6, 6, 2)) == (None, 9, 9, 2)
    again = ReflectionPadding2D.from_config(layer.get_config())
    assert (again.kernel_size, again.strides) == (4, 1)
