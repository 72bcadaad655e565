"""Bundled editors: residual editors trained by the recipes (tfface/recipes/), shipped inside the package.

    tfface edit --input photo.jpg --output out.jpg --remove Eyeglasses --add Smiling --strength 0.8
    tfface export --pretrained eyeglasses --out export        # its TF Serving SavedModel
    tfface pretrained                                         # what is bundled, with its val scores

Layout: ``registry.json`` lists the editors; each has a directory ``<name>/`` with

- ``settings.json``            the training run's settings (the model is rebuilt from them),
- ``generators.weights.npz``   G0 (adds the attribute) and G1 (removes it), float16,
- ``float16.tflite``, ``int8.tflite``   for mobile (signatures ``add_tensor`` and ``remove_tensor``).

Registry entries: name, attribute, image size, recipe, training steps and seconds on this project's
2-core CPU, and the val-split measures of ``tfface evaluate``.  The editors are trained on CelebA, whose
licence allows non-commercial research use only: see LICENSE.md here.  ``TFFACE_PRETRAINED=DIR`` points
at another directory of the same layout (your own bundle).

This module is the registry and imports no TensorFlow (``tfface edit`` runs the editors' TFLite files);
:mod:`tfface.pretrained.building` rebuilds an editor's Keras model and bundles a trained run.
"""

from __future__ import annotations

import json
import os

from tfface import files
from tfface.errors import DataError, UsageError

HERE = os.path.dirname(os.path.abspath(__file__))
REGISTRY, SETTINGS, WEIGHTS = "registry.json", "settings.json", "generators.weights.npz"


def root():
    return os.environ.get("TFFACE_PRETRAINED") or HERE


def entries(directory=None):
    """The registry's entries (an empty list when nothing is bundled)."""
    path = os.path.join(directory or root(), REGISTRY)
    if not os.path.isfile(path):
        return []
    try:
        with open(path) as f:
            return list(json.load(f)["editors"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path} is not a registry of editors: {e}") from None


def describe(directory=None):
    return ", ".join(f"{e['name']} ({e['attribute']})" for e in entries(directory)) or "none"


def find(attribute, directory=None):
    """The entry for an attribute (or an editor's name), case-insensitive; UsageError naming what is bundled."""
    for e in entries(directory):
        if attribute.lower() in (e["attribute"].lower(), e["name"].lower()):
            return e
    raise UsageError(f"no bundled editor for {attribute!r} (bundled: {describe(directory)}); "
                     f"train one with tfface train --recipe, or pass --model")


def add_entry(entry, directory=None):
    """Add (or replace, by name) one registry entry."""
    directory = directory or root()
    kept = [e for e in entries(directory) if e["name"] != entry["name"]]
    files.write_json(os.path.join(directory, REGISTRY), {"editors": sorted(kept + [entry], key=lambda e: e["name"])})


def tflite_file(entry, variant="float16", directory=None):
    """The path of an editor's TFLite model (``variant``: float16 or int8), or None when it has none."""
    path = os.path.join(directory or root(), entry["name"], f"{variant}.tflite")
    return path if f"{variant}.tflite" in entry.get("files", ()) and os.path.isfile(path) else None
