"""Edit faces in your own photos with an exported residual editor (SavedModel or .tflite).

    python -m tfface.edit --model export/residual-Eyeglasses-synthetic-64px/1 --input photo.jpg --output out.jpg
    python -m tfface.edit --model export/.../1/assets.extra/tflite/float32.tflite --input p.png --output o.png \\
        --direction remove --strength 0.7 --all_faces

Faces are found with dlib's HOG detector and 5-point landmarks (the
``faces`` extra; models ship inside the wheels, nothing is downloaded).
Each face is aligned by a similarity transform that puts the eyes where the
training images have them, cropped at the model's size and edited; then -
the point of residual images - only the *residual* is warped back and added
to the original full-resolution photo under a feathered mask.  Pixels
outside the face regions keep their exact original values.

Exit codes: 0 done, 1 no face found or unreadable input, 2 bad arguments.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
from PIL import Image

# Where the eyes are in a training crop, as fractions of its side.  Aligned
# CelebA crops (178 x 178 from the centre of 178 x 218) have them at about
# (0.39, 0.51) and (0.60, 0.51); the synthetic faces were framed the same way.
LEFT_EYE = np.array([0.389, 0.51])
RIGHT_EYE = np.array([0.611, 0.51])
FEATHER = 0.15  # share of the crop side over which the edit fades out at the borders


class NoFaceError(RuntimeError):
    pass


# -- models -----------------------------------------------------------------------------
class SavedModelEditor:
    def __init__(self, path, direction="add"):
        import tensorflow as tf

        self._tf = tf
        loaded = tf.saved_model.load(path)
        key = f"{direction}_tensor"
        if key not in loaded.signatures:
            raise ValueError(f"{path} has no {key!r} signature (is it a residual editor export?)")
        self._loaded, self.fn = loaded, loaded.signatures[key]
        self.size = int(self.fn.structured_input_signature[1]["images"].shape[1])

    def residual(self, face01, strength):
        tf = self._tf
        out = self.fn(images=tf.constant(face01[None], tf.float32), strength=tf.constant([strength], tf.float32))
        return strength * out["residual"].numpy()[0]  # the signature's residual is unscaled


class TFLiteEditor:
    def __init__(self, path, direction="add"):
        from tfface.export.tflite import Runner

        try:
            self.runner = Runner(path, f"{direction}_tensor")
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        self.size = int(self.runner.input_shape("images")[1])

    def residual(self, face01, strength):
        out = self.runner(images=face01[None], strength=np.array([strength], np.float32))
        return strength * np.asarray(out["residual"])[0]  # the signature's residual is unscaled


def load_editor(path, direction="add"):
    if direction not in ("add", "remove"):
        raise ValueError(f"--direction must be add or remove, got {direction!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"model not found: {path}")
    if str(path).endswith(".tflite"):
        return TFLiteEditor(path, direction)
    meta = os.path.join(path, "assets.extra", "tfface.json")
    if os.path.isfile(meta):
        with open(meta) as f:
            if json.load(f).get("method") != "residual":
                raise ValueError(f"{path} is not a residual editor export (photo editing needs one)")
    return SavedModelEditor(path, direction)


# -- faces ------------------------------------------------------------------------------
_DLIB = {}


def _dlib():
    if not _DLIB:
        try:
            import dlib
            import face_recognition_models as frm
        except ImportError:
            raise RuntimeError('photo editing needs dlib: pip install -e ".[faces]"') from None
        _DLIB["detector"] = dlib.get_frontal_face_detector()
        _DLIB["predictor"] = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        _DLIB["dlib"] = dlib
    return _DLIB


# dlib's HOG detector scores confident faces above ~0.5; weaker hits are often
# badges, patterns or profile fragments.
MIN_FACE_SCORE = 0.3


def detect_faces(photo, min_score=MIN_FACE_SCORE):
    """[(box (left, top, right, bottom), left eye (x, y), right eye (x, y))], most confident first."""
    d = _dlib()
    h, w = photo.shape[:2]
    # Detect on a copy at most ~1000 px wide (HOG is slow on large photos), upsampling small ones.
    scale = min(1.0, 1000.0 / max(h, w))
    small = np.asarray(Image.fromarray(photo).resize((max(1, int(w * scale)), max(1, int(h * scale))))) if scale < 1 else photo
    rects, scores, _ = d["detector"].run(small, 1 if max(small.shape[:2]) < 800 else 0, 0.0)
    faces = []
    for r, score in sorted(zip(rects, scores), key=lambda rs: -rs[1]):
        if score < min_score:
            continue
        shape = d["predictor"](small, r)
        p = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], np.float64) / scale
        # 5-point model: 0,1 = one eye's corners, 2,3 = the other's, 4 = nose.
        a, b = p[0:2].mean(axis=0), p[2:4].mean(axis=0)
        left, right = (a, b) if a[0] < b[0] else (b, a)
        box = (r.left() / scale, r.top() / scale, r.right() / scale, r.bottom() / scale)
        faces.append((box, left, right))
    return faces


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


def _feather(u, v, size):
    """Weight 1 inside the crop, fading to 0 over FEATHER * size at its borders."""
    ramp = FEATHER * size
    d = np.minimum.reduce([u, v, size - 1 - u, size - 1 - v]) / ramp
    d = np.clip(d, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * d)


def _bilinear(img, u, v):
    """Sample img [S,S,C] at float coordinates (u = x, v = y); outside -> 0."""
    s = img.shape[0]
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    fu, fv = (u - u0)[..., None], (v - v0)[..., None]
    out = np.zeros(u.shape + (img.shape[2],), np.float64)
    for du, dv, w in ((0, 0, (1 - fu) * (1 - fv)), (1, 0, fu * (1 - fv)), (0, 1, (1 - fu) * fv), (1, 1, fu * fv)):
        uu, vv = u0 + du, v0 + dv
        ok = (uu >= 0) & (uu < s) & (vv >= 0) & (vv < s)
        out += np.where(ok[..., None], img[np.clip(vv, 0, s - 1), np.clip(uu, 0, s - 1)], 0.0) * w
    return out


def edit_face(photo, editor, left_eye, right_eye, strength=1.0):
    """Edit one face in place of a float copy; returns (new float photo, (x0, y0, x1, y1) region touched)."""
    size = editor.size
    a = alignment(left_eye, right_eye, size)
    inv = _invert(a)  # crop -> photo
    crop = Image.fromarray(photo).transform((size, size), Image.AFFINE, data=tuple(inv.reshape(-1)),
                                            resample=Image.BICUBIC)
    residual = editor.residual(np.asarray(crop, np.float32) / 255.0, float(strength))
    # The photo region the crop covers.
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64) @ inv.T
    h, w = photo.shape[:2]
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 1, [w, h])
    if x1 <= x0 or y1 <= y0:
        return None, None
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    u = a[0, 0] * xs + a[0, 1] * ys + a[0, 2]
    v = a[1, 0] * xs + a[1, 1] * ys + a[1, 2]
    weight = _feather(u, v, size) * ((u >= 0) & (u <= size - 1) & (v >= 0) & (v <= size - 1))
    r = _bilinear(residual.astype(np.float64), u, v)
    patch = photo[y0:y1, x0:x1].astype(np.float64) / 255.0 + weight[..., None] * r
    return np.clip(patch, 0.0, 1.0), (x0, y0, x1, y1)


def edit_photo(photo, editor, strength=1.0, all_faces=False):
    """Edit the largest face (or all faces) of an RGB uint8 photo. Returns (edited photo, number of faces)."""
    faces = detect_faces(photo)
    if not faces:
        raise NoFaceError("no face found")
    out = photo.copy()
    for box, left, right in faces if all_faces else faces[:1]:
        patch, region = edit_face(photo, editor, left, right, strength)
        if patch is None:
            continue
        x0, y0, x1, y1 = region
        # Blend with what is already there (overlapping faces), touching only this region.
        base = out[y0:y1, x0:x1].astype(np.float64) / 255.0
        orig = photo[y0:y1, x0:x1].astype(np.float64) / 255.0
        new = np.clip(base + (patch - orig), 0.0, 1.0)
        changed = np.round(new * 255.0).astype(np.uint8)
        # Where the edit adds nothing (weight 0), keep the original bytes exactly.
        same = np.abs(patch - orig).max(axis=-1) == 0
        changed[same] = out[y0:y1, x0:x1][same]
        out[y0:y1, x0:x1] = changed
    return out, len(faces)


def save_image(img, path):
    """Write atomically (temporary file, then rename) in the format of the extension."""
    ext = os.path.splitext(path)[1].lower()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}.get(ext)
    if fmt is None:
        raise ValueError(f"unsupported output format {ext!r}; use .jpg, .png, .webp, .bmp or .tiff")
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        Image.fromarray(img).save(tmp, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def main(argv=None):
    import argparse

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    ap = argparse.ArgumentParser(prog="python -m tfface.edit", description="Edit faces in a photo with an exported residual editor.")
    ap.add_argument("--model", required=True, help="SavedModel version directory or .tflite file")
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--direction", default="add", choices=["add", "remove"], help="add or remove the attribute")
    ap.add_argument("--strength", type=float, default=1.0, help="residual scale (0 = no change, 1 = as trained)")
    ap.add_argument("--all_faces", action="store_true", help="edit every face, not only the largest")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    args = ap.parse_args(argv)

    def fail(code, msg):
        print(f"tfface.edit: error: {msg}", file=sys.stderr)
        return code

    from tfface.data.images import BadImageError, load_image

    if os.path.abspath(args.output) == os.path.abspath(args.input):
        return fail(2, "--output must differ from --input (the original photo is never overwritten)")
    if os.path.exists(args.output) and not args.overwrite:
        return fail(2, f"{args.output} exists; pass --overwrite to replace it")
    if not np.isfinite(args.strength):
        return fail(2, "--strength must be a finite number")
    try:
        photo = load_image(args.input)
        editor = load_editor(args.model, args.direction)
        edited, n = edit_photo(photo, editor, args.strength, args.all_faces)
        save_image(edited, args.output)
    except NoFaceError:
        return fail(1, f"no face found in {args.input}")
    except (BadImageError, FileNotFoundError) as e:
        return fail(1, e)
    except (ValueError, RuntimeError) as e:
        return fail(2, e)
    print(f"edited {n if args.all_faces else 1} of {n} face(s): {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
