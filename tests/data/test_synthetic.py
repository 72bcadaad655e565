import numpy as np
import pytest

from tfface.data import synthetic


@pytest.mark.parametrize("size", [32, 64, 128])
def test_render_shape_dtype_and_determinism(size):
    seeds = np.arange(6)
    attrs = synthetic.sample_attributes(seeds)
    a = synthetic.render(seeds, attrs, size)
    b = synthetic.render(seeds, attrs, size)
    assert a.shape == (6, size, size, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    # Different identities look different; a face is not a flat image.
    assert np.abs(a[0].astype(int) - a[1].astype(int)).mean() > 10
    assert a.reshape(6, -1).std(axis=1).min() > 12


def test_render_of_one_face_does_not_depend_on_its_batch():
    seeds = np.array([5, 6, 7])
    attrs = synthetic.sample_attributes(seeds)
    alone = synthetic.render(seeds[1:2], attrs[1:2], 48)
    np.testing.assert_array_equal(synthetic.render(seeds, attrs, 48)[1], alone[0])


@pytest.mark.parametrize("color_shape", [(3,), (4, 1, 1, 3), (4, 20, 20, 3)])
def test_dense_compositing_is_the_same_image_as_sparse(color_shape):
    rng = np.random.default_rng(0)
    img = rng.random((4, 20, 20, 3), np.float32)
    alpha = np.where(rng.random((4, 20, 20)) < 0.7, 0.0, rng.random((4, 20, 20))).astype(np.float32)
    color = rng.random(color_shape, np.float32)
    sparse = synthetic._over(img.copy(), alpha, color)
    dense = synthetic._over(img.copy(), alpha, color, dense=True)
    np.testing.assert_array_equal(sparse, dense)
    assert not np.array_equal(sparse, img)


@pytest.mark.parametrize("size", [16, 64, 160])
def test_layers_drawn_in_windows_are_the_whole_frames_layers(size, monkeypatch):
    """The small layers are computed only in a window around their shapes; a window too tight would cut a shape
    (or its anti-aliased edge).  With a margin wider than the frame every window is the whole frame."""
    rng = np.random.default_rng(size)
    seeds = rng.integers(0, 2**40, 96)
    attrs = rng.integers(0, 2, (96, len(synthetic.ATTRIBUTES))).astype(np.int32)
    attrs[:32] = 1  # every layer on
    ident = synthetic._identity_params(seeds)
    img, layers = synthetic._render_layers(ident, attrs, size)
    monkeypatch.setattr(synthetic, "WINDOW_MARGIN", 10 * size)
    whole_img, whole_layers = synthetic._render_layers(ident, attrs, size)
    np.testing.assert_array_equal(img, whole_img)
    assert set(layers) == set(whole_layers)
    for name in layers:
        np.testing.assert_array_equal(layers[name], whole_layers[name], err_msg=name)


@pytest.mark.parametrize("size", [64, 128])
@pytest.mark.parametrize("attribute", synthetic.ATTRIBUTES)
def test_counterfactual_changes_pixels_only_inside_its_mask(attribute, size):
    seeds = np.arange(100, 112)
    attrs = synthetic.sample_attributes(seeds)
    x, cf, mask = synthetic.counterfactual(seeds, attrs, attribute, size)
    np.testing.assert_array_equal(x, synthetic.render(seeds, attrs, size))
    diff = np.abs(x.astype(np.int16) - cf.astype(np.int16)).max(axis=-1)
    assert diff[~mask].max() == 0, "pixels changed outside the attribute mask"
    # The flip is visible on every face, and strongly on most.
    per_face = diff.reshape(len(seeds), -1).max(axis=1)
    assert per_face.min() > 30 and np.median(per_face) > 60, per_face
    # Local attributes stay local.
    if attribute in synthetic.LOCAL_ATTRIBUTES:
        assert mask.mean() < 0.2


def test_counterfactual_of_counterfactual_is_the_original():
    seeds = np.arange(3)
    attrs = synthetic.sample_attributes(seeds)
    _, cf, m = synthetic.counterfactual(seeds, attrs, "Smiling", 64)
    flipped = attrs.copy()
    flipped[:, synthetic.attribute_index("Smiling")] ^= 1
    back_x, back_cf, back_m = synthetic.counterfactual(seeds, flipped, "Smiling", 64)
    np.testing.assert_array_equal(back_x, cf)
    np.testing.assert_array_equal(back_m, m)


def test_sample_attributes_has_both_values_and_is_deterministic():
    a = synthetic.sample_attributes(np.arange(400))
    np.testing.assert_array_equal(a, synthetic.sample_attributes(np.arange(400)))
    frac = a.mean(axis=0)
    assert ((frac > 0.15) & (frac < 0.85)).all(), dict(zip(synthetic.ATTRIBUTES, frac))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="valid: Eyeglasses"):
        synthetic.attribute_index("Wings")
    with pytest.raises(ValueError, match="8 entries"):
        synthetic.render([1], [[0, 1]], 32)
    with pytest.raises(ValueError, match="0 or 1"):
        synthetic.render([1], [[2] * 8], 32)


def test_landmarks_are_on_the_face():
    seeds = np.arange(8)
    attrs = synthetic.sample_attributes(seeds)
    img = synthetic.render(seeds, attrs, 128)
    lm = synthetic.landmarks(seeds, attrs, 128)
    assert lm.shape == (8, 5, 2)
    for i in range(8):
        for eye in lm[i, :2]:
            x, y = np.round(eye).astype(int)
            # The pupil is black (a specular highlight sits about a pixel off-centre).
            assert img[i, y - 1:y + 2, x - 1:x + 2].max(axis=-1).min() < 90, "an eye landmark lands on the pupil"
        left, right, nose, ml, mr = lm[i]
        assert left[0] < nose[0] < right[0] and ml[0] < mr[0]
        assert max(left[1], right[1]) < nose[1] < min(ml[1], mr[1]) + 3
