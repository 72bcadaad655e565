"""What the figure scripts share: their command line and the crop of a photo around its face."""

import argparse
import os

import numpy as np

from tfface.pictures import grid_image

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")


def parser(doc):
    """--run_dir or --pretrained, --name (default: the bundle's or the run directory's) and --out (assets/)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--run_dir")
    ap.add_argument("--pretrained")
    ap.add_argument("--name")
    ap.add_argument("--out", default=ASSETS)
    return ap


def figure_name(a):
    return a.name or a.pretrained or os.path.basename(a.run_dir.rstrip("/"))


def around_face(photo, face, pictures, side=260):
    """One row: each of ``pictures`` (the photo and its edits) cropped to ``side`` px around ``face``."""
    (left, top, right, bottom), _, _ = face
    x0 = int(np.clip((left + right) / 2 - side / 2, 0, photo.shape[1] - side))
    y0 = int(np.clip((top + bottom) / 2 - side / 2, 0, photo.shape[0] - side))
    return grid_image([[im[y0:y0 + side, x0:x0 + side] for im in pictures]])
