"""Image-quality metrics on uint8 images, and edit scores against synthetic ground truth.

PSNR is reported in dB on the 0-255 scale and capped at :data:`PSNR_CAP`
(identical images have infinite PSNR, which JSON cannot hold; the cap is far
above any real edit).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

PSNR_CAP = 100.0


def _mse_per_image(a, b, mask=None):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    se = (a - b) ** 2
    if a.ndim == 3:
        se, mask = se[None], (None if mask is None else np.asarray(mask)[None])
    se = se.mean(axis=-1)  # over channels: [N, H, W]
    if mask is None:
        return se.reshape(len(se), -1).mean(axis=1)
    mask = np.asarray(mask, bool).reshape(se.shape)
    count = mask.reshape(len(se), -1).sum(axis=1)
    total = (se * mask).reshape(len(se), -1).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def psnr(a, b, mask=None):
    """Per-image PSNR (dB) of uint8-range images [N,H,W,3] (or one [H,W,3]), optionally within ``mask`` [N,H,W].

    Images whose mask is empty get NaN.
    """
    mse = _mse_per_image(a, b, mask)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 10.0 * np.log10(255.0**2 / np.maximum(mse, 255.0**2 / 10 ** (PSNR_CAP / 10)))
    return out


def mean_finite(x):
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else None


def edit_scores(inputs, outputs, targets, masks):
    """Scores of edits ``outputs`` of ``inputs`` against ground-truth ``targets``.

    ``masks`` mark where the attribute may change pixels.  Returns mean PSNRs
    for the model and for the ``do_nothing`` baseline (output = input):

    - ``psnr``: whole image vs the counterfactual (higher = closer to the truth);
    - ``psnr_in_mask``: inside the attribute region (did the edit happen?);
    - ``psnr_outside_mask``: outside it (was the rest preserved?  The
      baseline is exact there, i.e. the cap).
    """
    masks = np.asarray(masks, bool)
    out = {}
    for who, img in (("model", outputs), ("do_nothing", inputs)):
        out[who] = {
            "psnr": mean_finite(psnr(img, targets)),
            "psnr_in_mask": mean_finite(psnr(img, targets, masks)),
            "psnr_outside_mask": mean_finite(psnr(img, targets, ~masks)),
        }
    return out


def ssim(a, b):
    """Per-image SSIM of uint8-range images [N,H,W,3] (Gaussian window 11, sigma 1.5; smaller for tiny images)."""
    a = tf.convert_to_tensor(np.asarray(a, np.float32))
    b = tf.convert_to_tensor(np.asarray(b, np.float32))
    size = min(11, int(a.shape[1]), int(a.shape[2]))
    return tf.image.ssim(a, b, max_val=255.0, filter_size=size).numpy()


def residual_energy_in_mask(inputs, outputs, masks):
    """Per image: share of the residual's energy sum(r^2) that lies inside the mask (NaN if r = 0)."""
    r = np.asarray(outputs, np.float64) - np.asarray(inputs, np.float64)
    e = (r**2).sum(axis=-1)
    m = np.asarray(masks, bool).reshape(e.shape)
    total = e.reshape(len(e), -1).sum(axis=1)
    inside = (e * m).reshape(len(e), -1).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, inside / total, np.nan)


def ground_truth_scores(inputs, outputs, targets, masks):
    """Everything the synthetic ground truth measures about one direction of edits (means)."""
    scores = edit_scores(inputs, outputs, targets, masks)
    scores["model"]["ssim"] = mean_finite(ssim(outputs, targets))
    scores["do_nothing"]["ssim"] = mean_finite(ssim(inputs, targets))
    scores["model"]["residual_energy_in_mask"] = mean_finite(residual_energy_in_mask(inputs, outputs, masks))
    return scores
