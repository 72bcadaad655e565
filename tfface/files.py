"""Atomic writes: a reader (or a crash) sees the old file or the new one, never half of one.

Every file and directory tfface writes for a user goes through here:
settings, metrics, sample grids, edited photos, evaluation reports, exported
models and classifiers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading

import numpy as np
from PIL import Image

IMAGE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF",
                 ".tiff": "TIFF"}
TRANSPARENT_FORMATS = ("PNG", "WEBP", "TIFF")  # the output formats that store an alpha channel


_TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)(-\d+)?(\.old)?$")


def _temporary_sibling(path):
    """``.NAME.tmp-PID-THREAD`` beside ``path``: each thread of each process writes its own, so two writers of
    one file (the web demo's threads) never fill or move each other's half-written temporary."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.tmp-{os.getpid()}-{threading.get_ident()}")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(directory):
    """Remove temporary files and directories of ours whose process is gone (e.g. killed by ``kill -9``)."""
    removed = []
    for name in os.listdir(directory) if os.path.isdir(directory) else ():
        m = _TEMPORARY.match(name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            path = os.path.join(directory, name)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)
            removed.append(name)
    return removed


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    tmp = _temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)


def write_bytes(path, data: bytes):
    with replacing(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_text(path, text: str):
    write_bytes(path, text.encode("utf-8"))


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o)}")


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def image_format(path):
    """Pillow's format name for an output file's extension; ValueError for others."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in IMAGE_FORMATS:
        raise ValueError(f"unsupported output format {ext or '(none)'!r} for {path}; use .jpg, .png, .webp, .bmp or .tiff")
    return IMAGE_FORMATS[ext]


def keeps_transparency(path):
    """Whether an output file of ``path``'s format stores an alpha channel (ValueError for unknown formats)."""
    return image_format(path) in TRANSPARENT_FORMATS


# Which formats Pillow writes a colour profile and EXIF into.
_PROFILE_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF")
_EXIF_FORMATS = ("JPEG", "PNG", "WEBP")


def save_image(img, path, icc_profile=None, exif=None):
    """Write a uint8 RGB array, or RGBA to a format that keeps it (:func:`keeps_transparency`), in the format of
    the path's extension (JPEG at quality 95).  ``icc_profile`` and ``exif`` (bytes, as Pillow reads them) go
    into the formats that store them and are left out of the others."""
    fmt = image_format(path)
    arr = np.asarray(img, np.uint8)
    if arr.ndim == 3 and arr.shape[-1] == 4 and fmt not in TRANSPARENT_FORMATS:
        raise ValueError(f"{fmt} cannot store transparency ({path}); use .png, .webp or .tiff")
    options = {"quality": 95} if fmt == "JPEG" else {}
    if icc_profile and fmt in _PROFILE_FORMATS:
        options["icc_profile"] = icc_profile
    if exif and fmt in _EXIF_FORMATS:
        options["exif"] = exif
    with replacing(path) as tmp:
        Image.fromarray(arr).save(tmp, format=fmt, **options)


@contextlib.contextmanager
def building_directory(final, overwrite=True):
    """Yield a fresh temporary directory beside ``final``; on success it becomes ``final``.

    An existing ``final`` is replaced only when ``overwrite`` (checked before
    and after the work); on any error (Ctrl-C included) the temporary
    directory is removed and ``final`` is untouched.
    """
    final = os.path.abspath(final)
    if os.path.exists(final) and not overwrite:
        raise FileExistsError(f"{final} already exists")
    parent = os.path.dirname(final)
    os.makedirs(parent, exist_ok=True)
    remove_stale_temporaries(parent)
    tmp = _temporary_sibling(final)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        yield tmp
        old = None
        if os.path.exists(final):
            if not overwrite:
                raise FileExistsError(f"{final} already exists")
            old = f"{tmp}.old"
            os.rename(final, old)
        os.rename(tmp, final)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
