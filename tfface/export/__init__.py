"""Export: a trained run as a SavedModel for TF Serving (:mod:`.saved_model`, :mod:`.exporter`) and as
TFLite models (:mod:`.tflite`).  The names below are what the command line offers; importing this package
does not import TensorFlow."""

FORMATS = ("saved_model", "tflite")
TFLITE_VARIANTS = ("float32", "float16", "dynamic", "int8")
