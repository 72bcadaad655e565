"""Exit codes, and the errors that carry them to the one place that reports them.

Every command of ``tfface`` (see :mod:`tfface.cli`) ends through
``tfface.cli.main``, which prints ``tfface <command>: error: <message>`` (one
line, no traceback) and exits with the code of the error:

====  ===========================================================
0     done
1     a data or file problem (missing path, unusable images, no face)
2     bad flags or settings
3     training diverged (a loss became NaN/Inf; the last good checkpoint is kept)
4     a worker of a multi-worker run was lost (the others stop; restart all to resume)
130   interrupted (Ctrl-C, SIGINT)
141   the output's reader went away (``tfface pretrained | head -1``), quietly, as a shell's SIGPIPE
143   terminated (SIGTERM, e.g. a scheduler's preemption)
====  ===========================================================

Training saves a checkpoint before it exits 130 or 143.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_WORKER_LOST = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of the output went away (``tfface pretrained | head -1``)


class TffaceError(Exception):
    """Base of the errors a user can act on; ``exit_code`` says how the command ends."""

    exit_code = EXIT_DATA


class UsageError(TffaceError, ValueError):
    """Bad flags, settings or arguments."""

    exit_code = EXIT_USAGE


class DataError(TffaceError, ValueError):
    """Data or files that cannot be used (the message names the file or folder)."""

    exit_code = EXIT_DATA


class Interrupted(TffaceError):
    """Stopped by a signal: exit 130 for SIGINT (Ctrl-C), 143 for SIGTERM."""

    def __init__(self, message, exit_code=EXIT_INTERRUPTED):
        super().__init__(message)
        self.exit_code = exit_code


class TrainingDiverged(TffaceError, RuntimeError):
    """A loss or weight became NaN/Inf; training stopped and the last good checkpoint is kept."""

    exit_code = EXIT_DIVERGED


class WorkerLost(TffaceError, RuntimeError):
    """A worker of a multi-worker run died or stopped answering; the others stop (restart all to resume)."""

    exit_code = EXIT_WORKER_LOST
