"""What the scripts that diagnose an iterative run share: the run (on synthetic faces: and its test faces)."""

import sys

import numpy as np

from tfface.methods import get, load_run


def load_iterative(run_dir):
    """The trained iterative run in ``run_dir``; exits with a one-line message when ``run_dir`` is not a run,
    or not an iterative one."""
    try:
        run = load_run(run_dir, say=lambda m: None)
    except FileNotFoundError as e:
        sys.exit(str(e))
    if run.settings.method != "iterative":
        sys.exit(f"{run_dir} is a {run.settings.method} run on {run.settings.data}: this needs an iterative run")
    return run


def load(run_dir, images):
    """(run, its synthetic test set, the indices of its first ``images`` faces); exits with a one-line message
    when ``run_dir`` is not a run, or not an iterative run trained on synthetic faces."""
    run = load_iterative(run_dir)
    settings = run.settings
    if not settings.data.startswith("synthetic"):
        sys.exit(f"{run_dir} is a {settings.method} run on {settings.data}: this needs an iterative run on synthetic faces")
    test = get("iterative").load_data(settings, test_only=True).test
    return run, test, np.arange(min(images, test.size))
