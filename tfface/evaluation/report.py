"""eval/report.md: a header, the method's own sections, and what could not be measured."""

from __future__ import annotations

import os


def fmt(v, digits=2):
    """A number for a table cell ("–" when it was not measured)."""
    return "–" if v is None else f"{v:.{digits}f}"


def report(result, sections):
    """The markdown text of an evaluation ``result``; ``sections`` are the method's lines."""
    lines = [f"# Evaluation: {result['method']} — {result['subject']}", "",
             f"Run `{result['run_dir']}` at step {result['step']}, data `{result['data']}`, {result['image_size']} px"
             + (f", edits at strength {result['strength']:g}." if result.get("strength", 1.0) != 1.0 else "."), ""]
    lines += sections
    if result.get("skipped"):
        lines += ["## Not measured", ""] + [f"- {k}: {v}" for k, v in result["skipped"].items()] + [""]
    return "\n".join(lines)


def provenance(result):
    """{"evaluated_step", "judge"} of an evaluation ``result``: the step it measured and the judge's name."""
    judge = (result.get("judge") or {}).get("dir")
    return {"evaluated_step": result.get("step"), "judge": judge and os.path.basename(os.path.normpath(judge))}
