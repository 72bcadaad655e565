"""Bundled editors as Keras models, and bundling a trained run (TensorFlow; the registry is
:mod:`tfface.pretrained`)."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile

import numpy as np

from tfface import files, recipes
from tfface.editors import KerasEditor
from tfface.errors import UsageError
from tfface.evaluation.evaluate import output_dir
from tfface.evaluation.residual import registry_scores
from tfface.export.exporter import export_trained, tree_size
from tfface.methods import TrainedRun, get, load_run
from tfface.pretrained import SETTINGS, add_entry, find, recommended_strength, root
from tfface.settings import DIRECTIONS, Settings, SettingsError
from tfface.training import distribution
from tfface.training.run import RunDirectory


def load(entry, directory=None) -> TrainedRun:
    """A bundled editor or iterative GAN rebuilt as a trained run (a residual editor's D is not shipped and
    stays untrained)."""
    d = os.path.join(directory or root(), entry["name"])
    settings = Settings.load_saved(os.path.join(d, SETTINGS))
    method = get(settings.method)
    settings = method.resolve(settings)
    distribution.set_precision("float32")
    model = method.build_model(settings)
    weights, networks = method.bundled_networks(model)
    with np.load(os.path.join(d, weights)) as z:
        for net in networks:
            net.set_weights([z[f"{net.name}/{i}"].astype(np.float32) for i in range(len(net.weights))])
    return TrainedRun(d, settings, method, model, int(entry.get("steps", 0)))


def keras_editors(entry, directory=None):
    """{"add": editor, "remove": editor}: a bundled editor's two generators as Keras editors, each at its
    recommended strength."""
    run = load(entry, directory)
    size = run.settings.image_size
    return {d: KerasEditor(g, size, recommended_strength(entry, d)) for d, g in zip(DIRECTIONS, (run.model.g0, run.model.g1))}


def save_networks(networks, path):
    """The networks' weights as float16 (half the size; :func:`bundle` reports what that changes)."""
    arrays = {f"{net.name}/{i}": np.asarray(w, np.float32).astype(np.float16) for net in networks
              for i, w in enumerate(net.get_weights())}
    with files.replacing(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


TFLITE_VARIANTS = ("float16", "int8")


def bundle(run_dir, name, recipe=None, directory=None, variants=TFLITE_VARIANTS, report_images=32, say=print,
           strength=None):
    """Add a trained run to a bundle directory as ``name``: its settings, float16 networks
    (the method's ``bundled_networks``), TFLite variants, its judged progress (progress.jsonl, when trained with
    --judge_every) and a registry entry with the run's training time and its evaluation's val scores
    (``<run_dir>/eval/metrics.json``, from ``tfface evaluate``).  ``strength``: a residual editor's recommended
    strengths {direction: s} (:func:`recommend`).  Returns the entry."""
    directory = directory or root()
    run = load_run(run_dir, say=say)
    rd = RunDirectory(run_dir)
    target = os.path.join(directory, name)
    weights, networks = run.method.bundled_networks(run.model)
    with files.building_directory(target, overwrite=True) as tmp:
        files.write_text(os.path.join(tmp, SETTINGS), run.settings.to_json() + "\n")
        save_networks(networks, os.path.join(tmp, weights))
        with tempfile.TemporaryDirectory() as work:
            exported = export_trained(run, work, ("saved_model", "tflite"), 1, model_name=name, variants=variants,
                                      report_images=report_images, say=say)
            for v in variants:
                shutil.copy(os.path.join(exported, "assets.extra", "tflite", f"{v}.tflite"), os.path.join(tmp, f"{v}.tflite"))
        if os.path.isfile(rd.progress_path):  # how it learnt: `tfface progress --pretrained NAME` redraws the curves
            shutil.copy(rd.progress_path, os.path.join(tmp, os.path.basename(rd.progress_path)))
    entry = {"name": name, "method": run.settings.method, "image_size": run.settings.image_size,
             "width": run.settings.width, "recipe": recipe, "steps": run.step,
             "train_seconds": _clock_seconds(rd, run.step), "data": _portable_data(run.settings.data, recipe),
             "files": sorted(os.listdir(target)), **run.method.bundle_entry(run.settings, _evaluation(rd))}
    add_entry(entry, directory)
    # The float16 weights work as the float32 ones do, to this much (shown on each bundle).
    reloaded = load(entry, directory)
    probe = np.random.default_rng(0).uniform(-1, 1, (4, run.settings.image_size, run.settings.image_size, 3))
    probe = probe.astype(np.float32)
    err = float(np.max(np.abs(run.method.bundle_probe(run, probe) - run.method.bundle_probe(reloaded, probe))))
    say(f"bundled {name}: {tree_size(target) / 1e6:.1f} MB in {target}; float16 weights change outputs by at most "
        f"{err:.4f} (in [-1, 1])")
    return recommend(name, run_dir, strength, directory) if strength else entry


def recommend(name, run_dir, strength, directory=None):
    """Give the bundled residual editor ``name``, bundled from ``run_dir``, recommended strengths
    {direction: s}: the scale its edits are applied at (:func:`tfface.pretrained.recommended_strength`).  Each
    such direction's val scores come from the run's evaluation at that strength (``tfface evaluate --run_dir
    RUN --strength s``, of the bundled step); UsageError when it is missing.  Returns the new entry."""
    entry = find(name, directory)
    unknown = set(strength) - set(DIRECTIONS)
    if unknown:
        raise UsageError(f"strengths are given per direction (add, remove), not {sorted(unknown)}")
    val = {**(entry.get("val") or {})}
    val["images"] = {**(val.get("images") or {})}
    rd = RunDirectory(run_dir)
    for d, s in strength.items():
        if not (math.isfinite(s) and s > 0):
            raise UsageError(f"a recommended strength is a finite number above 0, got {s}")
        m = _evaluation(rd, s)
        if m is None or m.get("step") != entry["steps"]:
            raise UsageError(f"{run_dir} has no evaluation of step {entry['steps']} at strength {s:g}: run tfface "
                             f"evaluate --run_dir {run_dir} --strength {s:g}")
        scores = registry_scores(m)
        val[d], val["images"][d] = scores[d], scores["images"][d]
    entry = {**entry, "strength": {d: float(strength.get(d, recommended_strength(entry, d))) for d in DIRECTIONS},
             "val": val}
    add_entry(entry, directory)
    return entry


def _portable_data(data, recipe):
    """The run's --data as the recipe writes it (no path of the machine that trained it), else as given."""
    if recipe:
        try:
            written = recipes.load(recipe)[1].get("data")
        except SettingsError:  # a recipe name that is not a shipped file: keep the run's own
            written = None
        if written and written.split(":")[0] == data.split(":")[0]:
            return written
    return data


def _clock_seconds(rd, step):
    seconds = rd.training_seconds_at(step)
    return round(seconds, 1) if seconds else None


def _evaluation(rd, strength=1.0):
    """The run's last ``tfface evaluate`` metrics (at ``strength``), or None."""
    path = os.path.join(output_dir(rd.path, strength), "metrics.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)
