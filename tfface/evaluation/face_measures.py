"""Face measures of evaluation: identity embeddings and landmark errors (the ``faces`` extra).

- **Identity** (the offline counterpart of paper 2's FaceNet score): dlib's
  128-D ResNet face embedding; two images of the same person are usually
  closer than 0.6 (dlib's own threshold).
- **Landmarks** (paper 1, Table 2): dlib's 68-point ERT predictor (the
  paper used ERT with Dlib), reduced to CelebA's five points; errors are
  normalised by the inter-ocular distance.

Images are small (64-128 px), so they are upscaled to 256 px first.  The
face rectangle comes from dlib's detector when it finds the face, else from
the training framing (eyes at 39% and 61% of the width, see tfface.photo);
an input and its edit always share the rectangle, so the comparison is fair.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from tfface.evaluation import statistics
from tfface.faces import dlib_models

UPSCALE = 256
IDENTITY_THRESHOLD = 0.6
# 68-point indices: image-left eye 36-41, image-right eye 42-47, nose tip 30, mouth corners 48, 54.
LEFT_EYE, RIGHT_EYE, NOSE_TIP, MOUTH_LEFT, MOUTH_RIGHT = list(range(36, 42)), list(range(42, 48)), 30, 48, 54


def _upscale(img):
    return np.asarray(Image.fromarray(np.asarray(img, np.uint8)).resize((UPSCALE, UPSCALE), Image.BICUBIC))


def face_rect(img_up):
    """dlib rectangle for an upscaled aligned face: the detector's best, else the template box."""
    d = dlib_models()
    rects, scores, _ = d["detector"].run(img_up, 0, 0.0)
    if len(rects):
        return rects[int(np.argmax(scores))]
    s = UPSCALE
    return d["dlib"].rectangle(int(0.2 * s), int(0.28 * s), int(0.8 * s), int(0.88 * s))


def _per_face(images, rects, measure):
    """Apply ``measure(upscaled image, rect, original)`` to each image; returns (stacked results, rects used)."""
    out, used = [], []
    for i, img in enumerate(images):
        up = _upscale(img)
        rect = face_rect(up) if rects is None else rects[i]
        out.append(measure(up, rect, img))
        used.append(rect)
    return np.stack(out), used


def embeddings(images, rects=None):
    """128-D embeddings of uint8 images [N,S,S,3]; returns (embeddings [N,128], rects used)."""
    d = dlib_models()

    def embed(up, rect, _):
        return np.asarray(d["embedder"].compute_face_descriptor(up, d["five"](up, rect)), np.float64)

    return _per_face(images, rects, embed)


class IdentityReference:
    """The embeddings (and face rectangles) of ``inputs``, computed once, for comparing them with several
    edits of the same images: an evaluation compares one test set with its reconstruction and each flip,
    and the embedding network is most of its time (about 0.1 s an image here)."""

    def __init__(self, inputs):
        self.inputs = inputs
        self.embeddings, self.rects = embeddings(inputs)

    def distances(self, outputs):
        """Per-pair distance between the inputs' embeddings and their edits' (same face rectangle)."""
        if len(outputs) != len(self.rects):
            raise ValueError(f"{len(outputs)} edits for {len(self.rects)} inputs")
        b, _ = embeddings(outputs, self.rects)
        return np.linalg.norm(self.embeddings - b, axis=1)


def identity_distances(inputs, outputs):
    """Per-pair distance between the embeddings of inputs and their edits (same face rectangle)."""
    return IdentityReference(inputs).distances(outputs)


def median_identity_distance(inputs, outputs, n):
    """The median :func:`identity_distances` of the first ``n`` pairs, or None when there are none or dlib is
    missing (the ``faces`` extra is not installed): for measures taken while training."""
    n = min(int(n), len(inputs))
    if not n:
        return None
    try:
        return float(np.median(identity_distances(inputs[:n], outputs[:n])))
    except RuntimeError:
        return None


def identity_summary(distances):
    d = np.asarray(distances, np.float64)
    same = statistics.rate(d < IDENTITY_THRESHOLD)
    return {"median_distance": float(np.median(d)), "median_interval": statistics.median_interval(d),
            "mean_distance": float(d.mean()), "share_same_person": same["rate"],
            "share_same_person_interval": [same["low"], same["high"]], "threshold": IDENTITY_THRESHOLD, "pairs": int(len(d))}


def landmarks68(images, rects=None):
    """dlib 68-point landmarks in the images' own pixel coordinates: ([N, 68, 2], rects used)."""
    d = dlib_models()

    def points(up, rect, img):
        shape = d["sixty_eight"](up, rect)
        pts = np.array([[shape.part(k).x, shape.part(k).y] for k in range(68)], np.float64)
        return (pts + 0.5) * img.shape[0] / UPSCALE - 0.5

    return _per_face(images, rects, points)


def five_points(lm68):
    """68 points -> CelebA's five: left eye, right eye, nose, left mouth corner, right mouth corner."""
    lm68 = np.asarray(lm68)
    return np.stack([lm68[:, LEFT_EYE].mean(1), lm68[:, RIGHT_EYE].mean(1), lm68[:, NOSE_TIP],
                     lm68[:, MOUTH_LEFT], lm68[:, MOUTH_RIGHT]], axis=1)


def normalized_errors(pred5, truth5):
    """Per image (eye error, rest error): mean point distance / inter-ocular distance (Table 2's measure)."""
    pred5, truth5 = np.asarray(pred5, np.float64), np.asarray(truth5, np.float64)
    iod = np.linalg.norm(truth5[:, 1] - truth5[:, 0], axis=1)
    dist = np.linalg.norm(pred5 - truth5, axis=2) / iod[:, None]
    return dist[:, :2].mean(axis=1), dist[:, 2:].mean(axis=1)
