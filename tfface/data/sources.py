"""The datasets the two methods train on, from any ``--data`` source (see :mod:`tfface.data.spec`).

:func:`load_domains` gives the residual method its two domains (attribute
absent / present) with a held-out test split; :func:`load_labeled` gives the
iterative method images with all their labels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from tfface.data import celeba as celeba_lib
from tfface.data import images, pipeline, synthetic
from tfface.data.collections import Collection, FileCollection, SyntheticCollection
from tfface.data.spec import DataSpec, parse_data_flag
from tfface.errors import DataError

# Synthetic identity seeds: training identities depend on the run seed,
# test identities never do (so evaluations of different runs are comparable).
_TEST_SEED_BASE = 1 << 50


def _train_seed_base(seed, stream):
    return (int(seed) * 8 + int(stream)) << 32


def _test_seed_base(stream):
    return _TEST_SEED_BASE + (int(stream) << 32)


def _zip_float(ds0, ds1):
    return tf.data.Dataset.zip((ds0, ds1)).map(
        lambda a, b: (pipeline.to_float(a[0]), pipeline.to_float(b[0])), num_parallel_calls=tf.data.AUTOTUNE
    )


def _first(collection, n):
    size = n if collection.size is None else min(n, collection.size)
    return collection.load_batch(np.arange(size))[0]


@dataclass
class DomainData:
    """Two domains of one attribute: index 0 lacks it, index 1 has it."""

    spec: DataSpec
    attribute: str
    train: tuple  # (Collection, Collection)
    test: tuple  # (Collection, Collection)
    skip_log: images.SkipLog = field(default_factory=images.SkipLog)

    @property
    def image_size(self):
        return self.train[0].image_size

    @property
    def has_ground_truth(self):
        """Synthetic data can render counterfactuals and masks for evaluation."""
        return all(isinstance(c, SyntheticCollection) for c in self.test)

    def describe(self):
        n = lambda c: "unbounded" if c.size is None else str(c.size)  # noqa: E731
        return (f"{self.spec} {self.attribute}: train {n(self.train[0])} without / {n(self.train[1])} with, "
                f"test {n(self.test[0])} / {n(self.test[1])}, {self.image_size}px")

    def first_images(self, split, n, domain=0):
        """The first ``n`` uint8 images of one domain of the ``"train"`` or ``"test"`` split."""
        return _first(getattr(self, split)[domain], n)

    def train_dataset(self, batch_size, seed=0, start_step=0, deterministic=True):
        """Endless ``(x0, x1)`` float32 batches in [-1, 1]; batch ``s`` is fixed by (seed, s)."""
        ds = [pipeline.batches(self.train[d], batch_size, seed * 2 + d, start_step, deterministic) for d in (0, 1)]
        return _zip_float(*ds).prefetch(tf.data.AUTOTUNE)


@dataclass
class LabeledData:
    """Images with all their binary labels (for the iterative method)."""

    spec: DataSpec
    attribute_names: tuple
    train: Collection
    test: Collection
    skip_log: images.SkipLog = field(default_factory=images.SkipLog)

    @property
    def image_size(self):
        return self.train.image_size

    @property
    def has_ground_truth(self):
        return isinstance(self.test, SyntheticCollection)

    def describe(self):
        n = "unbounded" if self.train.size is None else str(self.train.size)
        return f"{self.spec}: {len(self.attribute_names)} labels, train {n}, test {self.test.size}, {self.image_size}px"

    def first_images(self, split, n):
        """The first ``n`` uint8 images of the ``"train"`` or ``"test"`` split."""
        return _first(getattr(self, split), n)

    def train_dataset(self, batch_size, seed=0, start_step=0, deterministic=True):
        """Endless ``(x, c)`` batches: float32 images in [-1, 1] and 0/1 labels."""
        ds = pipeline.batches(self.train, batch_size, seed, start_step, deterministic)
        return ds.map(lambda x, c: (pipeline.to_float(x), c), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _files(paths, image_size, log, strict, max_pixels, where, labels=None, names=(), crop=None):
    """Scan ``paths`` (files of the folder ``where``) and wrap the usable ones, with their label rows,
    in a FileCollection."""
    found = images.SkipLog()
    good, _ = images.scan(paths, strict=strict, max_pixels=max_pixels, log=found)
    log.merge(found)
    keep = set(good)
    rows = None if labels is None else np.asarray([row for p, row in zip(paths, labels) if p in keep])
    if not good:
        raise DataError(f"{where}: no usable images among {len(paths)} files ({found.summary()})")
    return FileCollection(good, image_size, rows, names, crop=crop, skip_log=log, strict=strict, max_pixels=max_pixels)


def _holdout(n, seed, fraction=0.1, cap=1000):
    """Random test indices: ``fraction`` of n, at most ``cap``, at least 1 when n >= 2."""
    k = min(cap, max(1 if n >= 2 else 0, int(round(n * fraction))))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[:k]), np.sort(perm[k:])


def load_domains(spec: DataSpec | str, attribute, image_size=64, seed=0, strict=False, test_per_class=1000,
                 synthetic_test_size=256, synthetic_train_size=4096, max_pixels=images.DEFAULT_MAX_PIXELS) -> DomainData:
    """The two domains of ``attribute`` from any data source (see module docstring).

    Synthetic: ``synthetic_train_size`` training identities per domain
    (rendered once and cached; 0 = a new identity for every image) and a
    fixed test set of ``synthetic_test_size`` per domain.  CelebA: the residual paper's
    balanced split (:func:`tfface.data.celeba.balanced_domains`).  Folders:
    10% of each folder (at most 1,000) held out for testing.
    """
    spec = parse_data_flag(spec) if isinstance(spec, str) else spec
    log = images.SkipLog()
    if spec.kind == "synthetic":
        synthetic.attribute_index(attribute)
        n = synthetic_train_size or None
        train = tuple(SyntheticCollection(image_size, _train_seed_base(seed, d), n, {attribute: d}) for d in (0, 1))
        test = tuple(SyntheticCollection(image_size, _test_seed_base(d), synthetic_test_size, {attribute: d}) for d in (0, 1))
        return DomainData(spec, attribute, train, test, log)
    if spec.kind == "celeba":
        data = celeba_lib.CelebA.load(spec.paths[0])
        split = celeba_lib.balanced_domains(data.attribute_column(attribute), seed, test_per_class)
        make = lambda key: _files(data.paths(split[key]), image_size, log, strict, max_pixels, data.image_dir,  # noqa: E731
                                  crop=celeba_lib.CROP)
        return DomainData(spec, attribute, (make("train0"), make("train1")), (make("test0"), make("test1")), log)
    train, test = [], []
    for d, directory in enumerate(spec.paths):
        paths = images.list_images(os.path.expanduser(directory))
        if len(paths) < 2:
            raise DataError(f"{directory}: needs at least 2 image files (one to train on, one to test), found {len(paths)}")
        test_idx, train_idx = _holdout(len(paths), seed + d)
        train.append(_files([paths[i] for i in train_idx], image_size, log, strict, max_pixels, directory))
        test.append(_files([paths[i] for i in test_idx], image_size, log, strict, max_pixels, directory))
    return DomainData(spec, attribute, tuple(train), tuple(test), log)


def load_labeled(spec: DataSpec | str, image_size=64, seed=0, strict=False, split="official",
                 synthetic_test_size=512, synthetic_train_size=8192, attribute="attribute",
                 max_pixels=images.DEFAULT_MAX_PIXELS) -> LabeledData:
    """Images with all labels: synthetic (8 labels), CelebA (40), folders (1: B has it).

    CelebA ``split="official"`` uses list_eval_partition (train / test; the
    validation partition is used as test when the file has no test rows);
    ``split="random"`` is the iterative paper's random 185,000 / 15,000
    split, i.e. 15,000 test images, at most 7.5% of the dataset.
    """
    spec = parse_data_flag(spec) if isinstance(spec, str) else spec
    if split not in ("official", "random"):
        raise ValueError(f"split must be 'official' or 'random', got {split!r}")
    log = images.SkipLog()
    if spec.kind == "synthetic":
        train = SyntheticCollection(image_size, _train_seed_base(seed, 7), synthetic_train_size or None)
        test = SyntheticCollection(image_size, _test_seed_base(7), synthetic_test_size)
        return LabeledData(spec, synthetic.ATTRIBUTES, train, test, log)
    if spec.kind == "celeba":
        data = celeba_lib.CelebA.load(spec.paths[0])
        if split == "official":
            train_idx = data.split_indices("train")
            test_idx = data.split_indices("test")
            if test_idx.size == 0:
                test_idx = data.split_indices("val")
        else:
            n = len(data.filenames)
            test_idx, train_idx = _holdout(n, seed, fraction=0.075, cap=15000)
        if train_idx.size == 0 or test_idx.size == 0:
            raise DataError(f"CelebA at {data.root}: empty train or test split")
        make = lambda idx: _files(data.paths(idx), image_size, log, strict, max_pixels, data.image_dir,  # noqa: E731
                                  data.labels[idx], data.attribute_names, celeba_lib.CROP)
        return LabeledData(spec, data.attribute_names, make(train_idx), make(test_idx), log)
    paths, labels = [], []
    for d, directory in enumerate(spec.paths):
        found = images.list_images(os.path.expanduser(directory))
        paths += found
        labels += [[d]] * len(found)
    if len(paths) < 2:
        raise DataError(f"{', '.join(spec.paths)}: need at least 2 image files in all, found {len(paths)}")
    test_idx, train_idx = _holdout(len(paths), seed)
    make = lambda idx: _files([paths[i] for i in idx], image_size, log, strict, max_pixels,  # noqa: E731
                              ", ".join(spec.paths), [labels[i] for i in idx], (attribute,))
    return LabeledData(spec, (attribute,), make(train_idx), make(test_idx), log)
