import numpy as np
import pytest

from tfface.data.sources import load_domains
from tfface.evaluation import regions
from tfface.evaluation.residual import region_scores


def test_boxes_hold_their_landmarks_and_not_the_others():
    points = regions.template_points(1, 64)
    eyes = regions.masks("Eyeglasses", points, 64)[0]
    mouth = regions.masks("Smiling", points, 64)[0]
    at = lambda m, p: m[int(p[1]), int(p[0])]  # noqa: E731
    assert at(eyes, points[0, 0]) and at(eyes, points[0, 1]) and not at(eyes, points[0, 3])
    assert at(mouth, points[0, 3]) and at(mouth, points[0, 4]) and not at(mouth, points[0, 0])
    assert not (eyes & mouth).any()
    assert 0.05 < eyes.mean() < 0.2 and 0.03 < mouth.mean() < 0.15
    assert regions.masks("Male", points, 64) is None


def test_sparsity_weights_are_one_in_the_template_region_and_the_outside_weight_elsewhere():
    w = regions.sparsity_weights("Smiling", 64, 4.0)
    m = regions.masks("Smiling", regions.template_points(1, 64), 64)[0]
    assert w.shape == (64, 64, 1) and w.dtype == np.float32
    assert (w[m] == 1).all() and (w[~m] == 4).all() and m.any()
    assert regions.sparsity_weights("Male", 64, 4.0) is None


def test_energy_share_is_one_inside_and_the_area_share_when_spread_evenly():
    points = regions.template_points(2, 32)
    m = regions.masks("Eyeglasses", points, 32)
    x = np.full((2, 32, 32, 3), 100, np.uint8)
    inside = x.copy()
    inside[m] = 140
    spread = x + 20
    np.testing.assert_allclose(regions.energy_shares(x, inside, m), 1.0)
    np.testing.assert_allclose(regions.energy_shares(x, spread, m), m.mean(axis=(1, 2)))
    assert np.isnan(regions.energy_shares(x, x, m)).all()


@pytest.mark.parametrize("attribute", ["Eyeglasses", "Smiling"])
def test_the_true_edit_of_a_synthetic_face_lies_in_its_region(attribute):
    """The synthetic faces are framed like aligned CelebA: their counterfactual edits fall in the boxes."""
    data = load_domains("synthetic", attribute, image_size=64, synthetic_test_size=16)
    x = data.first_images("test", 16, 0)
    _, target, _ = data.test[0].counterfactual(np.arange(16), attribute)
    scores = region_scores(attribute, x, target, points=regions.template_points(16, 64))
    assert scores["energy_share"] > 0.8 and scores["area_share"] < 0.2, scores
    with pytest.raises(ValueError, match="global attribute"):
        region_scores("Male", x, target, points=regions.template_points(16, 64))
