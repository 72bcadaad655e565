"""TFLite conversion of the float-tensor signatures, and a runner on ai_edge_litert.

Variants: ``float32``; ``float16`` (weights in float16); ``dynamic`` (int8
weights, float activations); ``int8`` (full-integer: every op in int8,
calibrated on images from the run's dataset; the interface stays float32 so
one runner serves all variants).  Conversion goes through
``TFLiteConverter.from_saved_model`` (``from_concrete_functions`` on a
trackable object silently produces NaNs with TF 2.21).
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

VARIANTS = ("float32", "float16", "dynamic", "int8")


def convert(saved_model_dir, signature_keys, variant="float32", representative=None):
    """Convert signatures of a SavedModel; ``representative`` yields (signature_key, inputs) for int8."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown TFLite variant {variant!r}; valid: {', '.join(VARIANTS)}")
    conv = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=list(signature_keys))
    if variant != "float32":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        conv.target_spec.supported_types = [tf.float16]
    if variant == "int8":
        if representative is None:
            raise ValueError("int8 conversion needs representative data")
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return conv.convert()


class Runner:
    """Runs one signature of a .tflite model with ai_edge_litert, resizing inputs to the batch."""

    def __init__(self, model_path_or_bytes, signature):
        from ai_edge_litert.interpreter import Interpreter

        if isinstance(model_path_or_bytes, (bytes, bytearray)):
            self.interpreter = Interpreter(model_content=bytes(model_path_or_bytes))
        else:
            self.interpreter = Interpreter(model_path=str(model_path_or_bytes))
        self.runner = self.interpreter.get_signature_runner(signature)
        self.signature = signature

    def input_shape(self, name="images"):
        return tuple(self.runner.get_input_details()[name]["shape_signature"])

    def __call__(self, **inputs):
        return self.runner(**{k: np.asarray(v, np.float32) for k, v in inputs.items()})


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
