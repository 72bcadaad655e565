"""Reading image files robustly: validation, decoding, cropping, bad-file accounting.

Datasets of real photos contain broken files.  Every file goes through two
gates:

1. :func:`inspect_image` (cheap: header and file tail, no pixel decoding)
   classifies a file as usable or as one of :data:`SKIP_REASONS`.  It runs
   once over the whole dataset when it is built.
2. :func:`load_image` decodes with Pillow and normalises what can be
   normalised (EXIF orientation, grayscale, palette, alpha, CMYK, 16-bit),
   so such files are *used*, not skipped.  A file that still fails to
   decode raises :class:`BadImageError` with its reason.

A :class:`SkipLog` counts skipped files per reason; pipelines report it once
per run.  With ``strict=True`` the first bad file raises instead, naming it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tfface.errors import DataError

SKIP_REASONS = {
    "empty": "zero-byte file",
    "not_an_image": "not an image Pillow can read",
    "truncated": "truncated or corrupt image data",
    "too_large": "more pixels than the decompression-bomb limit",
    "unreadable": "file could not be opened",
}

# Decompression-bomb guard: refuse to decode more than this many pixels.
# 64 MP covers 8000x8000 photos; raise it with the `max_pixels` arguments.
DEFAULT_MAX_PIXELS = 64_000_000

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


class BadImageError(DataError):
    """An image file that cannot be used; ``reason`` is a key of SKIP_REASONS."""

    def __init__(self, path, reason, detail=""):
        self.path, self.reason = str(path), reason
        msg = f"{path}: {SKIP_REASONS[reason]}"
        super().__init__(msg + (f" ({detail})" if detail else ""))


class SkipLog:
    """Thread-safe record of skipped files: one entry per file, counted by reason."""

    def __init__(self):
        self._lock = threading.Lock()
        self._files = {}

    def add(self, path, reason):
        with self._lock:
            self._files.setdefault(str(path), reason)

    def merge(self, other: "SkipLog"):
        for path, reason in other.items():
            self.add(path, reason)

    def items(self):
        with self._lock:
            return list(self._files.items())

    @property
    def counts(self) -> dict:
        return dict(Counter(reason for _, reason in self.items()))

    def __len__(self):
        with self._lock:
            return len(self._files)

    def summary(self, what="images") -> str:
        """One line, e.g. ``skipped 3 bad images: truncated=2, empty=1 (first: a.jpg)``."""
        items = self.items()
        if not items:
            return f"no bad {what} skipped"
        counts = ", ".join(f"{r}={n}" for r, n in sorted(Counter(r for _, r in items).items()))
        return f"skipped {len(items)} bad {what}: {counts} (first: {items[0][0]})"


def _tail_is_complete(f, fmt, size):
    """Whether a JPEG/PNG file ends with its end marker (catches truncation)."""
    if fmt not in ("JPEG", "PNG"):
        return True
    f.seek(max(0, size - 4096))
    tail = f.read()
    if fmt == "PNG":
        return b"IEND" in tail[-64:]
    return b"\xff\xd9" in tail


def inspect_image(path, max_pixels=DEFAULT_MAX_PIXELS):
    """Classify a file without decoding its pixels: None if usable, else a reason key."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return "unreadable"
    if size == 0:
        return "empty"
    try:
        with open(path, "rb") as f:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                try:
                    img = Image.open(f)
                    fmt, (w, h) = img.format, img.size
                except Image.DecompressionBombError:
                    return "too_large"
                except (UnidentifiedImageError, SyntaxError, ValueError):
                    return "not_an_image"
            if w * h > max_pixels:
                return "too_large"
            if w < 1 or h < 1:
                return "truncated"
            if not _tail_is_complete(f, fmt, size):
                return "truncated"
    except OSError:
        return "unreadable"
    return None


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> uint8 RGB array (alpha composited on white, 16-bit scaled)."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(img).astype(np.float64)
        top = 65535.0 if (mode != "I" or a.max(initial=0) > 255) else 255.0
        a = np.clip(np.round(a / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(a[..., None], 3, axis=-1)
    if mode == "F":
        a = np.asarray(img, np.float64)
        top = 1.0 if a.max(initial=0) <= 1.0 else 255.0
        a = np.clip(np.round(a / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(a[..., None], 3, axis=-1)
    if mode == "P" or mode in _ALPHA_MODES:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(img.convert("RGB"))


_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")  # Pillow's modes with an alpha channel


def center_square(w, h, crop=None):
    """Box (left, top, right, bottom) of a centred square of side min(crop, w, h)."""
    side = min(w, h) if crop is None else min(int(crop), w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return left, top, left + side, top + side


def _grey_filled(img):
    """Whether a decoded JPEG's last 8 rows (one block row) are all exactly 128: what libjpeg puts where the
    data ran out (a truncated file with an end marker appended passes the tail check)."""
    w, h = img.size
    tail = np.asarray(img.crop((0, max(0, h - 8), w, h)))  # the rows alone: not a copy of the whole photo
    return tail.size > 0 and bool((tail == 128).all())


@contextlib.contextmanager
def _decoded(path, max_pixels):
    """The decoded Pillow image of ``path``, EXIF orientation applied; any failure, while decoding or in the
    ``with`` body (Pillow decodes lazily), as :class:`BadImageError`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.size[0] * img.size[1] > max_pixels:
                    raise BadImageError(path, "too_large", f"{img.size[0]}x{img.size[1]}")
                img.load()
                if img.format == "JPEG" and _grey_filled(img):
                    raise BadImageError(path, "truncated", "the image data ends early: its last rows are decoder fill")
                # In place: without an orientation to apply, exif_transpose would return a copy of the photo.
                ImageOps.exif_transpose(img, in_place=True)
                yield img
    except BadImageError:
        raise
    except Image.DecompressionBombError as e:
        raise BadImageError(path, "too_large", str(e)) from None
    except UnidentifiedImageError:
        empty = os.path.exists(path) and os.path.getsize(path) == 0
        raise BadImageError(path, "empty" if empty else "not_an_image") from None
    except (FileNotFoundError, PermissionError, IsADirectoryError) as e:
        raise BadImageError(path, "unreadable", e.strerror or str(e)) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise BadImageError(path, "truncated", str(e)) from None


def load_image(path, size=None, crop=None, max_pixels=DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode one file to uint8 RGB ``[size, size, 3]`` (or full size if size is None).

    EXIF orientation is applied first; then a centred square of side
    ``min(crop, w, h)`` is cut (``crop=None``: the largest centred square)
    and resized with Lanczos filtering.  Raises :class:`BadImageError`.
    """
    with _decoded(path, max_pixels) as img:
        if size is not None:
            img = img.crop(center_square(*img.size, crop))
            if img.size != (size, size):
                # Convert first: Lanczos needs 8-bit or float modes.
                img = Image.fromarray(_to_rgb(img)).resize((size, size), Image.Resampling.LANCZOS)
        arr = _to_rgb(img)
    return np.ascontiguousarray(arr, np.uint8)


def has_transparency(img: Image.Image) -> bool:
    """Whether a Pillow image carries transparency: an alpha channel, or a transparent colour (8-bit palette, RGB
    or grey; 16-bit and float images are read without it)."""
    return img.mode in _ALPHA_MODES or (img.mode in ("P", "RGB", "L") and "transparency" in img.info)


@dataclass
class Photo:
    """A photo to edit (:func:`load_photo`)."""

    rgb: np.ndarray  # uint8 [H, W, 3], upright, transparency composited on white: what the detector and editors see
    rgba: np.ndarray | None = None  # the photo's own colours with its alpha, uint8 [H, W, 4], when it has transparency
    icc_profile: bytes | None = None  # its colour profile, when it describes RGB colours
    exif: bytes | None = None  # its EXIF, without the orientation (the pixels are upright)

    def save_options(self):
        """What of the photo's own metadata an edited copy keeps (:func:`tfface.files.save_image`)."""
        return {"icc_profile": self.icc_profile, "exif": self.exif}


# Modes whose colour profile still describes the pixels once they are read as RGB; a CMYK or grey profile does not.
_RGB_PROFILE_MODES = ("RGB", "RGBA", "RGBX", "P", "PA")


def load_photo(path, max_pixels=DEFAULT_MAX_PIXELS) -> Photo:
    """A photo to edit: :func:`load_image`'s full-size RGB, and what of the file an edited copy should keep (its
    transparency, colour profile and EXIF).  Raises :class:`BadImageError`."""
    with _decoded(path, max_pixels) as img:
        return Photo(rgb=np.ascontiguousarray(_to_rgb(img), np.uint8),
                     rgba=np.ascontiguousarray(img.convert("RGBA"), np.uint8) if has_transparency(img) else None,
                     icc_profile=img.info.get("icc_profile") if img.mode in _RGB_PROFILE_MODES else None,
                     # exif_transpose (in place) has already taken the orientation out of it
                     exif=img.info.get("exif") or None)


def list_images(directory):
    """All regular, non-hidden files under ``directory`` (sorted, recursive).

    Non-image files are not filtered by extension here: the scan classifies
    them, so a stray file is counted as skipped rather than silently ignored.
    """
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"image directory not found: {directory}")
    out = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(os.path.join(root, f) for f in sorted(files) if not f.startswith("."))
    return out


def scan(paths, strict=False, max_pixels=DEFAULT_MAX_PIXELS, workers=8, log=None):
    """Inspect many files in parallel. Returns (usable paths in input order, SkipLog).

    With ``strict=True`` the first bad file (in input order) raises BadImageError.
    """
    log = log if log is not None else SkipLog()
    paths = list(paths)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        reasons = list(pool.map(lambda p: inspect_image(p, max_pixels), paths, chunksize=64))
    good = []
    for p, r in zip(paths, reasons):
        if r is None:
            good.append(p)
        elif strict:
            raise BadImageError(p, r)
        else:
            log.add(p, r)
    return good, log
