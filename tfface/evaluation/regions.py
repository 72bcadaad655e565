"""Where a local attribute lives on an aligned face: the region its edit should stay inside.

The measure (bundled-editor target): the share of the residual's energy sum(r^2) inside the attribute's
region, per image, next to the region's share of the image's area (what an edit spread evenly would score).
Regions are boxes from five landmarks (eyes, nose, mouth corners, in crop pixels) scaled by the
inter-ocular distance d, chosen to hold what the attribute changes and little else:

- ``eyes`` (Eyeglasses): 0.6 d beyond each eye sideways (the frames' ends), 0.45 d above the eye line and
  0.5 d below it (lenses and the bridge on the nose);
- ``mouth`` (Smiling, Mouth_Slightly_Open, Wearing_Lipstick): 0.35 d beyond each mouth corner, 0.5 d above
  the corners' line (upper lip) and 0.6 d below it (an open jaw);

Global attributes (Male, Young, ...) have no region (None).  Points come from dlib's 68-point predictor on
the inputs (the ``faces`` extra), or from the training framing (the mean aligned CelebA landmarks).
"""

from __future__ import annotations

import numpy as np

REGION_OF = {"Eyeglasses": "eyes", "Smiling": "mouth", "Mouth_Slightly_Open": "mouth", "Wearing_Lipstick": "mouth"}
# The mean aligned-CelebA landmarks in our crops (fractions of the side): eyes, nose, mouth corners.
TEMPLATE = np.array([[0.389, 0.51], [0.611, 0.51], [0.494, 0.646], [0.404, 0.742], [0.590, 0.742]])


def template_points(n, size):
    return np.broadcast_to(TEMPLATE * size, (n, 5, 2)).copy()


def masks(attribute, points5, size):
    """Boolean masks [N, S, S] of the attribute's region for five-point landmarks [N, 5, 2]; None for an
    attribute without a region."""
    kind = REGION_OF.get(attribute)
    if kind is None:
        return None
    p = np.asarray(points5, np.float64)
    d = np.linalg.norm(p[:, 1] - p[:, 0], axis=1)
    if kind == "eyes":
        y = p[:, :2, 1].mean(1)
        box = (p[:, 0, 0] - 0.6 * d, y - 0.45 * d, p[:, 1, 0] + 0.6 * d, y + 0.5 * d)
    else:
        y = p[:, 3:, 1].mean(1)
        box = (p[:, 3, 0] - 0.35 * d, y - 0.5 * d, p[:, 4, 0] + 0.35 * d, y + 0.6 * d)
    c = np.arange(size) + 0.5
    x0, y0, x1, y1 = (b[:, None] for b in box)
    inside_x = (c[None] >= x0) & (c[None] <= x1)
    inside_y = (c[None] >= y0) & (c[None] <= y1)
    return inside_y[:, :, None] & inside_x[:, None, :]


def sparsity_weights(attribute, size, outside_weight):
    """Per-pixel weights [S, S, 1] of the residual's L1 (``--outside_weight``): 1 inside the attribute's
    region in the training framing (the template's box), ``outside_weight`` elsewhere; None for an attribute
    without a region."""
    m = masks(attribute, template_points(1, size), size)
    if m is None:
        return None
    return np.where(m[0], 1.0, float(outside_weight)).astype(np.float32)[:, :, None]


def energy_shares(inputs, outputs, region_masks):
    """Per image: share of sum(r^2) inside the mask (NaN where the residual is zero)."""
    r = np.asarray(outputs, np.float64) - np.asarray(inputs, np.float64)
    e = (r ** 2).sum(-1)
    total = e.reshape(len(e), -1).sum(1)
    inside = (e * region_masks).reshape(len(e), -1).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return inside / total
