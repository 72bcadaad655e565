"""Pictures for people: sample grids, residuals as images, heat maps (uint8 RGB, NumPy only)."""

from __future__ import annotations

import numpy as np


def grid_image(rows):
    """Stack rows of equal-size uint8 images [H, W, 3] into one picture, with 2px white gaps."""
    rows = [np.concatenate([np.pad(im, ((1, 1), (1, 1), (0, 0)), constant_values=255) for im in row], axis=1) for row in rows]
    return np.concatenate(rows, axis=0)


def residual_picture(x, y):
    """A residual y - x as a picture: zero is mid-grey, +-1 (in [-1, 1] units) saturates."""
    r = (y.astype(np.float32) - x.astype(np.float32)) / 127.5
    return np.round(127.5 + 127.5 * np.clip(r, -1, 1)).astype(np.uint8)


def heat(values, vmax=None):
    """Non-negative map [H, W] -> uint8 RGB heat map (black, red, yellow, white)."""
    v = np.asarray(values, np.float64)
    vmax = vmax or max(float(v.max()), 1e-8)
    t = np.clip(v / vmax, 0, 1)
    rgb = np.stack([np.clip(3 * t, 0, 1), np.clip(3 * t - 1, 0, 1), np.clip(3 * t - 2, 0, 1)], axis=-1)
    return np.round(rgb * 255).astype(np.uint8)
