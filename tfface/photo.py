"""Edit faces in your own photos with the bundled editors or an exported residual editor (SavedModel or .tflite).

    tfface edit --input photo.jpg --output out.jpg --remove Eyeglasses --add Smiling --strength 0.8
    tfface edit --model export/residual-Eyeglasses-synthetic-64px/1 --input photo.jpg --output out.jpg
    tfface edit --model export/.../1/assets.extra/tflite/float32.tflite --input p.png --output o.png \\
        --direction remove --strength 0.7 --all_faces

Faces are found with dlib's HOG detector and 5-point landmarks (the
``faces`` extra; models ship inside the wheels, nothing is downloaded).
Each face is aligned by a similarity transform that puts the eyes where the
training images have them, cropped at the model's size and edited; then -
the point of residual images - only the *residual* is warped back and added
to the original full-resolution photo under a feathered mask.  Pixels
outside the face regions keep their exact original values.  Several edits
chain: each editor's residual is computed on the previous edit's result and
added in turn (faces are detected once, on the original).

An editor is any object with ``size`` (its crop side) and ``residual(face01, strength)``.  This module
runs :class:`TFLiteEditor` without importing TensorFlow; the TensorFlow ones (a Keras generator, a
SavedModel) are in :mod:`tfface.editors`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from tfface.errors import DataError, UsageError
from tfface.faces import detect_faces
from tfface.litert import Runner

# Where the eyes are in a training crop, as fractions of its side.  Aligned
# CelebA crops (178 x 178 from the centre of 178 x 218) have them at about
# (0.39, 0.51) and (0.60, 0.51); the synthetic faces were framed the same way.
LEFT_EYE = np.array([0.389, 0.51])
RIGHT_EYE = np.array([0.611, 0.51])
FEATHER = 0.15  # share of the crop side over which the edit fades out at the borders


class NoFaceError(DataError):
    """No face was found in a photo."""


# -- models -----------------------------------------------------------------------------
class TFLiteEditor:
    """An exported residual editor's .tflite model (the bundled editors ship float16 ones): no TensorFlow.
    ``scale`` multiplies every strength (a bundled editor's recommended strength)."""

    def __init__(self, path, direction="add", scale=1.0):
        try:
            self.runner = Runner(path, f"{direction}_tensor")
        except ValueError as e:
            raise UsageError(f"{path}: {e}") from None
        self.size = int(self.runner.input_shape("images")[1])
        self.scale = float(scale)

    def residual(self, face01, strength):
        strength = strength * self.scale
        out = self.runner(images=face01[None], strength=np.array([strength], np.float32))
        return strength * np.asarray(out["residual"])[0]  # the signature's residual is unscaled



# -- alignment and paste-back --------------------------------------------------------
def alignment(left_eye, right_eye, size):
    """2x3 matrix A mapping photo (x, y) to crop pixel coordinates (similarity transform)."""
    src = np.array([left_eye, right_eye], np.float64)
    dst = np.array([LEFT_EYE, RIGHT_EYE]) * size
    sv, dv = src[1] - src[0], dst[1] - dst[0]
    scale = np.linalg.norm(dv) / max(np.linalg.norm(sv), 1e-6)
    angle = np.arctan2(dv[1], dv[0]) - np.arctan2(sv[1], sv[0])
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    t = dst[0] - rot @ src[0]
    return np.hstack([rot, t[:, None]])


def _invert(a):
    m = np.vstack([a, [0, 0, 1]])
    return np.linalg.inv(m)[:2]


def _feather_map(size):
    """Weight of the edit over the crop: 1 inside, fading to 0 over FEATHER * size at its borders."""
    c = np.arange(size, dtype=np.float32)
    d = np.minimum(c, size - 1 - c) / (FEATHER * size)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.clip(d, 0.0, 1.0))
    return np.minimum(ramp[:, None], ramp[None, :]).astype(np.float32)


def _warp(channel, inv, offset, shape):
    """A float32 crop-sized map warped to a photo region (bilinear; 0 outside the crop): PIL's affine
    transform of a mode-F image, in C, instead of per-pixel NumPy over what can be millions of pixels."""
    x0, y0 = offset
    h, w = shape
    # PIL samples output pixel (x, y) at input (a (x + .5) + b (y + .5) + c, ...), the convention the crop
    # was cut with; the region starts at (x0, y0) of the photo.
    a = np.linalg.inv(np.vstack([inv, [0, 0, 1]]))[:2]  # photo -> crop
    t = a @ np.array([x0, y0, 1.0])
    coeffs = (a[0, 0], a[0, 1], t[0], a[1, 0], a[1, 1], t[1])
    img = Image.fromarray(channel, mode="F")
    out = img.transform((w, h), Image.AFFINE, data=coeffs, resample=Image.BILINEAR, fillcolor=0.0)
    return np.asarray(out, np.float32)


def _aligned_crop(photo, inv, corners, size):
    """The ``size`` x ``size`` crop that ``inv`` (crop -> photo) maps out of the photo, as float32 in [0, 1];
    ``corners``: the crop's corners in the photo (the caller has checked that it overlaps the photo).

    Only the photo region under the crop is handed to Pillow (not a copy of the whole photo), and a face
    much larger than the crop is first box-reduced by an integer factor, so bicubic sampling never skips
    pixels: without it a face 20x the crop's side reaches the editor aliased, unlike its training images."""
    h, w = photo.shape[:2]
    step = float(np.hypot(inv[0, 0], inv[1, 0]))  # photo pixels per crop pixel
    k = max(1, int(step // 2))
    margin = 4 * k  # the bicubic kernel's reach, in photo pixels
    sx0, sy0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - margin, 0, [w, h])
    sx1, sy1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + margin, 0, [w, h])
    region = Image.fromarray(np.ascontiguousarray(photo[sy0:sy1, sx0:sx1]))
    if k > 1:
        region = region.reduce(k)  # reduced pixel i covers photo pixels [sx0 + k i, sx0 + k (i + 1))
    m = inv.copy()
    m[:, 2] -= (sx0, sy0)
    m /= k
    crop = region.transform((size, size), Image.AFFINE, data=tuple(m.reshape(-1)), resample=Image.BICUBIC)
    return np.asarray(crop, np.float32) / 255.0


def _crop_geometry(left_eye, right_eye, size):
    """The aligned crop's map crop -> photo, and the crop's corners in the photo."""
    inv = _invert(alignment(left_eye, right_eye, size))
    return inv, np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64) @ inv.T


def aligned_face(photo, left_eye, right_eye, size):
    """The ``size`` x ``size`` crop of a face that an editor sees (float32 in [0, 1]; eyes where the training
    images have them)."""
    return _aligned_crop(photo, *_crop_geometry(left_eye, right_eye, size), size)


def edit_face(photo, editor, left_eye, right_eye, strength=1.0):
    """The edit of one face: (the change to add [h, w, 3] float32 in [0, 1] units, (x0, y0, x1, y1) the photo
    region it covers), or (None, None) when the crop falls outside the photo."""
    size = editor.size
    inv, corners = _crop_geometry(left_eye, right_eye, size)
    h, w = photo.shape[:2]
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 1, [w, h])
    if x1 <= x0 or y1 <= y0:
        return None, None
    residual = editor.residual(_aligned_crop(photo, inv, corners, size), float(strength)).astype(np.float32)
    shape = (y1 - y0, x1 - x0)
    # The feathered residual, warped back (sampling the product keeps the weight 0 outside the crop).
    weighted = residual * _feather_map(size)[..., None]
    delta = np.stack([_warp(np.ascontiguousarray(weighted[..., k]), inv, (x0, y0), shape) for k in range(3)], axis=-1)
    return delta, (x0, y0, x1, y1)


def edit_photo(photo, editor, strength=1.0, all_faces=False):
    """Edit the most confident face (dlib's detector score), or all faces, of an RGB uint8 photo.

    ``editor``: one editor, or a list of them applied in turn (each to the
    previous one's result).  Returns (edited photo, number of faces found);
    NoFaceError when there is none.
    """
    faces = detect_faces(photo)
    if not faces:
        raise NoFaceError("no face found")
    chain = editor if isinstance(editor, (list, tuple)) else [editor]
    return apply_edits(photo, faces if all_faces else faces[:1], [(one, strength) for one in chain]), len(faces)


def keep_transparency(edited, photo, rgba):
    """The edited photo with the original's transparency, uint8 RGBA [H, W, 4].

    ``photo`` is what was edited (the original composited on white, as :func:`tfface.data.images.load_photo`
    reads it) and ``rgba`` the original's own colours and alpha.  Where the edit changed nothing the original
    pixel comes back exactly, so a half-transparent edge keeps its own colour rather than the white it was
    composited on; where it changed, the edited colour under the original alpha."""
    out = np.array(rgba, np.uint8)
    changed = (edited != photo).any(axis=-1)
    out[..., :3][changed] = edited[changed]
    return out


def apply_edits(photo, faces, edits):
    """``edits``: [(editor, strength)] applied in turn to ``faces`` (from :func:`detect_faces`) of a photo.
    Returns a new array (one copy of the photo, however many edits)."""
    out = photo.copy()
    for editor, strength in edits:
        _edit_faces(out, editor, faces, strength)
    return out


def _edit_faces(out, editor, faces, strength):
    """One editor on every face of ``out``, in place: each face's edit is computed on ``out`` as it was
    before this editor (overlapping faces do not see each other's edit), then added."""
    deltas = [edit_face(out, editor, left, right, strength) for _, left, right in faces]
    for delta, region in deltas:
        if delta is None:
            continue
        x0, y0, x1, y1 = region
        # Added to what is already there (overlapping faces), touching only this region.
        base = out[y0:y1, x0:x1]
        changed = np.clip(np.round(base.astype(np.float32) + delta * 255.0), 0, 255).astype(np.uint8)
        # Where the edit adds nothing (weight 0), the original bytes stay exactly.
        same = ~delta.any(axis=-1)
        changed[same] = base[same]
        out[y0:y1, x0:x1] = changed
