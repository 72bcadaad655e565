import numpy as np
import pytest

from tfface.evaluation import metrics


def img(value, n=2, size=16):
    return np.full((n, size, size, 3), value, np.uint8)


def test_psnr_known_values():
    a, b = img(100), img(110)
    np.testing.assert_allclose(metrics.psnr(a, a), [metrics.PSNR_CAP] * 2)
    np.testing.assert_allclose(metrics.psnr(a, b), [10 * np.log10(255**2 / 100)] * 2)
    mask = np.zeros((2, 16, 16), bool)
    mask[:, :4] = True
    c = a.copy()
    c[:, 8:] = 0  # differences only outside the mask
    np.testing.assert_allclose(metrics.psnr(a, c, mask), [metrics.PSNR_CAP] * 2)
    assert np.isnan(metrics.psnr(a, c, np.zeros_like(mask))).all()


def test_ssim_identical_and_shifted():
    rng = np.random.default_rng(0)
    a = (rng.random((2, 32, 32, 3)) * 255).astype(np.uint8)
    np.testing.assert_allclose(metrics.ssim(a, a), [1.0, 1.0], atol=1e-5)
    assert (metrics.ssim(a, np.roll(a, 3, axis=2)) < 0.5).all()


def test_residual_energy_share():
    x = img(100, n=1)
    y = x.copy()
    y[0, :4, :4] = 140  # all change in the top-left corner
    mask = np.zeros((1, 16, 16), bool)
    mask[0, :8, :8] = True
    assert metrics.residual_energy_in_mask(x, y, mask)[0] == pytest.approx(1.0)
    assert metrics.residual_energy_in_mask(x, y, ~mask)[0] == pytest.approx(0.0)
    assert np.isnan(metrics.residual_energy_in_mask(x, x, mask)[0])


def test_edit_scores_prefer_the_true_edit():
    x, target = img(100), img(100)
    target[:, :4] = 200
    mask = np.zeros((2, 16, 16), bool)
    mask[:, :4] = True
    s = metrics.ground_truth_scores(x, target, target, mask)
    assert s["model"]["psnr"] == metrics.PSNR_CAP and s["model"]["ssim"] == pytest.approx(1.0)
    assert s["do_nothing"]["psnr_in_mask"] < 10 and s["do_nothing"]["psnr_outside_mask"] == metrics.PSNR_CAP
    assert s["model"]["residual_energy_in_mask"] == pytest.approx(1.0)
