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
from tfface.pretrained import REMOVE_RUN, SETTINGS, add_entry, find, recommended_strength, root
from tfface.settings import DIRECTIONS, Settings, SettingsError
from tfface.training import distribution
from tfface.training.run import RunDirectory


def _build(settings_dir):
    """(settings, method, untrained model) from a bundle directory's settings.json."""
    settings = Settings.load_saved(os.path.join(settings_dir, SETTINGS))
    method = get(settings.method)
    settings = method.resolve(settings)
    return settings, method, method.build_model(settings)


def load(entry, directory=None) -> TrainedRun:
    """A bundled editor or iterative GAN rebuilt as a trained run (a residual editor's D is not shipped and
    stays untrained).  A composite editor (``remove_from`` in its entry, :func:`compose`) gets its G1 built from
    the settings of the run G1 was trained in."""
    d = os.path.join(directory or root(), entry["name"])
    distribution.set_precision("float32")
    settings, method, model = _build(d)
    if entry.get("remove_from"):
        model.g1 = _build(os.path.join(d, REMOVE_RUN))[2].g1
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
    with files.building_directory(target, overwrite=True) as tmp:
        files.write_text(os.path.join(tmp, SETTINGS), run.settings.to_json() + "\n")
        _write_networks(run, name, tmp, variants, report_images, say)
        if os.path.isfile(rd.progress_path):  # how it learnt: `tfface progress --pretrained NAME` redraws the curves
            shutil.copy(rd.progress_path, os.path.join(tmp, os.path.basename(rd.progress_path)))
    entry = {"name": name, "method": run.settings.method, "image_size": run.settings.image_size,
             "width": run.settings.width, "recipe": recipe, "steps": run.step,
             "train_seconds": _clock_seconds(rd, run.step), "data": _portable_data(run.settings.data, recipe),
             "files": sorted(os.listdir(target)), **run.method.bundle_entry(run.settings, _evaluation(rd))}
    add_entry(entry, directory)
    _check_float16(run, entry, directory, target, say)
    return recommend(name, run_dir, strength, directory) if strength else entry


def _write_networks(run, name, tmp, variants, report_images, say):
    """A trained run's float16 networks and TFLite variants into the bundle directory being built."""
    weights, networks = run.method.bundled_networks(run.model)
    save_networks(networks, os.path.join(tmp, weights))
    with tempfile.TemporaryDirectory() as work:
        exported = export_trained(run, work, ("saved_model", "tflite"), 1, model_name=name, variants=variants,
                                  report_images=report_images, say=say)
        for v in variants:
            shutil.copy(os.path.join(exported, "assets.extra", "tflite", f"{v}.tflite"), os.path.join(tmp, f"{v}.tflite"))


def _probe(size):
    """Four fixed random images in [-1, 1] to compare a bundle's outputs with its run's."""
    return np.random.default_rng(0).uniform(-1, 1, (4, size, size, 3)).astype(np.float32)


def _check_float16(run, entry, directory, target, say):
    """Say how much the bundle's float16 weights change the run's outputs (shown on each bundle)."""
    reloaded, probe = load(entry, directory), _probe(run.settings.image_size)
    err = float(np.max(np.abs(run.method.bundle_probe(run, probe) - run.method.bundle_probe(reloaded, probe))))
    say(f"bundled {entry['name']}: {tree_size(target) / 1e6:.1f} MB in {target}; float16 weights change outputs by at "
        f"most {err:.4f} (in [-1, 1])")


def compose(name, direction, run_dir, recipe, directory=None, strength=None, variants=TFLITE_VARIANTS,
            report_images=32, say=print):
    """Replace one direction's generator of the bundled residual editor ``name`` by the one trained in
    ``run_dir`` (with ``recipe``), keeping the other: a composite editor.

    The two generators of a residual run are trained together but edit apart (G0 adds, G1 removes), so the
    best adder and the best remover of an attribute may come from two runs.  The registry entry's ``recipe``,
    ``steps``, ``train_seconds`` and the bundle's settings.json and progress.jsonl stay those of the run
    that trained G0; ``remove_from`` (recipe, steps, train_seconds, evaluated step) and the subdirectory
    ``remove/`` (settings.json, progress.jsonl) are those of G1's run.  Each direction keeps its own val scores
    (the run's ``tfface evaluate`` of its last step at ``strength``, by the same judge) and recommended
    strength.  Returns the new entry."""
    if direction not in DIRECTIONS:
        raise UsageError(f"a direction is add or remove, not {direction!r}")
    directory = directory or root()
    old = find(name, directory)
    if old.get("method") != "residual":
        raise UsageError(f"{name!r} is not a residual editor: only those have a generator per direction")
    run = load_run(run_dir, say=say)
    s = run.settings
    if (s.method, s.attribute, s.image_size) != ("residual", old["attribute"], old["image_size"]):
        raise UsageError(f"{run_dir} trained a {s.method} editor of {s.attribute} at {s.image_size} px, not a residual "
                         f"editor of {old['attribute']} at {old['image_size']} px")
    rd = RunDirectory(run_dir)
    new_strength = float((strength or {}).get(direction, 1.0))
    m = _evaluation(rd, new_strength)
    if m is None or m.get("step") != run.step:
        raise UsageError(f"{run_dir} has no evaluation of step {run.step} at strength {new_strength:g}: run tfface "
                         f"evaluate --run_dir {run_dir} --strength {new_strength:g}")
    scores, val = registry_scores(m), old.get("val") or {}
    if val and scores["judge"] != val.get("judge"):
        raise UsageError(f"{run_dir} was judged by {scores['judge']}, {name!r} by {val.get('judge')}: evaluate both "
                         f"with the same judge")
    bundled = load(old, directory)
    old_dir = os.path.join(directory, old["name"])
    # Each direction: (where its settings.json and progress.jsonl are, its registry fields).
    old_remove = os.path.join(old_dir, REMOVE_RUN) if old.get("remove_from") else old_dir
    g0_run = {k: old.get(k) for k in ("recipe", "steps", "train_seconds", "width")}
    old_parts = {"add": (old_dir, g0_run),
                 "remove": (old_remove, old.get("remove_from") or {**g0_run, "evaluated_step": val.get("evaluated_step")})}
    new_part = (run_dir, {"recipe": recipe, "steps": run.step, "train_seconds": _clock_seconds(rd, run.step),
                          "width": s.width, "evaluated_step": run.step})
    parts = {**old_parts, direction: new_part}
    adder, remover = (run, bundled) if direction == "add" else (bundled, run)
    model = adder.model
    model.g1 = remover.model.g1
    composite = TrainedRun(old_dir, adder.settings, run.method, model, parts["add"][1]["steps"])
    with files.building_directory(old_dir, overwrite=True) as tmp:
        for d, sub in (("add", tmp), ("remove", os.path.join(tmp, REMOVE_RUN))):
            os.makedirs(sub, exist_ok=True)
            src = parts[d][0]
            if src == run_dir:
                files.write_text(os.path.join(sub, SETTINGS), s.to_json() + "\n")
            else:
                shutil.copy(os.path.join(src, SETTINGS), os.path.join(sub, SETTINGS))
            progress = os.path.join(src, os.path.basename(rd.progress_path))
            if os.path.isfile(progress):
                shutil.copy(progress, os.path.join(sub, os.path.basename(progress)))
        _write_networks(composite, old["name"], tmp, variants, report_images, say)
    add_part = parts["add"][1]
    val = {**val, "images": {**(val.get("images") or {}), direction: scores["images"][direction]},
           direction: scores[direction], "judge": scores["judge"],
           "evaluated_step": val.get("evaluated_step") if direction == "remove" else run.step}
    entry = {**old, "recipe": add_part["recipe"], "steps": add_part["steps"], "train_seconds": add_part["train_seconds"],
             "width": add_part["width"], "remove_from": parts["remove"][1], "val": val,
             "strength": {"add": recommended_strength(old, "add"), "remove": recommended_strength(old, "remove"),
                          direction: new_strength},
             "files": sorted(os.listdir(old_dir))}
    if direction == "add":
        entry["data"] = _portable_data(s.data, recipe)
    add_entry(entry, directory)
    # The composite's generator in ``direction`` edits as the run's does (float16 weights).
    reloaded, probe = load(entry, directory), _probe(s.image_size)
    g, g_run = (reloaded.model.g0, run.model.g0) if direction == "add" else (reloaded.model.g1, run.model.g1)
    err = float(np.max(np.abs(np.asarray(g(probe)) - np.asarray(g_run(probe)))))
    say(f"composed {entry['name']}: {direction} from {run_dir}, {tree_size(old_dir) / 1e6:.1f} MB in {old_dir}; float16 "
        f"weights change its {direction} edits by at most {err:.4f} (in [-1, 1])")
    return entry


def recommend(name, run_dir, strength, directory=None):
    """Give the bundled residual editor ``name``, bundled from ``run_dir`` (a composite's: the run of each direction
    given), recommended strengths
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
        steps = (entry.get("remove_from") or {}).get("steps", entry["steps"]) if d == "remove" else entry["steps"]
        if m is None or m.get("step") != steps:
            raise UsageError(f"{run_dir} has no evaluation of step {steps} at strength {s:g}: run tfface "
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
