"""Pictures for people: sample grids, residuals as images, heat maps, line charts (uint8 RGB)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


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


COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def line_chart(panels, x_label, size=(420, 300)):
    """Line charts side by side, as a uint8 RGB picture (PIL only).

    ``panels``: [(title, [(label, xs, ys, dashed)], (y_min, y_max) or None)]; a series' colour is the
    colour of its label across panels, so one legend (under the panels) serves all.  Points where y is
    None are skipped.
    """
    w, h = size
    labels = list(dict.fromkeys(label for _, series, _ in panels for label, *_ in series))
    colour = {label: COLOURS[i % len(COLOURS)] for i, label in enumerate(labels)}
    legend_h = 16 * ((len(labels) + 1) // 2) + 8
    img = Image.new("RGB", (w * len(panels), h + legend_h), "white")
    draw = ImageDraw.Draw(img)
    left, right, top, bottom = 46, 12, 22, 34
    xs_all = [x for _, series, _ in panels for _, xs, ys, _ in series for x, y in zip(xs, ys) if y is not None]
    x_max = max(xs_all) if xs_all else 1.0
    for p, (title, series, y_range) in enumerate(panels):
        ox = p * w
        ys_all = [y for _, _, ys, _ in series for y in ys if y is not None]
        y0, y1 = y_range or ((min(ys_all), max(ys_all)) if ys_all else (0.0, 1.0))
        y1 = y1 if y1 > y0 else y0 + 1.0
        fx = lambda x: ox + left + (w - left - right) * x / x_max  # noqa: E731
        fy = lambda y: top + (h - top - bottom) * (1 - (y - y0) / (y1 - y0))  # noqa: E731
        draw.rectangle([ox + left, top, ox + w - right, h - bottom], outline=(0, 0, 0))
        draw.text((ox + left, 4), title, fill=(0, 0, 0))
        for k in range(5):
            y = y0 + (y1 - y0) * k / 4
            draw.line([ox + left - 3, fy(y), ox + left, fy(y)], fill=(0, 0, 0))
            draw.text((ox + 4, fy(y) - 6), f"{y:.2f}", fill=(0, 0, 0))
            x = x_max * k / 4
            draw.line([fx(x), h - bottom, fx(x), h - bottom + 3], fill=(0, 0, 0))
            draw.text((fx(x) - 10, h - bottom + 5), f"{x:.2f}", fill=(0, 0, 0))
        draw.text((ox + left + (w - left - right) // 2 - 40, h - 14), x_label, fill=(0, 0, 0))
        for label, xs, ys, dashed in series:
            pts = [(fx(x), fy(min(max(y, y0), y1))) for x, y in zip(xs, ys) if y is not None]
            for a, b in zip(pts, pts[1:]):
                _segment(draw, a, b, colour[label], dashed)
            for x, y in pts:
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour[label])
    for i, label in enumerate(labels):
        x, y = 8 + (i % 2) * (img.width // 2), h + 4 + 16 * (i // 2)
        draw.line([x, y + 6, x + 20, y + 6], fill=colour[label], width=3)
        draw.text((x + 26, y), label, fill=(0, 0, 0))
    return np.asarray(img)


def _segment(draw, a, b, fill, dashed, on=7.0, off=5.0):
    if not dashed:
        draw.line([a, b], fill=fill, width=2)
        return
    (x0, y0), (x1, y1) = a, b
    length = max(float(np.hypot(x1 - x0, y1 - y0)), 1e-9)
    t = 0.0
    while t < length:
        t1 = min(t + on, length)
        draw.line([(x0 + (x1 - x0) * t / length, y0 + (y1 - y0) * t / length),
                   (x0 + (x1 - x0) * t1 / length, y0 + (y1 - y0) * t1 / length)], fill=fill, width=2)
        t = t1 + off
