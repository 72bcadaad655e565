"""Export a trained run: SavedModel (TF Serving layout) and TFLite variants, written atomically.

Layout::

    <out>/<model_name>/<version>/                 a SavedModel TF Serving loads
        saved_model.pb, variables/
        assets.extra/tfface.json                  what the model is (size, attribute, labels, crop)
        assets.extra/export_report.json           sizes, TFLite parity and latency
        assets.extra/tflite/<variant>.tflite      float32, float16, dynamic, int8

Everything is written to a temporary directory beside the version and
renamed into place at the end, so a failure leaves no partial version and TF
Serving never sees a half-written one.  An existing version is only replaced
with ``overwrite=True``.  The signatures are the method's
(``Method.export_archive``).
"""

from __future__ import annotations

import os
import time

import numpy as np
import tensorflow as tf

from tfface import files, litert
from tfface.errors import UsageError
from tfface.export import FORMATS, tflite
from tfface.export import saved_model as sm
from tfface.methods import load_run


class ExportError(UsageError):
    """A user-facing export problem (one line)."""


def existing_versions(base):
    if not os.path.isdir(base):
        return []
    return sorted(int(d) for d in os.listdir(base) if d.isdigit() and os.path.isdir(os.path.join(base, d)))


def _psnr01(a, b):
    mse = float(np.mean((a - b) ** 2))
    return 100.0 if mse <= 1e-10 else float(10 * np.log10(1.0 / mse))


def export_run(run_dir, out="export", formats=FORMATS, version=None, overwrite=False, model_name=None,
               variants=tflite.VARIANTS, report_images=32, say=print):
    """Export ``run_dir``; returns the version directory."""
    _check_options(formats, variants, report_images)
    return export_trained(load_run(run_dir), out, formats, version, overwrite, model_name, variants, report_images, say)


def _check_options(formats, variants, report_images):
    formats = tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ExportError(f"--formats takes {', '.join(FORMATS)}, got {','.join(formats) or 'nothing'}")
    if "saved_model" not in formats:
        raise ExportError("tflite is converted from the SavedModel: use --formats=saved_model,tflite")
    bad = [v for v in variants if v not in tflite.VARIANTS]
    if bad:
        raise ExportError(f"unknown TFLite variant {bad[0]!r}; valid: {', '.join(tflite.VARIANTS)}")
    if report_images < 1:
        raise ExportError(f"--report_images must be >= 1, got {report_images}")


def export_trained(run, out="export", formats=FORMATS, version=None, overwrite=False, model_name=None,
                   variants=tflite.VARIANTS, report_images=32, say=print):
    """Export a trained model (:class:`tfface.methods.TrainedRun`: from a run directory, or a bundled editor);
    returns the version directory."""
    formats = tuple(formats)
    _check_options(formats, variants, report_images)
    s, method = run.settings, run.method
    model_name = model_name or os.path.basename(run.run_dir.rstrip("/"))
    base = os.path.join(out, model_name)
    versions = existing_versions(base)
    version = int(version) if version is not None else (versions[-1] + 1 if versions else 1)
    if version < 1:
        raise ExportError(f"--version must be >= 1, got {version}")
    target = os.path.join(base, str(version))
    if os.path.exists(target) and not overwrite:
        raise ExportError(f"{target} already exists; pass --overwrite to replace it or --version to pick another")

    with files.building_directory(target, overwrite) as tmp:
        metadata = {"method": s.method, "image_size": s.image_size, "attribute": s.attribute,
                    "attribute_names": list(method.attribute_names(s)), "data": s.data, "crop": sm.crop_for(s),
                    "run_dir": run.run_dir, "step": run.step, "version": version, **method.export_metadata(s)}
        sm.write(method.export_archive(run.model, s), tmp, metadata)
        say(f"SavedModel written ({tree_size(tmp) / 1e6:.1f} MB)")
        report = {"run_dir": run.run_dir, "step": run.step, "model_name": model_name, "version": version,
                  "saved_model_bytes": tree_size(tmp), "image_size": s.image_size,
                  "date": time.strftime("%Y-%m-%d %H:%M:%S")}
        if "tflite" in formats:
            report["tflite"] = _tflite(tmp, run, variants, report_images, say)
        files.write_json(os.path.join(tmp, "assets.extra", "export_report.json"), report)
    return target


def _images01(data, split, n):
    return data.first_images(split, n).astype(np.float32) / 255.0


def _tflite(saved_dir, run, variants, n_images, say):
    """Convert every variant; report size, error against the SavedModel on held-out images, and latency."""
    s, method = run.settings, run.method
    data = method.load_data(s)
    test, calib = _images01(data, "test", n_images), _images01(data, "train", n_images)
    loaded = tf.saved_model.load(saved_dir)
    feeds = method.tflite_feeds(test, s)
    refs = {}
    for sig, (out, _) in method.tflite_outputs.items():
        outputs = loaded.signatures[sig](**{k: tf.constant(v) for k, v in feeds[sig].items()})
        refs[sig] = np.asarray(outputs[out], np.float64)

    def representative():
        for i in range(len(calib)):
            yield from method.tflite_feeds(calib[i:i + 1], s).items()

    os.makedirs(os.path.join(saved_dir, "assets.extra", "tflite"), exist_ok=True)
    results = {}
    for variant in variants:
        blob = tflite.convert(saved_dir, list(method.tflite_outputs), variant, representative if variant == "int8" else None)
        path = os.path.join(saved_dir, "assets.extra", "tflite", f"{variant}.tflite")
        files.write_bytes(path, blob)
        entry = {"file": os.path.relpath(path, saved_dir), "bytes": len(blob), "signatures": {}}
        for sig, (out, is_image) in method.tflite_outputs.items():
            runner = litert.Runner(blob, sig)
            got = np.asarray(runner(**feeds[sig])[out], np.float64)
            one = {k: v[:1] for k, v in feeds[sig].items()}
            entry["signatures"][sig] = {
                "max_abs_error": float(np.max(np.abs(got - refs[sig]))),
                "psnr_db": _psnr01(got, refs[sig]) if is_image else None,
                "latency_ms_per_image": round(litert.latency_ms(lambda: runner(**one)), 3),
            }
        results[variant] = entry
        first_sig = next(iter(method.tflite_outputs))
        first = entry["signatures"][first_sig]
        say(f"TFLite {variant}: {len(blob) / 1e6:.2f} MB, {first_sig} max |error| {first['max_abs_error']:.4f}, "
            f"PSNR {first['psnr_db']:.1f} dB, {first['latency_ms_per_image']:.1f} ms/image")
    results["held_out_images"] = int(len(test))
    return results


def tree_size(path):
    """Bytes of every file under ``path``."""
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)
