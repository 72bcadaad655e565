"""dlib's face models (the ``faces`` extra: prebuilt wheels, models bundled, nothing downloaded).

:func:`dlib_models` is the one loader: the HOG face detector, the 5- and
68-point landmark predictors and the 128-D identity embedding, loaded once
per process (the detector and the embedding once per thread: they are not
thread-safe).  Photo editing (:mod:`tfface.photo`) and the face measures of
evaluation (:mod:`tfface.evaluation.face_measures`) use it.
"""

from __future__ import annotations

import functools
import os
import threading

import numpy as np
from PIL import Image

from tfface import files

try:  # optional: the "faces" extra
    import dlib
    import face_recognition_models
except ImportError:  # pragma: no cover - depends on the installation
    dlib = face_recognition_models = None

# dlib's HOG detector scores confident faces above ~0.5; weaker hits are often
# badges, patterns or profile fragments.
MIN_FACE_SCORE = 0.3


class _Models:
    """dlib's models by name, each loaded on first use (the 68-point predictor and the identity network
    take a second to load, and photo editing needs neither)."""

    LOADERS = {
        "dlib": lambda: dlib,
        "detector": lambda: _frontal_face_detector(),
        "five": lambda: dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location()),
        "sixty_eight": lambda: dlib.shape_predictor(face_recognition_models.pose_predictor_model_location()),
        "embedder": lambda: dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location()),
    }

    # dlib's object detector keeps the image pyramid it scans in the detector object, so two threads sharing
    # one find each other's faces (54 of 200 detections of two photos from 4 threads were wrong; the web
    # demo edits two requests at once). dlib's networks keep their activations in the network the same way.
    # The shape predictors keep no state and are shared.
    PER_THREAD = frozenset({"detector", "embedder"})

    def __init__(self):
        self._loaded = {}
        self._local = threading.local()

    def __getitem__(self, name):
        loaded = self._local.__dict__ if name in self.PER_THREAD else self._loaded
        if name not in loaded:
            loaded[name] = self.LOADERS[name]()
        return loaded[name]


def _cache_dir():
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "tfface")


def _frontal_face_detector():
    """dlib's HOG face detector.  ``get_frontal_face_detector()`` rebuilds it from dlib's source text (0.5 s,
    a third of editing a photo); its saved copy loads in milliseconds, so the first call saves one in the
    user's cache directory (per dlib version) and later calls load that.  An unwritable or damaged cache
    only costs the rebuild."""
    path = os.path.join(_cache_dir(), f"frontal_face_detector-dlib-{dlib.__version__}.svm")
    if os.path.isfile(path):
        try:
            return dlib.fhog_object_detector(path)
        except RuntimeError:  # damaged: rebuilt and saved again below
            pass
    detector = dlib.get_frontal_face_detector()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with files.replacing(path) as tmp:
            detector.save(tmp)
    except OSError:
        pass
    return detector


@functools.lru_cache(maxsize=1)
def dlib_models():
    """{"dlib", "detector", "five", "sixty_eight", "embedder"}, each loaded when first asked for, once per
    process; RuntimeError without the faces extra."""
    if dlib is None:
        raise RuntimeError('face detection, landmarks and identity need dlib: pip install -e ".[faces]"')
    return _Models()


def detect_faces(photo, min_score=MIN_FACE_SCORE):
    """Faces in an RGB uint8 photo, most confident first (dlib detector score):
    [(box (left, top, right, bottom), left eye (x, y), right eye (x, y))]."""
    d = dlib_models()
    h, w = photo.shape[:2]
    # Detect on a copy at most ~1000 px wide (HOG is slow on large photos), upsampling small ones.
    scale = min(1.0, 1000.0 / max(h, w))
    # reducing_gap: a box reduction by an integer factor first, then the filter (a photo of tens of
    # megapixels is not filtered at full size).
    small = (np.asarray(Image.fromarray(photo).resize((max(1, int(w * scale)), max(1, int(h * scale))), reducing_gap=3.0))
             if scale < 1 else photo)
    rects, scores, _ = d["detector"].run(small, 1 if max(small.shape[:2]) < 800 else 0, 0.0)
    faces = []
    for r, score in sorted(zip(rects, scores), key=lambda rs: -rs[1]):
        if score < min_score:
            continue
        shape = d["five"](small, r)
        p = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], np.float64) / scale
        # 5-point model: 0,1 = one eye's corners, 2,3 = the other's, 4 = nose.
        a, b = p[0:2].mean(axis=0), p[2:4].mean(axis=0)
        left, right = (a, b) if a[0] < b[0] else (b, a)
        box = (r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale)
        faces.append((box, left, right))
    return faces
