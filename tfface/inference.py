"""Running trained networks on uint8 images: batching, the residual editors, the iterative GAN's Editor.

These work on a model object (``TrainedRun.model``, see
:func:`tfface.methods.load_run`) and import nothing from training::

    from tfface.methods import load_run
    ed = load_run("runs/iterative-all-synthetic-64px").editor()     # an Editor
    probs = ed.recognize(images)                 # uint8 [N, S, S, 3] -> [N, n_labels]
    edited = ed.transform(images, {"Eyeglasses": 1, "Smiling": 0})

    res = load_run("runs/residual-Eyeglasses-synthetic-64px").editor()   # a ResidualEditor
    with_glasses = res.add(images)
"""

from __future__ import annotations

import numpy as np
from keras import ops

from tfface.data.pipeline import to_float, to_uint8
from tfface.errors import UsageError
from tfface.settings import DIRECTIONS

BATCH_SIZE = 64


def batched(fn, *arrays, batch_size=BATCH_SIZE):
    """``fn`` on aligned slices of ``arrays`` (each [N, ...]); its NumPy outputs concatenated.

    ``fn`` may return one array or a tuple of arrays (then a tuple comes
    back).  An empty input makes one call on the empty slices, so output
    shapes stay right.
    """
    n = len(arrays[0])
    outs = [fn(*(a[i:i + batch_size] for a in arrays)) for i in range(0, max(n, 1), batch_size)]
    if isinstance(outs[0], tuple):
        return tuple(np.concatenate([np.asarray(o[k]) for o in outs]) for k in range(len(outs[0])))
    return np.concatenate([np.asarray(o) for o in outs])


def check_attribute_names(changes, names):
    """UsageError (exit 2 from the command line) if ``changes`` names an attribute not in ``names``."""
    unknown = sorted(set(changes or {}) - set(names))
    if unknown:
        raise UsageError(f"unknown attribute {unknown[0]!r}; valid: {', '.join(names)}")


class ResidualEditor:
    """A trained residual GAN's generators on uint8 images: ``add`` is G0, ``remove`` is G1.

    ``strength`` scales the residual as ``tfface edit --strength`` does: x + strength * (G(x) - x).
    """

    def __init__(self, model, batch_size=BATCH_SIZE, strength=1.0):
        self.model, self.batch_size = model, batch_size
        self.image_size = model.image_size
        self.strength = float(strength)

    def edit(self, direction, images):
        """G(x) = x + residual for uint8 images [N, S, S, 3] (the residual scaled by ``strength``), clipped to uint8."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be add or remove, got {direction!r}")
        g = self.model.g0 if direction == "add" else self.model.g1
        s = self.strength

        def fn(x):
            x = to_float(x)
            y = ops.cast(g(x, training=False), "float32")
            return to_uint8(y if s == 1.0 else x + s * (y - x))

        return batched(fn, np.asarray(images), batch_size=self.batch_size)

    def add(self, images):
        return self.edit("add", images)

    def remove(self, images):
        return self.edit("remove", images)


def label_change(model, x, mask, values):
    """What setting labels changes in an iterative GAN's reconstruction: G(z~, c') - G(z~, c~) for float images
    ``x`` in [-1, 1], in the same units, with (z~, c~) = C(D(x)) and c' = c~ where ``mask`` is 0 and ``values``
    where it is 1 (both broadcast against [N, n_labels]).  The photo path pastes this change onto the photo
    (:meth:`Editor.paste`, :class:`tfface.editors.IterativeEditor`)."""
    z, logits = model.encode(x, training=False)
    c = ops.sigmoid(ops.cast(logits, "float32"))
    wanted = c * (1.0 - mask) + values * mask
    return ops.cast(model.g([z, wanted], training=False), "float32") - ops.cast(model.g([z, c], training=False), "float32")


class Editor:
    """A trained iterative GAN: recognition, encoding, reconstruction, transformation, generation (§3.1).

    ``strength`` scales the change that :meth:`paste` adds, as ``tfface iterative transform --strength`` does on
    a photo; the other abilities are the paper's and do not use it.
    """

    def __init__(self, model, attribute_names, batch_size=BATCH_SIZE, strength=1.0):
        self.model = model
        self.attribute_names = tuple(attribute_names)
        self.batch_size = batch_size
        self.image_size = model.image_size
        self.strength = float(strength)

    def _check(self, images):
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != (self.image_size, self.image_size, 3):
            raise ValueError(f"images must be [N, {self.image_size}, {self.image_size}, 3], got {images.shape}")
        return images

    def encode(self, images):
        """images -> (z~ [N, z_dim] in (-1, 1), c~ [N, n_labels] in (0, 1))."""
        def fn(x):
            z, logits = self.model.encode(to_float(x))
            return z, ops.sigmoid(logits)

        return batched(fn, self._check(images), batch_size=self.batch_size)

    def recognize(self, images):
        """Attribute probabilities [N, n_labels] (the classifier C)."""
        return self.encode(images)[1]

    def _labels(self, changes, base, n):
        """Apply {name: value or [N] values} to a label matrix (a copy of ``base``)."""
        check_attribute_names(changes, self.attribute_names)
        labels = np.array(base, np.float32, copy=True).reshape(n, len(self.attribute_names))
        for name, value in (changes or {}).items():
            labels[:, self.attribute_names.index(name)] = np.broadcast_to(np.asarray(value, np.float32), (n,))
        return labels

    def _generate(self, z, c):
        return batched(lambda zb, cb: to_uint8(self.model.g([zb, cb], training=False)), z, c, batch_size=self.batch_size)

    def transform(self, images, changes):
        """Rebuild images from (z~, c~) with some labels set: ``{"Eyeglasses": 1, ...}`` (§5.3.3)."""
        z, c = self.encode(images)
        return self._generate(z, self._labels(changes, c, len(z)))

    def reconstruct(self, images):
        """G(z~, c~): the image rebuilt from its own code (§5.3.2)."""
        return self.transform(images, {})

    def paste(self, images, changes):
        """The photo path on aligned crops: x + strength (G(z~, c') - G(z~, c~)), only the change the labels make
        added to the input's own pixels, as ``tfface iterative transform photo.jpg`` pastes it (uint8)."""
        images = self._check(images)
        n, k = len(images), len(self.attribute_names)
        mask = self._labels({name: 1.0 for name in changes or {}}, np.zeros((1, k)), 1)
        values = self._labels(changes, np.zeros((n, k)), n)
        s = self.strength

        def fn(x, v):
            x = to_float(x)
            return to_uint8(x + s * label_change(self.model, x, mask, v))

        return batched(fn, images, values, batch_size=self.batch_size)

    def generate(self, n_or_z, attributes=None, labels=None, seed=0):
        """New faces from z ~ U(-1, 1) (or given z [N, z_dim]) with ``attributes`` (§5.3.5).

        Labels not given are 0, or taken from ``labels`` [N, n_labels].
        """
        if np.ndim(n_or_z) == 0:
            z = np.random.default_rng(seed).uniform(-1, 1, (int(n_or_z), self.model.z_dim)).astype(np.float32)
        else:
            z = np.asarray(n_or_z, np.float32)
        base = np.zeros((len(z), len(self.attribute_names)), np.float32) if labels is None else labels
        return self._generate(z, self._labels(attributes, base, len(z)))
