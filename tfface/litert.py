"""Running .tflite models with ai_edge_litert (the ``lite`` and ``faces`` extras), without TensorFlow.

:class:`Runner` calls one signature of a model; photo editing with the bundled editors
(:mod:`tfface.photo`) and the exporter's parity report use it.  Importing this module does not import
TensorFlow, so ``tfface edit`` with a .tflite editor starts in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
import time

import numpy as np

from tfface.native_logs import silenced_native_stderr


def available():
    """Whether ai_edge_litert is installed (the ``lite`` or ``faces`` extra), without importing it."""
    return importlib.util.find_spec("ai_edge_litert") is not None


def usable_cpus():
    """The CPUs this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Runner:
    """Runs one signature of a .tflite model with ai_edge_litert, resizing inputs to the batch.

    ``num_threads``: the interpreter's threads (XNNPACK's convolutions use them).  ai_edge_litert's own
    default is 1 thread; ours is every CPU this process may use (:func:`usable_cpus`).

    Calls from several threads (the web demo edits two requests at once) take turns: an interpreter holds
    one set of input and output tensors, so two calls at once would resize, fill and read each other's
    (187 of 200 calls from 4 threads failed or returned another call's result).  Each call already uses
    every CPU, so taking turns costs no throughput."""

    def __init__(self, model_path_or_bytes, signature, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        self.num_threads = int(num_threads) if num_threads is not None else usable_cpus()
        if isinstance(model_path_or_bytes, (bytes, bytearray)):
            self.interpreter = Interpreter(model_content=bytes(model_path_or_bytes), num_threads=self.num_threads)
        else:
            self.interpreter = Interpreter(model_path=str(model_path_or_bytes), num_threads=self.num_threads)
        self.runner = self.interpreter.get_signature_runner(signature)
        self.signature = signature
        self._lock = threading.Lock()
        self._first = True  # the first call creates the XNNPACK delegate, which prints an INFO line to fd 2

    def input_shape(self, name="images"):
        return tuple(self.runner.get_input_details()[name]["shape_signature"])

    def __call__(self, **inputs):
        inputs = {k: np.asarray(v, np.float32) for k, v in inputs.items()}
        with self._lock:
            quiet = silenced_native_stderr() if self._first else contextlib.nullcontext()
            self._first = False
            with quiet:
                return self.runner(**inputs)


def wall_times(fn, repeats):
    """Seconds taken by each of ``repeats`` calls of ``fn()``, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def latency_ms(fn, repeats=20):
    """Median wall time of ``fn()`` in milliseconds (after one warm-up call)."""
    return 1000.0 * float(np.median(wall_times(fn, repeats)))
