"""Photo editors on TensorFlow: a residual editor's Keras generator (a bundled editor, a trained run), an
exported SavedModel, and an iterative GAN's transformation; :func:`load_editor` opens any residual export (a
.tflite file too, with :class:`tfface.photo.TFLiteEditor`).

Each has ``size`` and ``residual(face01, strength)``, the interface :mod:`tfface.photo` edits with.
"""

from __future__ import annotations

import os

import tensorflow as tf

from tfface import photo
from tfface.errors import DataError, UsageError
from tfface.inference import check_attribute_names, label_change
from tfface.settings import DIRECTIONS


class SavedModelEditor:
    """An exported SavedModel version directory's add_tensor or remove_tensor signature."""

    def __init__(self, path, direction="add"):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise DataError(f"{path} is not a SavedModel directory (no saved_model.pb) nor a .tflite file")
        loaded = tf.saved_model.load(path)
        key = f"{direction}_tensor"
        if key not in loaded.signatures:
            raise UsageError(f"{path} has no {key!r} signature (photo editing needs a residual editor export)")
        self._loaded, self.fn = loaded, loaded.signatures[key]
        self.size = int(self.fn.structured_input_signature[1]["images"].shape[1])

    def residual(self, face01, strength):
        out = self.fn(images=tf.constant(face01[None], tf.float32), strength=tf.constant([strength], tf.float32))
        return strength * out["residual"].numpy()[0]  # the signature's residual is unscaled


class KerasEditor:
    """A residual editor's Keras generator (a bundled editor, or a trained run): G(x) - x on one face crop.
    ``scale`` multiplies every strength (a bundled editor's recommended strength)."""

    def __init__(self, generator, size, scale=1.0):
        self.generator, self.size, self.scale = generator, int(size), float(scale)
        self._call = tf.function(lambda x: generator(x, training=False))

    def residual(self, face01, strength):
        x = tf.constant(face01[None] * 2.0 - 1.0, tf.float32)
        return strength * self.scale * ((self._call(x) - x).numpy()[0] / 2.0)  # [-1, 1] units -> [0, 1]


class IterativeEditor:
    """An iterative GAN's transformation (§5.3.3) as a photo editor: the change that setting some labels makes
    to the face's reconstruction, G(z~, c') - G(z~, c~), with (z~, c~) = C(D(x)) and c' = c~ with ``changes``.

    Pasting G(z~, c') itself would replace the face by its reconstruction, which keeps only what the code
    holds of the person (README: about 20 dB on synthetic faces); the difference of the two reconstructions
    carries what the labels change, and everything else keeps the photo's own pixels.  ``strength`` scales it.
    (:meth:`tfface.inference.Editor.paste` is the same on aligned crops; ``tfface evaluate`` measures it.)
    """

    def __init__(self, model, attribute_names, changes):
        names = tuple(attribute_names)
        check_attribute_names(changes, names)
        if not changes:
            raise UsageError("say what to change: --set NAME=0|1")
        self.model, self.size = model, int(model.image_size)
        mask = tf.constant([[1.0 if n in changes else 0.0 for n in names]], tf.float32)
        values = tf.constant([[float(changes.get(n, 0)) for n in names]], tf.float32)

        self._call = tf.function(lambda x: label_change(model, x, mask, values) / 2.0)  # [-1, 1] units -> [0, 1]

    def residual(self, face01, strength):
        return strength * self._call(tf.constant(face01[None] * 2.0 - 1.0, tf.float32)).numpy()[0]


def load_editor(path, direction="add"):
    """An exported residual editor: a SavedModel version directory or a .tflite file."""
    if direction not in DIRECTIONS:
        raise UsageError(f"--direction must be add or remove, got {direction!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"model not found: {path}")
    if str(path).endswith(".tflite"):
        return photo.TFLiteEditor(path, direction)
    return SavedModelEditor(path, direction)
