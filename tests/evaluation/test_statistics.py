import numpy as np
import pytest

from tfface.evaluation import statistics


def test_wilson_interval_matches_the_textbook_values():
    # Newcombe (1998), Table I: 81 of 263 -> 0.2553 to 0.3662; 0 of 10 -> 0 to 0.2775.
    np.testing.assert_allclose(statistics.wilson_interval(81, 263), (0.2553, 0.3662), atol=1e-4)
    np.testing.assert_allclose(statistics.wilson_interval(0, 10), (0.0, 0.2775), atol=1e-4)
    low, high = statistics.wilson_interval(10, 10)
    assert high == pytest.approx(1.0) and low == pytest.approx(0.7225, abs=1e-4)
    assert all(np.isnan(statistics.wilson_interval(0, 0)))


def test_rate_narrows_with_more_images():
    small, large = statistics.rate([True] * 8 + [False] * 2), statistics.rate([True] * 800 + [False] * 200)
    assert small["rate"] == large["rate"] == 0.8 and small["n"] == 10 and large["n"] == 1000
    assert large["high"] - large["low"] < (small["high"] - small["low"]) / 5
    assert statistics.interval_text(large).startswith("0.800 [0.77")


def test_median_interval_covers_the_median_and_repeats():
    x = np.random.default_rng(1).normal(0.5, 0.1, 400)
    lo, hi = statistics.median_interval(x)
    assert lo < np.median(x) < hi and hi - lo < 0.05
    assert statistics.median_interval(x) == (lo, hi)
    assert statistics.median_interval([np.nan, 2.0]) == (2.0, 2.0)
    assert all(np.isnan(statistics.median_interval([])))


@pytest.mark.parametrize("n", [5, 50])
def test_wilson_covers_the_true_rate_about_95_percent_of_the_time(n):
    rng = np.random.default_rng(0)
    covered = [lo <= 0.3 <= hi for lo, hi in (statistics.wilson_interval(rng.binomial(n, 0.3), n) for _ in range(2000))]
    assert 0.90 < np.mean(covered) < 0.99


def test_paired_difference_is_the_difference_of_hamming_losses_and_zero_for_identical_errors():
    rng = np.random.default_rng(2)
    a, b = rng.random((300, 8)) < 0.05, rng.random((300, 8)) < 0.02
    d = statistics.paired_difference(a, b)
    assert d["difference"] == pytest.approx(a.mean() - b.mean()) and d["images"] == 300
    assert d["low"] < d["difference"] < d["high"]
    assert statistics.paired_difference(a, a) == {"difference": 0.0, "low": 0.0, "high": 0.0, "images": 300}
    assert statistics.difference_text(d).startswith(f"+{a.mean() - b.mean():.4f} [")
    with pytest.raises(ValueError, match="one shape"):
        statistics.paired_difference(a, b[:, :4])


def test_paired_difference_interval_covers_the_true_difference_and_is_narrower_than_unpaired():
    # Two classifiers that miss the same hard images (shared difficulty) plus their own slips; true difference 0.01.
    rng = np.random.default_rng(3)
    covered, widths, unpaired = [], [], []
    for _ in range(200):
        hard = rng.random((400, 8)) < 0.03
        a = hard | (rng.random((400, 8)) < 0.02)
        b = hard | (rng.random((400, 8)) < 0.02 - 0.01 / 0.97)   # adds 0.01 less error on the non-hard labels
        d = statistics.paired_difference(a, b, resamples=400, seed=int(rng.integers(1 << 30)))
        truth = 0.97 * 0.02 - 0.97 * (0.02 - 0.01 / 0.97)
        covered.append(d["low"] <= truth <= d["high"])
        widths.append(d["high"] - d["low"])
        # The same interval for the two losses taken as independent: each loss's own bootstrap spread, added.
        unpaired.append(2 * 1.96 * np.hypot(a.mean(axis=1).std() / 20, b.mean(axis=1).std() / 20))
    assert 0.90 < np.mean(covered) < 0.99
    assert np.mean(widths) < 0.8 * np.mean(unpaired)
