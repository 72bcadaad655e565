import numpy as np
import tensorflow as tf

from tfface.training.augment import TRANSLATION, diff_augment, translate


def test_examples_of_every_group_move_together():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
    y = diff_augment(tf.constant(np.concatenate([x, x, x])), groups=3, seed=[0, 5]).numpy()  # three sets: the same images
    np.testing.assert_allclose(y[:4], y[4:8], atol=1e-6)
    np.testing.assert_allclose(y[:4], y[8:], atol=1e-6)
    assert not np.allclose(y[:4], x, atol=1e-3), "augmented"
    assert not np.allclose(y[0] - x[0], y[1] - x[1], atol=1e-3), "each example its own parameters"


def test_translation_moves_whole_pixels_within_an_eighth_and_passes_gradients():
    x = np.zeros((8, 32, 32, 3), np.float32)
    x[:, 16, 16] = 1.0
    var = tf.Variable(x)
    with tf.GradientTape() as tape:
        y = translate(var, groups=1, seed=[0, 5])
        total = tf.reduce_sum(y * tf.reshape(tf.range(32 * 32 * 3, dtype=tf.float32), (1, 32, 32, 3)))
    y = y.numpy()
    limit = int(32 * TRANSLATION + 0.5)
    for img in y:
        (i, j), = np.argwhere(img[..., 0] == 1.0)
        assert img.sum() == 3.0, "one pixel, moved, not blurred"
        assert abs(i - 16) <= limit and abs(j - 16) <= limit
    assert len({tuple(np.argwhere(img[..., 0] == 1.0)[0]) for img in y}) > 1, "shifts differ between examples"
    grad = tape.gradient(total, var).numpy()
    assert np.abs(grad).sum() > 0, "differentiable: G's gradient passes through"


def test_the_same_seed_draws_the_same_augmentation():
    x = tf.constant(np.random.default_rng(1).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32))
    a, b, c = (diff_augment(x, 1, seed=s).numpy() for s in ([3, 7], [3, 7], [3, 8]))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_without_colour_only_translates():
    """--no_diffaugment_colour: D sees the same pixels, shifted; a colour cast stays visible to it."""
    x = tf.constant(np.random.default_rng(2).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32))
    np.testing.assert_allclose(diff_augment(x, 1, seed=[3, 7], with_colour=False).numpy(),
                               translate(x, 1, seed=[3, 7]).numpy(), atol=1e-6)
    assert not np.allclose(diff_augment(x, 1, seed=[3, 7]).numpy(), translate(x, 1, seed=[3, 7]).numpy(), atol=1e-3)
