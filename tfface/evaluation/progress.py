"""Quality against training time, from runs trained with ``--judge_every`` (their progress.jsonl).

    tfface progress --run_dir ~/runs/eyeglasses --run_dir ~/runs/ablation --out progress.png

Prints one table per run (step, training hours, per direction: judged flip rate, median identity
distance, the residual's energy share in the attribute's region) and draws the curves side by side.
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
    """[(name, records)] of each run directory; FileNotFoundError for one without progress.jsonl."""
    out = []
    for d in run_dirs:
        run = RunDirectory(d)
        records = run.progress_records()
        if not records:
            raise FileNotFoundError(f"no progress.jsonl in {run.path} (train it with --judge_every N)")
        out.append((os.path.basename(run.path.rstrip("/")), records))
    return out


def table_lines(name, records):
    yield f"{name}:"
    yield "  step    hours  " + "  ".join(f"{d + ' flip':>11} {d + ' identity':>15} {d + ' region':>13}" for d in DIRECTIONS)
    for r in records:
        cells = "  ".join(f"{fmt((r.get(d) or {}).get('flip_rate'), 3):>11} {fmt((r.get(d) or {}).get('identity_median'), 3):>15} "
                          f"{fmt((r.get(d) or {}).get('region_energy'), 3):>13}" for d in DIRECTIONS)
        yield f"  {r['step']:>6} {r['train_seconds'] / 3600:>6.2f}  {cells}"


def chart(runs):
    """Panels: per measure, add (solid) and remove (dashed) of each run against training hours."""
    panels = []
    for key, title, y_range in MEASURES:
        series = []
        for name, records in runs:
            hours = [r["train_seconds"] / 3600 for r in records]
            for d in DIRECTIONS:
                series.append((name, hours, [(r.get(d) or {}).get(key) for r in records], d == "remove"))
        if any(y is not None for *_, ys, _ in series for y in ys):
            panels.append((f"{title}: add solid, remove dashed", series, y_range))
    return line_chart(panels, "training hours")
