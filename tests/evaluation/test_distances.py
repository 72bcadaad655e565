import numpy as np
import pytest

from tfface.evaluation import distances


def test_frechet_distance_of_gaussians_has_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (20000, 3))
    b = rng.normal(0, 2, (20000, 3)) + [1, 0, 0]
    # mu: 1; covariances I and 4I: tr(I + 4I - 2*2I) = 3.
    assert distances.frechet_distance(a, b) == pytest.approx(4.0, rel=0.03)
    assert distances.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_kernel_distance_is_unbiased_near_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    same = [distances.kernel_distance(rng.normal(size=(50, 8)), rng.normal(size=(50, 8))) for _ in range(40)]
    assert abs(np.mean(same)) < 3 * np.std(same) / np.sqrt(len(same)) + 1e-3
    shifted = distances.kernel_distance(rng.normal(size=(50, 8)), rng.normal(size=(50, 8)) + 1.0)
    assert shifted > 10 * np.std(same)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="equal D"):
        distances.frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="N>=2"):
        distances.kernel_distance(np.zeros((1, 3)), np.zeros((4, 3)))
