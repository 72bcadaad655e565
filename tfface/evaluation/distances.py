"""Distances between two sets of image features (what FID and KID measure, on the judge's features).

FID's Inception weights cannot be downloaded here, so the features are the
judge's penultimate layer (``EvaluationContext.features`` in :mod:`tfface.evaluation.evaluate`), and the
numbers are named for what they are: "Fréchet distance on judge features"
and "kernel distance (unbiased MMD²) on judge features".  They compare
within one judge only, never with published FID/KID values.
"""

from __future__ import annotations

import numpy as np


def _feature_sets(a, b):
    """Both as float64 [N, D]; ValueError unless each has >= 2 rows and they share D."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"need two feature sets [N>=2, D] of equal D, got {a.shape} and {b.shape}")
    return a, b


def _sqrt_psd(m):
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(a, b):
    """||mu_a - mu_b||² + tr(S_a + S_b - 2 (S_a^½ S_b S_a^½)^½) of features [N, D] and [M, D].

    The matrix square root is taken of the symmetric S_a^½ S_b S_a^½ (same
    trace as (S_a S_b)^½, and numerically stable, with eigh; no scipy).
    Biased for small N (it grows as N shrinks): compare sets of equal size.
    """
    a, b = _feature_sets(a, b)
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = _sqrt_psd(sa)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ sb @ root), 0, None)).sum()
    return float(max(0.0, mu @ mu + np.trace(sa) + np.trace(sb) - 2 * cross))


def kernel_distance(a, b):
    """Unbiased MMD² with KID's cubic polynomial kernel k(x, y) = (x·y / D + 1)³, features [N, D], [M, D].

    Unbiased: its expectation is 0 when both sets come from one distribution
    (so it can be slightly negative), and it is fair to small samples.
    """
    a, b = _feature_sets(a, b)
    d = a.shape[1]
    k = lambda x, y: (x @ y.T / d + 1) ** 3  # noqa: E731
    kaa, kbb, kab = k(a, a), k(b, b), k(a, b)
    n, m = len(a), len(b)
    return float((kaa.sum() - np.trace(kaa)) / (n * (n - 1)) + (kbb.sum() - np.trace(kbb)) / (m * (m - 1))
                 - 2 * kab.mean())
