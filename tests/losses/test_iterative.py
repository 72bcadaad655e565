import math

import numpy as np
import pytest

from tfface.losses import iterative as L

LN2 = math.log(2.0)


def test_adversarial_losses():
    zero = np.zeros((2, 1), np.float32)
    np.testing.assert_allclose(L.adversarial_discriminator_loss(zero, zero), [2 * LN2] * 2, rtol=1e-5)
    np.testing.assert_allclose(L.adversarial_generator_loss(zero), [LN2] * 2, rtol=1e-5)
    # D(x) = sigmoid(logit): a confident, correct D has a small loss and G a large one.
    real, fake = np.full((1, 1), 5.0, np.float32), np.full((1, 1), -5.0, np.float32)
    assert float(L.adversarial_discriminator_loss(real, fake)[0]) == pytest.approx(2 * math.log1p(math.exp(-5)), rel=1e-4)
    assert float(L.adversarial_generator_loss(fake)[0]) == pytest.approx(math.log1p(math.exp(5)), rel=1e-4)


def test_label_loss_is_mean_binary_cross_entropy_over_labels():
    logits = np.array([[0.0, math.log(3.0)]], np.float32)  # sigmoid: 0.5, 0.75
    labels = np.array([[1.0, 0.0]], np.float32)
    expected = (-math.log(0.5) - math.log(0.25)) / 2
    assert float(L.label_loss(logits, labels)[0]) == pytest.approx(expected, rel=1e-5)


def test_label_sum_loss_is_the_negative_log_likelihood_of_the_label_vector():
    logits = np.array([[0.0, math.log(3.0)], [0.0, 0.0]], np.float32)  # sigmoid: 0.5, 0.75 / 0.5, 0.5
    labels = np.array([[1.0, 0.0], [1.0, 1.0]], np.float32)
    # -log P(c) with P(c) = prod of the per-label probabilities: 0.5 * 0.25, then 0.5 * 0.5.
    np.testing.assert_allclose(np.asarray(L.label_sum_loss(logits, labels)), [-math.log(0.125), -math.log(0.25)],
                               rtol=1e-5)
    np.testing.assert_allclose(np.asarray(L.label_sum_loss(logits, labels)),
                               2 * np.asarray(L.label_loss(logits, labels)), rtol=1e-6)
    assert set(L.LABEL_LOSSES) == {"mean", "sum"}


def test_perceptual_pixel_and_latent_losses():
    h_real = [np.zeros((1, 2, 2, 1), np.float32), np.zeros((1, 1, 1, 4), np.float32)]
    h_rebuilt = [np.full((1, 2, 2, 1), 0.5, np.float32), np.array([[[[1.0, -1.0, 0.0, 2.0]]]], np.float32)]
    assert float(L.perceptual_loss(h_real, h_rebuilt)[0]) == pytest.approx((0.5 + 1.0) / 2)
    assert float(L.perceptual_loss(h_real, h_rebuilt, weights=[1.0, 0.0])[0]) == pytest.approx(0.5)
    x = np.zeros((2, 2, 2, 3), np.float32)
    y = x.copy()
    y[1] = 0.25
    np.testing.assert_allclose(L.pixel_loss(x, y), [0.0, 0.25])
    np.testing.assert_allclose(L.latent_code_loss(np.zeros((1, 4), np.float32), np.array([[1, -1, 0, 0]], np.float32)), [0.5])


def test_integrated_loss_uses_the_papers_lambdas():
    assert L.integrated_loss(1.0, 1.0, 1.0) == pytest.approx(2.0 + 0.5 + 1.0)
    assert L.integrated_loss(1.0, 2.0, 3.0, (0.0, 1.0, 0.0)) == pytest.approx(2.0)


def test_latent_code_norm_loss_is_the_euclidean_norm():
    z = np.zeros((2, 4), np.float32)
    z_hat = np.array([[3, 4, 0, 0], [1, 1, 1, 1]], np.float32)
    np.testing.assert_allclose(np.asarray(L.latent_code_norm_loss(z, z_hat)), [5.0, 2.0], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(L.latent_code_loss(z, z_hat)), [1.75, 1.0], rtol=1e-6)
    assert set(L.LATENT_CODE_LOSSES) == {"mean", "norm"}


def test_change_sparsity_loss_is_the_mean_absolute_change_per_face():
    rebuilt = np.zeros((2, 4, 4, 3), np.float32)
    edit = rebuilt.copy()
    edit[1, :2] = 0.5                                  # half of face 1 changes by 0.5, face 0 not at all
    np.testing.assert_allclose(np.asarray(L.change_sparsity_loss(edit, rebuilt)), [0.0, 0.25], rtol=1e-6)


def test_identity_loss_is_one_minus_the_cosine_of_unit_embeddings():
    e = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], np.float32)
    same, orthogonal, opposite = e, e[[1, 0, 2]] * np.array([[1], [1], [-1]], np.float32), -e
    np.testing.assert_allclose(np.asarray(L.identity_loss(e, same)), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(L.identity_loss(e, orthogonal)), [1.0, 1.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(np.asarray(L.identity_loss(e, opposite)), 2.0, atol=1e-6)


def test_feature_matching_loss_compares_each_positions_channel_direction():
    rng = np.random.default_rng(0)
    a = [rng.normal(size=(2, 4, 4, 3)).astype(np.float32), rng.normal(size=(2, 2, 2, 5)).astype(np.float32)]
    # the same maps, or each position's channel vector scaled by a positive factor: 0
    scaled = [m * rng.uniform(0.5, 3.0, m.shape[:3] + (1,)).astype(np.float32) for m in a]
    np.testing.assert_allclose(np.asarray(L.feature_matching_loss(a, scaled)), 0.0, atol=1e-5)
    # opposite directions at every position: 4 per map, 8 over the two
    np.testing.assert_allclose(np.asarray(L.feature_matching_loss(a, [-m for m in a])), 8.0, rtol=1e-5)
    # one position of the deeper map of face 1 turned to an orthogonal direction: 2 / 4 positions, face 0 untouched
    b = [m.copy() for m in a]
    v = b[1][1, 0, 0]
    w = rng.normal(size=5).astype(np.float32)
    b[1][1, 0, 0] = w - (w @ v) / (v @ v) * v
    np.testing.assert_allclose(np.asarray(L.feature_matching_loss(a, b)), [0.0, 0.5], atol=1e-5)
