"""Quiet loading of TensorFlow's native libraries for the command line.

When they load, their C++ logging (absl) is not initialised yet and prints
INFO lines ("oneDNN custom operations are on", "All log messages before
absl::InitializeLog() ...") that ``TF_CPP_MIN_LOG_LEVEL`` does not turn off.
They are not the user's business, so the command line loads TensorFlow
with file descriptor 2 pointed at /dev/null.  ``TFFACE_VERBOSE=1`` keeps them.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def silenced_native_stderr():
    if os.environ.get("TFFACE_VERBOSE"):
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
