import numpy as np
import pytest

from tfface.models import iterative as nets


@pytest.mark.parametrize("size", [64, 128])
def test_shapes_follow_the_resolved_architecture(size):
    g = nets.generator(size, z_dim=100, n_labels=40, width=0.125)
    d = nets.discriminator(size, width=0.125)
    c = nets.classifier(d.outputs[1].shape[-1], 100, 40, width=0.125)
    z = np.random.default_rng(0).uniform(-1, 1, (2, 100)).astype(np.float32)
    labels = np.zeros((2, 40), np.float32)
    x = g([z, labels]).numpy()
    assert x.shape == (2, size, size, 3) and np.abs(x).max() <= 1.0
    assert g.get_layer("reshape").output.shape[1:3] == (size // 16, size // 16)  # 8x8 at 128, not 5x5
    source, shared, hidden = d(x)
    assert source.shape == (2, 1) and shared.shape == (2, 128)  # 1024 * 0.125
    assert [h.shape[1] for h in hidden] == [size // 2, size // 4, size // 8, size // 16]
    z_t, logits = c(shared)
    assert z_t.shape == (2, 100) and np.abs(z_t.numpy()).max() < 1.0 and logits.shape == (2, 40)


def test_paper_widths():
    d = nets.discriminator(128)
    assert [d.get_layer(f"conv{i}").filters for i in range(1, 5)] == [64, 128, 256, 512]
    assert d.get_layer("shared").units == 1024
    g = nets.generator(128)
    assert [g.get_layer(f"deconv{i}").filters for i in range(1, 5)] == [256, 128, 64, 3]
    assert g.get_layer("project").units == 8 * 8 * 512
    c = nets.classifier(1024)
    assert c.get_layer("fc").units == 128


def test_z_head_placement():
    """Fig. 3 reads z~ with one FC on the shared layer; the "hidden" reading puts C's 128*width layer before it."""
    shared = nets.classifier(256, z_dim=100, n_labels=8, width=0.25, z_head="shared")
    hidden = nets.classifier(256, z_dim=100, n_labels=8, width=0.25, z_head="hidden")
    assert shared.get_layer("z").kernel.shape == (256, 100)
    assert hidden.get_layer("z").kernel.shape == (32, 100)  # 128 * 0.25: fewer units than z has dimensions
    for c in (shared, hidden):
        assert c.get_layer("c_logits").kernel.shape == (32, 8)
    with pytest.raises(ValueError, match="z_head"):
        nets.classifier(256, z_head="middle")


def test_a_conv_z_head_leaves_the_shared_layer_to_the_labels():
    """``z_head="conv"``: D hands C flatten(h4) after its shared layer; z~ reads only that part, the labels only
    the shared layer."""
    d = nets.discriminator(64, width=0.25, with_convolution=True)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    _, handed, hidden = d(x)
    assert handed.shape == (2, 256 + 2048)
    np.testing.assert_array_equal(handed.numpy()[:, 256:], hidden[3].numpy().reshape(2, -1))
    c = nets.classifier(256, z_dim=32, n_labels=8, width=0.25, z_head="conv", convolution_units=2048)
    z, logits = (t.numpy() for t in c(handed))
    for part, moves_z in ((slice(256, None), True), (slice(0, 256), False)):
        other = handed.numpy().copy()
        other[:, part] += 1.0
        z2, logits2 = (t.numpy() for t in c(other))
        assert (not np.allclose(z, z2)) == moves_z and np.allclose(logits, logits2) == moves_z


def test_the_flatten_reading_hands_c_the_last_convolution():
    """§4's reading ("we flat the tensor and pass it to classifier"): C's input is flatten(h4) itself, so no
    shared FC exists and C's first FC reads h4's 4x4x128 values (64 px, width 0.25); the source logit is the same
    FC on flatten(h4) in both readings."""
    d = nets.discriminator(64, width=0.25, shared_layer="flatten")
    assert "shared" not in [layer.name for layer in d.layers]
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    source, shared, hidden = d(x)
    assert shared.shape == (2, 4 * 4 * 128)
    np.testing.assert_array_equal(shared.numpy(), hidden[3].numpy().reshape(2, -1))
    c = nets.classifier(d.outputs[1].shape[-1], z_dim=32, n_labels=8, width=0.25, z_head="shared")
    assert c.get_layer("fc").kernel.shape == (2048, 32) and c.get_layer("z").kernel.shape == (2048, 32)
    with pytest.raises(ValueError, match="shared_layer"):
        nets.discriminator(64, shared_layer="conv")


def _interior_spread(upsample, equal_taps=False):
    """Largest range over space, per channel, of one x2 upsampling layer's output for a constant 8x8 map, away
    from the zero-padded border: 0 when every output pixel sees the same sum of weights.  ``equal_taps``: the
    same weight on every tap instead of random ones."""
    import keras
    inp = keras.Input((8, 8, 4))
    model = keras.Model(inp, nets._upsample(inp, 2, upsample, "up", use_bias=False))
    if equal_taps:
        kernel = model.get_layer("up").kernel
        kernel.assign(np.full(kernel.shape, 0.1, np.float32))
    y = model(np.ones((1, 8, 8, 4), np.float32)).numpy()[0, 4:-4, 4:-4]
    assert y.shape == (8, 8, 2)
    return float(np.ptp(y, axis=(0, 1)).max())


def test_resize_upsampling_has_no_checkerboard():
    """A constant code map stays constant through nearest x2 + conv (away from the zero-padded border), while a
    5x5 stride-2 transposed convolution paints a period-2 pattern: the checkerboard of DCGAN generators."""
    import keras
    for upsample, periodic in (("resize", False), ("deconv", True)):
        spread = _interior_spread(upsample)
        assert (spread > 1e-3) == periodic, (upsample, spread)
    g = nets.generator(64, z_dim=10, n_labels=3, width=0.125, upsample="resize")
    assert g.output.shape[1:] == (64, 64, 3)
    assert not any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in g.layers)


def test_a_4x4_transposed_convolution_overlaps_evenly():
    """With the same weight on every tap, a constant map stays constant through a 4x4 stride-2 transposed
    convolution (each output pixel receives 2x2 taps) but not through the paper's 5x5 one (3x3, 3x2, 2x3 or 2x2
    taps by position): the uneven overlap that ``--g_upsample deconv4`` removes.  The shapes match (64 px out)."""
    for upsample, periodic in (("deconv4", False), ("deconv", True)):
        spread = _interior_spread(upsample, equal_taps=True)
        assert (spread > 1e-3) == periodic, (upsample, spread)
    g = nets.generator(64, z_dim=10, n_labels=3, width=0.125, upsample="deconv4")
    assert g.output.shape[1:] == (64, 64, 3)
    assert g.get_layer("deconv1").kernel.shape[:2] == (4, 4)
