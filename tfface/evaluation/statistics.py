"""Confidence intervals for the numbers in reports: Wilson for rates, bootstrap for medians.

A rate of 0.95 on 20 images and on 2,000 images are different claims; every
rate in a report carries its 95% interval so the reader can tell.
"""

from __future__ import annotations

import numpy as np

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson_interval(hits, n, z=Z95):
    """(low, high): the Wilson score interval of ``hits`` successes in ``n`` trials; (nan, nan) when n = 0.

    Unlike the normal approximation it stays inside [0, 1] and is not
    empty at 0 or n hits.
    """
    if n <= 0:
        return float("nan"), float("nan")
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def rate(hits):
    """{"rate", "low", "high", "n"} of a boolean array (the share of True, with its Wilson interval)."""
    hits = np.asarray(hits, bool).reshape(-1)
    n, k = int(hits.size), int(hits.sum())
    low, high = wilson_interval(k, n)
    return {"rate": k / n if n else float("nan"), "low": low, "high": high, "n": n}


def median_interval(values, resamples=2000, seed=0, level=0.95):
    """(low, high): percentile-bootstrap interval of the median of ``values`` (fixed seed, so reports repeat)."""
    x = np.asarray(values, np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    medians = np.median(x[rng.integers(0, x.size, (resamples, x.size))], axis=1)
    a = (1 - level) / 2
    return float(np.quantile(medians, a)), float(np.quantile(medians, 1 - a))


def interval_text(entry, digits=3):
    """'0.812 [0.771, 0.848]' for a :func:`rate` entry."""
    return f"{entry['rate']:.{digits}f} [{entry['low']:.{digits}f}, {entry['high']:.{digits}f}]"
