"""Export a trained run: SavedModel (TF Serving layout) and TFLite variants, written atomically.

Layout::

    <out>/<model_name>/<version>/                 a SavedModel TF Serving loads
        saved_model.pb, variables/
        assets.extra/tfface.json                  what the model is (size, attribute, labels, crop)
        assets.extra/export_report.json           sizes, TFLite parity and latency
        assets.extra/tflite/<variant>.tflite      float32, float16, dynamic, int8

Everything is written to a temporary directory next to ``<out>`` and renamed
into place at the end, so a failure leaves no partial version and TF Serving
never sees a half-written one.  An existing version is only replaced with
``overwrite=True``.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np

from tfface.export import saved_model as sm
from tfface.export import tflite

FORMATS = ("saved_model", "tflite")


class ExportError(ValueError):
    """A user-facing export problem (one line)."""


def existing_versions(base):
    if not os.path.isdir(base):
        return []
    return sorted(int(d) for d in os.listdir(base) if d.isdigit() and os.path.isdir(os.path.join(base, d)))


def _signatures(method_name):
    return ["add_tensor", "remove_tensor"] if method_name == "residual" else ["transform_tensor", "recognize_tensor"]


def _inputs(method_name, images01, n_labels=None):
    """Inputs of each tensor signature for a batch of float images in [0, 1]."""
    n = len(images01)
    if method_name == "residual":
        feed = {"images": images01, "strength": np.ones([n], np.float32)}
        return {"add_tensor": feed, "remove_tensor": feed}
    return {"transform_tensor": {"images": images01, "attributes": -np.ones([n, n_labels], np.float32)},
            "recognize_tensor": {"images": images01}}


def _primary_output(outputs):
    for key in ("edited", "image", "probabilities"):
        if key in outputs:
            return np.asarray(outputs[key], np.float64)
    raise KeyError(f"no known output among {list(outputs)}")


def _psnr01(a, b):
    mse = float(np.mean((a - b) ** 2))
    return 100.0 if mse <= 1e-10 else float(10 * np.log10(1.0 / mse))


def export_run(run_dir, out="export", formats=FORMATS, version=None, overwrite=False, model_name=None,
               variants=tflite.VARIANTS, report_images=32, say=print):
    """Export ``run_dir``; returns the version directory."""
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ExportError(f"--formats takes {', '.join(FORMATS)}, got {','.join(formats) or 'nothing'}")
    if "saved_model" not in formats:
        raise ExportError("tflite is converted from the SavedModel: use --formats=saved_model,tflite")
    bad = [v for v in variants if v not in tflite.VARIANTS]
    if bad:
        raise ExportError(f"unknown TFLite variant {bad[0]!r}; valid: {', '.join(tflite.VARIANTS)}")

    from tfface.training.run import load_model

    settings, method, model, step = load_model(run_dir)
    model_name = model_name or os.path.basename(os.path.abspath(run_dir).rstrip("/"))
    base = os.path.join(out, model_name)
    versions = existing_versions(base)
    version = int(version) if version is not None else (versions[-1] + 1 if versions else 1)
    if version < 1:
        raise ExportError(f"--version must be >= 1, got {version}")
    target = os.path.join(base, str(version))
    if os.path.exists(target) and not overwrite:
        raise ExportError(f"{target} already exists; pass --overwrite to replace it or --version to pick another")

    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, f".tmp-{model_name}-{version}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        names = list(getattr(method, "attribute_names", lambda s: ())(settings))
        metadata = {"method": settings.method, "image_size": settings.image_size, "attribute": settings.attribute,
                    "attribute_names": names, "data": settings.data, "crop": sm.crop_for(settings),
                    "run_dir": os.path.abspath(run_dir), "step": step, "version": version,
                    "z_dim": settings.z_dim if settings.method == "iterative" else None}
        archive = sm.residual_archive(model, settings) if settings.method == "residual" else \
            sm.iterative_archive(model, settings, names)
        sm.write(archive, tmp, metadata)
        say(f"SavedModel written ({_tree_size(tmp) / 1e6:.1f} MB)")
        report = {"run_dir": os.path.abspath(run_dir), "step": step, "model_name": model_name, "version": version,
                  "saved_model_bytes": _tree_size(tmp), "image_size": settings.image_size,
                  "date": time.strftime("%Y-%m-%d %H:%M:%S")}
        if "tflite" in formats:
            report["tflite"] = _tflite(tmp, settings, method, variants, report_images, len(names), say)
        report_path = os.path.join(tmp, "assets.extra", "export_report.json")
        with open(report_path, "w") as f:
            json.dump(report, f, indent=2, sort_keys=True)
        _move_into_place(tmp, target, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _held_out_images(settings, method, n):
    """Float [0, 1] test images the model never trained on, and training images for calibration."""
    data = method.load_data(settings)
    test = data.test[0] if isinstance(data.test, tuple) else data.test
    train = data.train[0] if isinstance(data.train, tuple) else data.train
    take = lambda coll, k: coll.load_batch(np.arange(min(k, coll.size or k)))[0].astype(np.float32) / 255.0  # noqa: E731
    return take(test, n), take(train, n)


def _tflite(saved_dir, settings, method, variants, n_images, n_labels, say):
    import tensorflow as tf

    sigs = _signatures(settings.method)
    test, calib = _held_out_images(settings, method, n_images)
    loaded = tf.saved_model.load(saved_dir)
    refs = {s: _primary_output(loaded.signatures[s](**{k: tf.constant(v) for k, v in feed.items()}))
            for s, feed in _inputs(settings.method, test, n_labels).items()}

    def representative():
        for i in range(len(calib)):
            for sig, feed in _inputs(settings.method, calib[i:i + 1], n_labels).items():
                yield sig, feed

    os.makedirs(os.path.join(saved_dir, "assets.extra", "tflite"), exist_ok=True)
    results = {}
    for variant in variants:
        blob = tflite.convert(saved_dir, sigs, variant, representative if variant == "int8" else None)
        path = os.path.join(saved_dir, "assets.extra", "tflite", f"{variant}.tflite")
        with open(path, "wb") as f:
            f.write(blob)
        entry = {"file": os.path.relpath(path, saved_dir), "bytes": len(blob), "signatures": {}}
        for sig, feed in _inputs(settings.method, test, n_labels).items():
            runner = tflite.Runner(blob, sig)
            got = _primary_output(runner(**feed))
            one = {k: v[:1] for k, v in feed.items()}
            entry["signatures"][sig] = {
                "max_abs_error": float(np.max(np.abs(got - refs[sig]))),
                "psnr_db": _psnr01(got, refs[sig]) if sig != "recognize_tensor" else None,
                "latency_ms_per_image": round(tflite.latency_ms(lambda: runner(**one)), 3),
            }
        results[variant] = entry
        first = entry["signatures"][sigs[0]]
        say(f"TFLite {variant}: {len(blob) / 1e6:.2f} MB, {sigs[0]} max |error| {first['max_abs_error']:.4f}, "
            f"PSNR {first['psnr_db']:.1f} dB, {first['latency_ms_per_image']:.1f} ms/image")
    results["held_out_images"] = int(len(test))
    return results


def _move_into_place(tmp, target, overwrite):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    old = None
    if os.path.exists(target):
        if not overwrite:
            raise ExportError(f"{target} already exists; pass --overwrite")
        old = f"{target}.old-{os.getpid()}"
        os.rename(target, old)
    os.rename(tmp, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def _tree_size(path):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)
