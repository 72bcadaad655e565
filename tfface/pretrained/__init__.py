"""Bundled editors: residual editors and iterative GANs trained by the recipes (tfface/recipes/), shipped
inside the package.

    tfface edit --input photo.jpg --output out.jpg --remove Eyeglasses --add Smiling --strength 0.8
    tfface export --pretrained eyeglasses --out export        # its TF Serving SavedModel
    tfface pretrained                                         # what is bundled, with its val scores
    tfface iterative transform --pretrained NAME photo.jpg --set Smiling=1 --output out.jpg

Layout: ``registry.json`` lists the editors; each has a directory ``<name>/`` with

- ``settings.json``            the training run's settings (the model is rebuilt from them),
- ``generators.weights.npz``   G0 (adds the attribute) and G1 (removes it), float16,
- ``float16.tflite``, ``int8.tflite``   for mobile (signatures ``add_tensor`` and ``remove_tensor``),
- ``progress.jsonl``           the run's judged progress (``tfface progress --pretrained NAME``).

A composite editor (:func:`tfface.pretrained.building.compose`) has its G1 from another run than its G0: its
entry's ``remove_from`` gives that run's recipe, steps and seconds, and ``remove/`` its settings.json and
progress.jsonl (the top-level ones, recipe, steps and seconds are G0's run).

An iterative GAN (the registry's ``"iterative"`` list) has ``networks.weights.npz`` instead: G, D and C, float16
(D and C encode a face, G rebuilds it), and TFLite signatures ``transform_tensor`` and ``recognize_tensor``.

Registry entries: name, attribute (an iterative GAN: its attributes), image size, recipe, training steps and
seconds on this project's 2-core CPU, and the val-split measures of ``tfface evaluate``.  A residual editor's
``strength`` ({"add": s, "remove": s}, 1 when absent) is the scale of its residual that was chosen on val and at
which its val measures were taken: x + s * (G(x) - x).  The bundled editor applies it, so ``--strength 1`` (and
the demo's slider at 1) is the editor as scored; the exported SavedModel and TFLite files take the raw scale as
their ``strength`` input.  The editors are trained on CelebA, whose
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
REMOVE_RUN = "remove"  # a composite editor's subdirectory: settings.json and progress.jsonl of the run G1 comes from
NETWORK_WEIGHTS = "networks.weights.npz"  # an iterative GAN's G, D and C
KINDS = ("editors", "iterative")  # the registry's lists: residual editors, iterative GANs


def root():
    return os.environ.get("TFFACE_PRETRAINED") or HERE


def _registry(directory=None):
    """{kind: [entries]} of the registry (empty lists when nothing is bundled)."""
    path = os.path.join(directory or root(), REGISTRY)
    if not os.path.isfile(path):
        return {kind: [] for kind in KINDS}
    try:
        with open(path) as f:
            raw = json.load(f)
        return {"editors": list(raw["editors"]), "iterative": list(raw.get("iterative", []))}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path} is not a registry of editors: {e}") from None


def entries(directory=None):
    """The residual editors' entries (an empty list when nothing is bundled)."""
    return _registry(directory)["editors"]


def iterative_entries(directory=None):
    """The bundled iterative GANs' entries."""
    return _registry(directory)["iterative"]


def find_iterative(name, directory=None):
    """A bundled iterative GAN's entry by name, case-insensitive; UsageError naming what is bundled."""
    for e in iterative_entries(directory):
        if e["name"].lower() == name.lower():
            return e
    bundled = ", ".join(e["name"] for e in iterative_entries(directory)) or "none"
    raise UsageError(f"no bundled iterative GAN {name!r} (bundled: {bundled}); train one with "
                     f"tfface train --recipe, or pass --run_dir")


def describe(directory=None):
    return ", ".join(f"{e['name']} ({e['attribute']})" for e in entries(directory)) or "none"


def find(attribute, directory=None):
    """The entry for an attribute (or an editor's name), case-insensitive; UsageError naming what is bundled."""
    for e in entries(directory):
        if attribute.lower() in (e["attribute"].lower(), e["name"].lower()):
            return e
    raise UsageError(f"no bundled editor for {attribute!r} (bundled: {describe(directory)}); "
                     f"train one with tfface train --recipe, or pass --model")


def find_any(name, directory=None):
    """A bundled editor (by name or attribute) or iterative GAN (by name); UsageError naming both kinds."""
    for lookup in (find_iterative, find):
        try:
            return lookup(name, directory)
        except UsageError:
            pass
    iterative = ", ".join(e["name"] for e in iterative_entries(directory))
    raise UsageError(f"nothing bundled is called {name!r} (editors: {describe(directory)}"
                     + (f"; iterative GANs: {iterative}" if iterative else "") + ")")


def add_entry(entry, directory=None):
    """Add (or replace, by name) one registry entry: an iterative GAN's (``method`` "iterative") or an editor's."""
    directory = directory or root()
    registry = _registry(directory)
    kind = "iterative" if entry.get("method") == "iterative" else "editors"
    other = KINDS[1 - KINDS.index(kind)]
    if any(e["name"] == entry["name"] for e in registry[other]):
        raise UsageError(f"the bundle in {directory} already has an entry {entry['name']!r} in its {other!r} list")
    kept = [e for e in registry[kind] if e["name"] != entry["name"]]
    registry[kind] = sorted(kept + [entry], key=lambda e: e["name"])
    if not registry["iterative"]:
        del registry["iterative"]
    files.write_json(os.path.join(directory, REGISTRY), registry)


def recommended_strength(entry, direction):
    """The scale of an editor's residual in ``direction`` at which its val scores were measured (1 when the
    registry gives none)."""
    return float((entry.get("strength") or {}).get(direction, 1.0))


def tflite_file(entry, variant="float16", directory=None):
    """The path of an editor's TFLite model (``variant``: float16 or int8), or None when it has none."""
    path = os.path.join(directory or root(), entry["name"], f"{variant}.tflite")
    return path if f"{variant}.tflite" in entry.get("files", ()) and os.path.isfile(path) else None
