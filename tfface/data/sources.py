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

# Held-out files are listed in an order fixed by this seed (not the run's), so the first N are a random
# subset, the same for every run evaluated on the same data.
EVAL_ORDER_SEED = 0

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


def eval_order(indices):
    """``indices`` in the fixed random order of :data:`EVAL_ORDER_SEED`."""
    return np.random.default_rng(EVAL_ORDER_SEED).permutation(np.asarray(indices))


def _first(collection, n=None):
    """The first ``n`` images of a collection (all of a finite one when ``n`` is None)."""
    size = collection.size if n is None else n if collection.size is None else min(n, collection.size)
    return collection.load_batch(np.arange(size))[0]


@dataclass
class DomainData:
    """Two domains of one attribute: index 0 lacks it, index 1 has it."""

    spec: DataSpec
    attribute: str
    train: tuple | None  # (Collection, Collection); None for evaluation data (test_only)
    test: tuple  # (Collection, Collection)
    skip_log: images.SkipLog = field(default_factory=images.SkipLog)

    @property
    def image_size(self):
        return self.test[0].image_size

    @property
    def has_ground_truth(self):
        """Synthetic data can render counterfactuals and masks for evaluation."""
        return all(isinstance(c, SyntheticCollection) for c in self.test)

    def describe(self):
        n = lambda c: "unbounded" if c.size is None else str(c.size)  # noqa: E731
        train = "none" if self.train is None else f"{n(self.train[0])} without / {n(self.train[1])} with"
        return f"{self.spec} {self.attribute}: train {train}, test {n(self.test[0])} / {n(self.test[1])}, {self.image_size}px"

    def first_images(self, split, n=None, domain=0):
        """The first ``n`` (None: all) uint8 images of one domain of the ``"train"`` or ``"test"`` split."""
        return _first(getattr(self, split)[domain], n)

    def train_dataset(self, batch_size, seed=0, start_step=0, deterministic=True, flip=False):
        """Endless ``(x0, x1)`` float32 batches in [-1, 1]; batch ``s`` is fixed by (seed, s).  ``flip``: random
        left-right mirroring."""
        ds = [pipeline.batches(self.train[d], batch_size, seed * 2 + d, start_step, deterministic, flip) for d in (0, 1)]
        return _zip_float(*ds).prefetch(tf.data.AUTOTUNE)


@dataclass
class LabeledData:
    """Images with all their binary labels (for the iterative method)."""

    spec: DataSpec
    attribute_names: tuple
    train: Collection | None  # None for evaluation data (test_only)
    test: Collection
    skip_log: images.SkipLog = field(default_factory=images.SkipLog)

    @property
    def image_size(self):
        return self.test.image_size

    @property
    def has_ground_truth(self):
        return isinstance(self.test, SyntheticCollection)

    def describe(self):
        n = "none" if self.train is None else "unbounded" if self.train.size is None else str(self.train.size)
        return f"{self.spec}: {len(self.attribute_names)} labels, train {n}, test {self.test.size}, {self.image_size}px"

    def first_images(self, split, n=None):
        """The first ``n`` (None: all) uint8 images of the ``"train"`` or ``"test"`` split."""
        return _first(getattr(self, split), n)

    def train_dataset(self, batch_size, seed=0, start_step=0, deterministic=True, flip=False):
        """Endless ``(x, c)`` batches: float32 images in [-1, 1] and 0/1 labels.  ``flip``: random left-right
        mirroring (labels unchanged: face attributes are symmetric)."""
        ds = pipeline.batches(self.train, batch_size, seed, start_step, deterministic, flip)
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
                 synthetic_test_size=256, synthetic_train_size=4096, max_pixels=images.DEFAULT_MAX_PIXELS,
                 test_only=False) -> DomainData:
    """The two domains of ``attribute`` from any data source (see module docstring).

    Synthetic: ``synthetic_train_size`` training identities per domain
    (rendered once and cached; 0 = a new identity for every image) and a
    fixed test set of ``synthetic_test_size`` per domain.  CelebA with a
    partition file: the residual paper's balanced training within the
    official train partition, and every held-out image (test partition, or
    val when there is none) as the test set
    (:func:`tfface.data.celeba.official_domains`); without one, the paper's
    random balanced split (:func:`tfface.data.celeba.balanced_domains`).
    Folders: 10% of each folder (at most 1,000) held out for testing.

    ``test_only`` (evaluation on data of its own): no training split; CelebA's
    held-out images (all images when there is no partition file), every image
    of both folders.  Held-out files come in a fixed random order, so the
    first N are a random subset, the same for every run.
    """
    spec = parse_data_flag(spec) if isinstance(spec, str) else spec
    log = images.SkipLog()
    if spec.kind == "synthetic":
        synthetic.attribute_index(attribute)
        n = synthetic_train_size or None
        train = tuple(SyntheticCollection(image_size, _train_seed_base(seed, d), n, {attribute: d}) for d in (0, 1))
        test = tuple(SyntheticCollection(image_size, _test_seed_base(d), synthetic_test_size, {attribute: d}) for d in (0, 1))
        return DomainData(spec, attribute, None if test_only else train, test, log)
    if spec.kind == "celeba":
        data = celeba_lib.CelebA.load(spec.paths[0])
        column = data.attribute_column(attribute)
        if data.partition is None and not test_only:
            split = celeba_lib.balanced_domains(column, seed, test_per_class)
        else:
            held_out = eval_order(data.held_out_indices())
            split = ({f"test{c}": held_out[column[held_out] == c] for c in (0, 1)} if test_only
                     else celeba_lib.official_domains(column, data.train_indices(), held_out, seed))
        for c in (0, 1):
            if split[f"test{c}"].size == 0:
                raise DataError(f"CelebA at {data.root}: no held-out images {('without', 'with')[c]} {attribute} to test on")
        make = lambda key: _files(data.paths(split[key]), image_size, log, strict, max_pixels, data.image_dir,  # noqa: E731
                                  crop=celeba_lib.CROP)
        train = None if test_only else (make("train0"), make("train1"))
        return DomainData(spec, attribute, train, (make("test0"), make("test1")), log)
    train, test = [], []
    for d, directory in enumerate(spec.paths):
        paths = images.list_images(os.path.expanduser(directory))
        if test_only:
            test.append(_files([paths[i] for i in eval_order(np.arange(len(paths)))], image_size, log,
                               strict, max_pixels, directory))
            continue
        if len(paths) < 2:
            raise DataError(f"{directory}: needs at least 2 image files (one to train on, one to test), found {len(paths)}")
        test_idx, train_idx = _holdout(len(paths), seed + d)
        train.append(_files([paths[i] for i in train_idx], image_size, log, strict, max_pixels, directory))
        test.append(_files([paths[i] for i in test_idx], image_size, log, strict, max_pixels, directory))
    return DomainData(spec, attribute, None if test_only else tuple(train), tuple(test), log)


def load_labeled(spec: DataSpec | str, image_size=64, seed=0, strict=False, split="official",
                 synthetic_test_size=512, synthetic_train_size=8192, attribute="attribute",
                 max_pixels=images.DEFAULT_MAX_PIXELS, test_only=False, labels=()) -> LabeledData:
    """Images with all labels: synthetic (8 labels), CelebA (40, or the ones named in ``labels``, in that
    order), folders (1: B has it).

    CelebA ``split="official"`` uses list_eval_partition: the train partition,
    and the held-out images (test, or val when the file has no test rows) as
    test; ``split="random"`` is the iterative paper's random 185,000 / 15,000
    split, i.e. 15,000 test images, at most 7.5% of the dataset.
    ``test_only`` (evaluation on data of its own): no training split; CelebA's
    held-out images (all when there is no partition file), every image of
    the folders.  CelebA and folder test images come in a fixed random order.
    """
    spec = parse_data_flag(spec) if isinstance(spec, str) else spec
    if split not in ("official", "random"):
        raise ValueError(f"split must be 'official' or 'random', got {split!r}")
    log = images.SkipLog()
    if spec.kind == "synthetic":
        train = SyntheticCollection(image_size, _train_seed_base(seed, 7), synthetic_train_size or None)
        test = SyntheticCollection(image_size, _test_seed_base(7), synthetic_test_size)
        return LabeledData(spec, synthetic.ATTRIBUTES, None if test_only else train, test, log)
    if spec.kind == "celeba":
        data = celeba_lib.CelebA.load(spec.paths[0])
        if test_only:
            train_idx, test_idx = None, eval_order(data.held_out_indices())
        elif split == "official":
            train_idx, test_idx = data.train_indices(), eval_order(data.held_out_indices())
        else:
            n = len(data.filenames)
            test_idx, train_idx = _holdout(n, seed, fraction=0.075, cap=15000)
            test_idx = eval_order(test_idx)
            if train_idx.size == 0 or test_idx.size == 0:
                raise DataError(f"CelebA at {data.root}: too few images for a random split ({n})")
        names, columns = data.attribute_names, slice(None)
        if labels:
            missing = [n for n in labels if n not in names]
            if missing:
                raise DataError(f"CelebA at {data.root} has no label {', '.join(missing)}")
            names, columns = tuple(labels), [names.index(n) for n in labels]
        make = lambda idx: _files(data.paths(idx), image_size, log, strict, max_pixels, data.image_dir,  # noqa: E731
                                  data.labels[idx][:, columns], names, celeba_lib.CROP)
        return LabeledData(spec, names, None if test_only else make(train_idx), make(test_idx), log)
    paths, labels = [], []
    for d, directory in enumerate(spec.paths):
        found = images.list_images(os.path.expanduser(directory))
        paths += found
        labels += [[d]] * len(found)
    if test_only:
        train_idx, test_idx = None, eval_order(np.arange(len(paths)))
    elif len(paths) < 2:
        raise DataError(f"{', '.join(spec.paths)}: need at least 2 image files in all, found {len(paths)}")
    else:
        test_idx, train_idx = _holdout(len(paths), seed)
    make = lambda idx: _files([paths[i] for i in idx], image_size, log, strict, max_pixels,  # noqa: E731
                              ", ".join(spec.paths), [labels[i] for i in idx], (attribute,))
    return LabeledData(spec, (attribute,), None if test_only else make(train_idx), make(test_idx), log)
