"""Regenerate the synthetic-face figures in assets/ (deterministic; no TensorFlow needed).

    python scripts/make_assets.py
"""

import os
import sys

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tfface.data import synthetic  # noqa: E402

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")


def grid(images, cols):
    n, h, w, c = images.shape
    rows = -(-n // cols)
    pad = np.zeros((rows * cols - n, h, w, c), images.dtype)
    return np.concatenate([images, pad]).reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)


def main():
    os.makedirs(ASSETS, exist_ok=True)
    seeds = np.arange(32)
    faces = synthetic.render(seeds, synthetic.sample_attributes(seeds), 128)
    Image.fromarray(grid(faces, 8)).save(os.path.join(ASSETS, "synthetic_faces.png"))

    # One row per attribute: (original | counterfactual | mask) for 3 identities.
    size, ids = 96, np.array([3, 11, 21])
    rows = []
    for name in synthetic.ATTRIBUTES:
        x, cf, m = synthetic.counterfactual(ids, synthetic.sample_attributes(ids), name, size)
        mk = np.repeat((m * 255).astype(np.uint8)[..., None], 3, -1)
        rows.append(np.concatenate([np.concatenate([x[i], cf[i], mk[i]], 1) for i in range(len(ids))], 1))
    label_w = 150
    img = Image.new("RGB", (label_w + rows[0].shape[1], size * len(rows)), "white")
    draw = ImageDraw.Draw(img)
    for r, (name, row) in enumerate(zip(synthetic.ATTRIBUTES, rows)):
        img.paste(Image.fromarray(row), (label_w, r * size))
        draw.text((8, r * size + size // 2 - 6), name, fill="black")
    img.save(os.path.join(ASSETS, "synthetic_counterfactuals.png"))
    print("wrote", os.path.join(ASSETS, "synthetic_faces.png"), "and synthetic_counterfactuals.png")


if __name__ == "__main__":
    main()
