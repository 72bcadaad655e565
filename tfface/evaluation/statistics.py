"""Confidence intervals for the numbers in reports: Wilson for rates, bootstrap for medians and paired differences.

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


def paired_difference(errors_a, errors_b, resamples=2000, seed=0, level=0.95):
    """{"difference", "low", "high", "images"}: mean(errors_a) - mean(errors_b) over the same test images, with
    a percentile-bootstrap interval that resamples whole images (rows), so the labels of one image, which
    are not independent of each other, stay together.

    ``errors_a``, ``errors_b``: bool [N, K], True where a classifier got label k of image n wrong (two
    classifiers' Hamming-loss terms on the same images).  Pairing matters: both classifiers miss the
    same hard images, so the difference is known much more tightly than either loss alone.
    """
    a, b = (np.asarray(e, bool).reshape(len(e), -1) for e in (errors_a, errors_b))
    if a.shape != b.shape:
        raise ValueError(f"paired errors need one shape, got {a.shape} and {b.shape}")
    n = len(a)
    if n == 0:
        return {"difference": float("nan"), "low": float("nan"), "high": float("nan"), "images": 0}
    per_image = a.mean(axis=1) - b.mean(axis=1)
    rng = np.random.default_rng(seed)
    means = per_image[rng.integers(0, n, (resamples, n))].mean(axis=1)
    q = (1 - level) / 2
    return {"difference": float(per_image.mean()), "low": float(np.quantile(means, q)),
            "high": float(np.quantile(means, 1 - q)), "images": n}


def difference_text(entry, digits=4):
    """'+0.0030 [-0.0012, +0.0071]' for a :func:`paired_difference` entry."""
    return f"{entry['difference']:+.{digits}f} [{entry['low']:+.{digits}f}, {entry['high']:+.{digits}f}]"
