import keras
import numpy as np
import pytest

from tfface.models import residual as nets


@pytest.mark.parametrize("size", [64, 128])
def test_shapes(size):
    g = nets.transformation_network(size, width=0.125)
    d = nets.discriminator(size, width=0.125)
    x = np.random.default_rng(0).uniform(-1, 1, (2, size, size, 3)).astype(np.float32)
    assert g(x).shape == (2, size, size, 3)
    logits, feats = d(x)
    assert logits.shape == (2, 3)
    assert feats.shape == (2, size // 8, size // 8, 32)  # block3: 256 * 0.125 channels


def test_paper_architecture_channels():
    # G's cost at 128 px (7.2 GFLOP per image) is tested in test_flops.
    d = nets.discriminator(128, width=1.0)
    assert [layer.filters for layer in d.layers if layer.name.endswith("_conv")] == list(nets.D_CHANNELS)


def test_output_is_input_plus_residual():
    g = nets.transformation_network(32, width=0.125)
    out = g.get_layer("output_conv")
    out.kernel.assign(np.zeros(out.kernel.shape, np.float32))
    out.bias.assign(np.zeros(out.bias.shape, np.float32))
    x = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(g(x).numpy(), x)  # eq. 2 with r = 0


def test_no_residual_ablation_generates_the_whole_image():
    g = nets.transformation_network(32, width=0.125, residual=False)
    y = g(np.ones((1, 32, 32, 3), np.float32) * 5.0).numpy()
    assert np.abs(y).max() <= 1.0  # tanh output, not x + r
    assert "x_plus_residual" not in [layer.name for layer in g.layers]


def test_weights_start_from_n_0_002():
    d = nets.discriminator(128, width=0.5)
    k = d.get_layer("block5_conv").kernel.numpy()
    assert abs(k.mean()) < 1e-3 and k.std() == pytest.approx(0.02, rel=0.05)


def test_image_size_must_divide_by_4():
    with pytest.raises(ValueError, match="multiple of 4"):
        nets.transformation_network(30)


@pytest.mark.slow
def test_train_step_compiles_with_xla():
    import tensorflow as tf

    from tfface.training.distribution import make_optimizer
    from tfface.training.residual_gan import ResidualGAN

    m = ResidualGAN(32, 0.125, d_norm="batch")
    m.compile(make_optimizer(2e-4, 0.5, 0.999), make_optimizer(2e-4, 0.5, 0.999), jit_compile=True)
    m.build_optimizers()
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    logs = m.fit(tf.data.Dataset.from_tensors((x, x)), epochs=1, steps_per_epoch=1, verbose=0).history
    assert np.isfinite(logs["g_loss"][0])


def test_skips_feed_full_and_half_resolution_features_to_the_decoder():
    plain = nets.transformation_network(32, width=0.25)
    g = nets.transformation_network(32, width=0.25, skips=True)
    assert g.get_layer("block5_conv").kernel.shape[2] == 32 + 16, "block4's 32 channels + block1's 16"
    assert g.get_layer("block4_conv").kernel.shape[2] == 64 + 32, "block3's 64 channels + block2's 32"
    assert plain.get_layer("block5_conv").kernel.shape[2] == 32
    x = np.random.default_rng(2).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    assert g(x).shape == x.shape
    zero = nets.transformation_network(32, width=0.25, skips=True, zero_residual=True)
    np.testing.assert_array_equal(zero(x).numpy(), x)  # still starts as the identity


@pytest.mark.parametrize("fused", [True, False])
def test_reflect_padding_leaves_g_no_border_to_draw_on(fused):
    # With zero padding the convolutions next to the border see a dark frame, so G's output on a flat grey
    # image differs along the border (the bundled eyeglasses remover learnt a tinted top row that way); with
    # its reflection every position sees the same, so the output is flat too.  Same weights either way.
    # Width 1 so block 4 takes the phase path when fused.
    keras.utils.set_random_seed(0)
    x = np.full((1, 32, 32, 3), 0.3, np.float32)
    zeros = nets.transformation_network(32, width=1.0, fused=fused)
    reflect = nets.transformation_network(32, width=1.0, fused=fused, padding="reflect")
    assert [w.shape for w in reflect.weights] == [w.shape for w in zeros.weights]
    reflect.set_weights(zeros.get_weights())
    spread = lambda g: float(np.ptp(g(x, training=False).numpy(), axis=(1, 2)).max())  # noqa: E731  over positions
    assert spread(zeros) > 1e-3
    assert spread(reflect) < 1e-6
    assert "block1_pad" in [layer.name for layer in reflect.layers]
