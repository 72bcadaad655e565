"""Random-access image collections: the common interface of every data source.

A collection maps integer indices to ``(uint8 images [B,S,S,3], float32
labels [B,K])`` with :meth:`load_batch`.  :mod:`tfface.data.pipeline` turns
any collection into a deterministic ``tf.data`` stream, so synthetic faces,
CelebA and plain folders share one input pipeline.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tfface.data import images, synthetic

# Decoded images are kept in memory when the whole collection fits this budget.
DEFAULT_CACHE_BYTES = 1 << 30

_POOL = None
_POOL_LOCK = threading.Lock()


def _pool():
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="tfface-decode")
        return _POOL


class Collection:
    """Base class. ``size`` is None for an unbounded stream (synthetic training data)."""

    image_size: int
    attribute_names: tuple = ()
    size: int | None = None
    shuffle = True  # whether the pipeline should reshuffle indices every epoch

    def __len__(self):
        if self.size is None:
            raise TypeError("unbounded collection has no length")
        return self.size

    def load_batch(self, indices):
        raise NotImplementedError


class SyntheticCollection(Collection):
    """Rendered faces. Index ``i`` is the identity with seed ``seed_base + i``.

    ``forced`` fixes some attributes (e.g. ``{"Eyeglasses": 0}`` for a
    domain); the others are drawn from the seed with
    :func:`tfface.data.synthetic.sample_attributes`.  ``size=None`` gives
    an endless stream of new identities (never reshuffled: seeds are
    already random).
    """

    def __init__(self, image_size, seed_base, size=None, forced=None, priors=None, cache_bytes=DEFAULT_CACHE_BYTES):
        self.image_size = int(image_size)
        self.seed_base = int(seed_base)
        self.size = size
        self.forced = dict(forced or {})
        self.priors = priors
        for name in self.forced:
            synthetic.attribute_index(name)
        self.attribute_names = synthetic.ATTRIBUTES
        # A finite set is reshuffled every epoch and, when it fits, rendered once.
        self.shuffle = size is not None
        fits = size is not None and size * self.image_size**2 * 3 <= cache_bytes
        self._cache = {} if fits else None

    def seeds(self, indices):
        indices = np.asarray(indices, np.int64).reshape(-1)
        if self.size is not None and (indices.min(initial=0) < 0 or indices.max(initial=0) >= self.size):
            raise IndexError(f"index out of range for a collection of {self.size}")
        return self.seed_base + indices

    def attributes(self, indices):
        attrs = synthetic.sample_attributes(self.seeds(indices), self.priors)
        for name, value in self.forced.items():
            attrs[:, synthetic.attribute_index(name)] = int(value)
        return attrs

    def load_batch(self, indices):
        indices = np.asarray(indices, np.int64).reshape(-1)
        attrs = self.attributes(indices)
        if self._cache is None:
            return synthetic.render(self.seeds(indices), attrs, self.image_size), attrs.astype(np.float32)
        missing = sorted({int(i) for i in indices if int(i) not in self._cache})
        if missing:
            rendered = synthetic.render(self.seeds(missing), self.attributes(missing), self.image_size)
            self._cache.update(zip(missing, rendered))
        return np.stack([self._cache[int(i)] for i in indices]), attrs.astype(np.float32)

    def counterfactual(self, indices, attribute):
        """(images, counterfactuals with ``attribute`` flipped, masks) for ``indices``."""
        return synthetic.counterfactual(self.seeds(indices), self.attributes(indices), attribute, self.image_size)


class FileCollection(Collection):
    """Image files with optional labels ``[N, K]`` (values 0/1).

    Files are assumed to have passed :func:`tfface.data.images.scan`.  A
    file that still fails to decode is recorded in ``skip_log`` and replaced
    by the next decodable file of the collection (so a batch is always full
    and step ``s`` always reads the same files, which keeps resumed runs
    identical), or raises with ``strict=True``.
    """

    def __init__(self, paths, image_size, labels=None, attribute_names=(), crop=None,
                 skip_log=None, strict=False, max_pixels=images.DEFAULT_MAX_PIXELS,
                 cache_bytes=DEFAULT_CACHE_BYTES):
        self.paths = list(paths)
        self.size = len(self.paths)
        if self.size == 0:
            raise ValueError("no usable images")
        self.image_size = int(image_size)
        self.attribute_names = tuple(attribute_names)
        k = len(self.attribute_names)
        self.labels = np.zeros((self.size, k), np.float32) if labels is None else np.asarray(labels, np.float32)
        if self.labels.shape != (self.size, k):
            raise ValueError(f"labels shape {self.labels.shape} does not match {self.size} files x {k} attributes")
        self.crop, self.strict, self.max_pixels = crop, strict, max_pixels
        self.skip_log = skip_log if skip_log is not None else images.SkipLog()
        self._cache = {} if self.size * self.image_size**2 * 3 <= cache_bytes else None
        self._bad = set()

    def _decode(self, i):
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        arr = images.load_image(self.paths[i], self.image_size, self.crop, self.max_pixels)
        if self._cache is not None:
            self._cache[i] = arr
        return arr

    def _load_one(self, i):
        i = int(i)
        for k in range(self.size):
            j = (i + k) % self.size
            if j in self._bad:
                continue
            try:
                return self._decode(j), self.labels[j]
            except images.BadImageError as e:
                if self.strict:
                    raise
                self._bad.add(j)
                self.skip_log.add(e.path, e.reason)
        raise images.BadImageError(self.paths[i], "truncated", "no file in the collection decodes")

    def load_batch(self, indices):
        out = list(_pool().map(self._load_one, np.asarray(indices).reshape(-1)))
        imgs = np.stack([o[0] for o in out])
        labels = np.stack([o[1] for o in out]).astype(np.float32).reshape(len(out), -1)
        return imgs, labels
