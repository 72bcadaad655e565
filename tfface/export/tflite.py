"""TFLite conversion of the float-tensor signatures (running them: :mod:`tfface.litert`).

Variants: ``float32``; ``float16`` (weights in float16); ``dynamic`` (int8
weights, float activations); ``int8`` (full-integer: every op in int8,
calibrated on images from the run's dataset; the interface stays float32 so
one runner serves all variants).  Conversion goes through
``TFLiteConverter.from_saved_model`` (``from_concrete_functions`` on a
trackable object silently produces NaNs with TF 2.21).
"""

from __future__ import annotations

import tensorflow as tf

from tfface.export import TFLITE_VARIANTS as VARIANTS  # noqa: N811


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
