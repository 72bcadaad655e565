import math

import numpy as np
import pytest

from tfface.losses import residual as L


def test_eq3_residual_sparsity_is_l1_sum_per_example():
    r = np.array([[[[0.5, -0.25, 0.0]]], [[[-1.0, 1.0, 2.0]]]], np.float32)  # [2,1,1,3]
    np.testing.assert_allclose(L.residual_sparsity_loss(r), [0.75, 4.0], rtol=1e-6)


def test_eq3_weighted_by_a_map_counts_each_pixel_by_its_weight():
    r = np.zeros((2, 4, 4, 3), np.float32)
    r[0, 0, 0] = [1.0, -1.0, 0.0]  # outside (weight 5)
    r[1, 2, 2, 0] = -3.0  # inside (weight 1)
    w = np.full((4, 4, 1), 5.0, np.float32)
    w[1:3, 1:3] = 1.0
    np.testing.assert_allclose(L.residual_sparsity_loss(r, w), [10.0, 3.0], rtol=1e-6)
    np.testing.assert_allclose(L.residual_sparsity_loss(r, None), [2.0, 3.0], rtol=1e-6)


def test_eq4_classification_is_softmax_cross_entropy():
    logits = np.log(np.array([[1.0, 2.0, 3.0], [4.0, 4.0, 2.0]], np.float32))  # p = [1/6, 2/6, 3/6], [.4, .4, .2]
    got = L.classification_loss(logits, np.array([2, 0]))
    np.testing.assert_allclose(got, [-math.log(0.5), -math.log(0.4)], rtol=1e-5)


def test_eq5_perceptual_is_l1_between_feature_maps():
    a = np.zeros((2, 2, 2, 1), np.float32)
    b = np.array([[[[1.0], [-2.0]], [[0.5], [0.0]]], [[[0.0], [0.0]], [[0.0], [3.0]]]], np.float32)
    np.testing.assert_allclose(L.perceptual_loss(a, b), [3.5, 3.0], rtol=1e-6)


def test_eq6_and_eq7_use_the_target_real_class():
    # p = [0.2, 0.5, 0.3]: "looks like a real image with the attribute" is p_1.
    logits = np.log(np.array([[0.2, 0.5, 0.3]], np.float32))
    assert L.adversarial_loss(logits, L.POSITIVE).numpy()[0] == pytest.approx(-math.log(0.5), rel=1e-5)
    assert L.adversarial_loss(logits, L.NEGATIVE).numpy()[0] == pytest.approx(-math.log(0.2), rel=1e-5)
    assert L.dual_loss(logits, L.NEGATIVE).numpy()[0] == pytest.approx(-math.log(0.2), rel=1e-5)
    # A generator cannot lower its loss by looking generated (class 2).
    fake = np.log(np.array([[0.01, 0.01, 0.98]], np.float32))
    assert L.adversarial_loss(fake, L.NEGATIVE).numpy()[0] > L.adversarial_loss(logits, L.NEGATIVE).numpy()[0]


def test_eq8_generator_loss_weights():
    got = L.generator_loss(np.float32(1.0), np.float32(2.0), np.float32(1000.0), np.float32(300.0), alpha=5e-4, beta=5e-5)
    assert float(got) == pytest.approx(1 + 2 + 0.5 + 0.015)
