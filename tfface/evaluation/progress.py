"""Quality against training time, from runs trained with ``--judge_every`` (their progress.jsonl).

    tfface progress --run_dir ~/runs/eyeglasses --run_dir ~/runs/ablation --out progress.png

Prints one table per run and draws the curves side by side. A residual run's table has, per direction,
the judged flip rate, the median identity distance and the residual's energy share in the attribute's
region; an iterative run's has C's Hamming loss, the reconstruction's PSNR and identity distance, the mean
judged flip rate of its transformations and how much of z C recovers.
"""

from __future__ import annotations

import os

from tfface.evaluation.report import fmt
from tfface.inference import DIRECTIONS
from tfface.pictures import line_chart
from tfface.training.run import RunDirectory

MEASURES = (("flip_rate", "judged flip rate", (0.0, 1.0)), ("identity_median", "identity distance (median)", None),
            ("region_energy", "energy share in the region", (0.0, 1.0)))


def load(run_dirs):
    """[(name, records)] of each run directory (a path, named by its last component, or a (name, path) pair);
    FileNotFoundError for one without progress.jsonl."""
    out = []
    for d in run_dirs:
        name, d = d if isinstance(d, tuple) else (None, d)
        run = RunDirectory(d)
        records = run.progress_records()
        if not records:
            raise FileNotFoundError(f"no progress.jsonl in {run.path} (train it with --judge_every N)")
        out.append((name or os.path.basename(run.path.rstrip("/")), records))
    return out


COLUMNS = (("flip", "flip_rate", 11), ("identity", "identity_median", 15), ("region", "region_energy", 13),
           ("D target", "d_target", 15), ("D recall", "d_real_recall", 15))


ITERATIVE_COLUMNS = (("Hamming", "hamming_loss", 8), ("rebuild PSNR", "reconstruction_psnr", 12),
                     ("identity", "identity_median", 9), ("mean flip", "mean_flip_rate", 10),
                     ("unedited", "mean_flip_rate_rebuilt", 9), ("z R2", "z_r2", 6))
ITERATIVE_MEASURES = (("mean_flip_rate", "judged flip rate of transformations (mean)", (0.0, 1.0)),
                      ("identity_median", "reconstruction identity distance (median)", None),
                      ("hamming_loss", "C's Hamming loss", None))


def is_iterative(records):
    return bool(records) and "hamming_loss" in records[0]


def table_lines(name, records):
    """A run's table (:data:`ITERATIVE_COLUMNS` for an iterative run, else :func:`residual_table_lines`)."""
    if not is_iterative(records):
        yield from residual_table_lines(name, records)
        return
    yield f"{name}:"
    yield "  step    hours  " + " ".join(f"{title:>{w}}" for title, _, w in ITERATIVE_COLUMNS)
    for r in records:
        yield f"  {r['step']:>6} {r['train_seconds'] / 3600:>6.2f}  " + " ".join(
            f"{fmt(r.get(key), 3):>{w}}" for _, key, w in ITERATIVE_COLUMNS)


def residual_table_lines(name, records):
    """A run's table: per direction the judged flip rate, identity, region share and its own D's
    probability of the target class (D fooled where the judge is not: D target high, flip low) and its
    recall of the real inputs' own class (how well D knows the attribute on real faces)."""
    yield f"{name}:"
    yield "  step    hours  " + "  ".join(" ".join(f"{d + ' ' + title:>{w}}" for title, _, w in COLUMNS) for d in DIRECTIONS)
    for r in records:
        cells = "  ".join(" ".join(f"{fmt((r.get(d) or {}).get(key), 3):>{w}}" for _, key, w in COLUMNS) for d in DIRECTIONS)
        yield f"  {r['step']:>6} {r['train_seconds'] / 3600:>6.2f}  {cells}"


def chart(runs):
    """Panels against training hours: per measure of the iterative runs, one curve per run; per measure of the
    residual runs, add (solid) and remove (dashed) of each."""
    panels = []
    for key, title, y_range in ITERATIVE_MEASURES:
        series = [(name, [r["train_seconds"] / 3600 for r in records], [r.get(key) for r in records], False)
                  for name, records in runs if is_iterative(records)]
        if any(y is not None for *_, ys, _ in series for y in ys):
            panels.append((title, series, y_range))
    runs = [(name, records) for name, records in runs if not is_iterative(records)]
    for key, title, y_range in MEASURES:
        series = []
        for name, records in runs:
            hours = [r["train_seconds"] / 3600 for r in records]
            for d in DIRECTIONS:
                series.append((name, hours, [(r.get(d) or {}).get(key) for r in records], d == "remove"))
        if any(y is not None for *_, ys, _ in series for y in ys):
            panels.append((f"{title}: add solid, remove dashed", series, y_range))
    return line_chart(panels, "training hours")
