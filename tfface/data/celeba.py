"""CelebA in its standard layout, its official partition, and the residual paper's balanced split.

Layout (``root`` is the directory the user passes with ``--data=celeba:root``)::

    root/img_align_celeba/000001.jpg ...   (Kaggle's nested img_align_celeba/img_align_celeba/ also works)
    root/list_attr_celeba.txt              (or list_attr_celeba.csv)
    root/list_eval_partition.txt           (or list_eval_partition.csv; optional unless a split needs it)

Text format: a row count, a header of attribute names, then one line per
image (file name and one 1/-1 value per attribute).  CSV format: a header
``image_id,<attributes...>`` and the same values (0/1 is accepted too).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np

from tfface.errors import DataError

ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin",
    "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace",
    "Wearing_Necktie", "Young",
)

# The papers crop the central 178x178 square of the 178x218 aligned images.
CROP = 178
ALIGNED_HEIGHT = 218

PARTITIONS = {"train": 0, "val": 1, "test": 2}


class CelebAFormatError(DataError):
    """A malformed CelebA label or partition file (the message names file and line)."""


def _find(root, stem, required=True):
    for ext in (".txt", ".csv"):
        p = os.path.join(root, stem + ext)
        if os.path.isfile(p):
            return p
    if required:
        raise FileNotFoundError(f"CelebA file not found: {os.path.join(root, stem + '.txt')} (or .csv)")
    return None


def _to01(values, path, line):
    try:
        v = np.array([int(float(x)) for x in values], np.int8)
    except ValueError:
        raise CelebAFormatError(f"{path}:{line}: attribute values must be 1/-1 or 1/0") from None
    if not np.isin(v, (-1, 0, 1)).all():
        raise CelebAFormatError(f"{path}:{line}: attribute values must be 1/-1 or 1/0")
    return (v == 1).astype(np.int8)


def parse_attributes(path):
    """-> (attribute names, file names, labels int8 [N, K] of 0/1). Text or CSV."""
    names, files, rows = None, [], []
    with open(path, newline="") as f:
        if path.endswith(".csv"):
            reader = csv.reader(f)
            header = next(reader, None)
            if not header or len(header) < 2:
                raise CelebAFormatError(f"{path}: missing CSV header")
            names = [h.strip() for h in header[1:]]
            for n, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(names) + 1:
                    raise CelebAFormatError(f"{path}:{n}: expected {len(names) + 1} fields, got {len(row)}")
                files.append(row[0].strip())
                rows.append(_to01(row[1:], path, n))
        else:
            lines = f.read().splitlines()
            if len(lines) < 2:
                raise CelebAFormatError(f"{path}: expected a count line and a header line")
            names = lines[1].split()
            for n, line in enumerate(lines[2:], start=3):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != len(names) + 1:
                    raise CelebAFormatError(f"{path}:{n}: expected {len(names) + 1} fields, got {len(parts)}")
                files.append(parts[0])
                rows.append(_to01(parts[1:], path, n))
    labels = np.stack(rows) if rows else np.zeros((0, len(names)), np.int8)
    return tuple(names), files, labels


def parse_partition(path):
    """-> {file name: partition (0 train, 1 val, 2 test)}. Text or CSV."""
    out = {}
    with open(path, newline="") as f:
        if path.endswith(".csv"):
            reader = csv.reader(f)
            next(reader, None)
            rows = ((n, r) for n, r in enumerate(reader, start=2) if r)
        else:
            rows = ((n, line.split()) for n, line in enumerate(f, start=1) if line.strip())
        for n, r in rows:
            if len(r) != 2 or r[1].strip() not in ("0", "1", "2"):
                raise CelebAFormatError(f"{path}:{n}: expected '<file> <0|1|2>'")
            out[r[0].strip()] = int(r[1])
    return out


@dataclass
class CelebA:
    root: str
    image_dir: str
    attribute_names: tuple
    filenames: list
    labels: np.ndarray  # int8 [N, K] of 0/1
    partition: np.ndarray | None  # int8 [N] (-1 where the partition file has no entry), or None

    @classmethod
    def load(cls, root):
        root = os.path.expanduser(root)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"CelebA directory not found: {root}")
        image_dir = os.path.join(root, "img_align_celeba")
        nested = os.path.join(image_dir, "img_align_celeba")
        if os.path.isdir(nested):
            image_dir = nested
        if not os.path.isdir(image_dir):
            raise FileNotFoundError(f"CelebA image directory not found: {image_dir}")
        names, files, labels = parse_attributes(_find(root, "list_attr_celeba"))
        part_path = _find(root, "list_eval_partition", required=False)
        partition = None
        if part_path:
            table = parse_partition(part_path)
            partition = np.array([table.get(f, -1) for f in files], np.int8)
        return cls(root, image_dir, names, files, labels, partition)

    def paths(self, indices):
        return [os.path.join(self.image_dir, self.filenames[i]) for i in indices]

    def attribute_column(self, name):
        if name not in self.attribute_names:
            raise ValueError(f"unknown CelebA attribute {name!r}; valid: {', '.join(self.attribute_names)}")
        return self.labels[:, self.attribute_names.index(name)]

    def aligned_landmarks(self, filenames, size):
        """CelebA's five landmarks of some images in the coordinates of our crops: [N, 5, 2], or None.

        Reads ``list_landmarks_align_celeba.txt`` (absent: None) and maps
        its points through the 178 x 178 centre crop and the resize to
        ``size`` pixels.  Order: left eye, right eye, nose, left and right
        mouth corners.
        """
        path = os.path.join(self.root, "list_landmarks_align_celeba.txt")
        if not os.path.isfile(path):
            return None
        table = {}
        with open(path) as f:
            for line in f.read().splitlines()[2:]:
                parts = line.split()
                if len(parts) == 11:
                    table[parts[0]] = np.array(parts[1:], np.float64).reshape(5, 2)
        points = []
        for name in filenames:
            p = table[os.path.basename(name)].copy()
            p[:, 1] -= (ALIGNED_HEIGHT - CROP) // 2
            points.append(p * size / CROP)
        return np.stack(points)

    def split_indices(self, split):
        """Indices of an official partition ('train', 'val', 'test')."""
        if self.partition is None:
            raise FileNotFoundError(f"CelebA partition file not found: {os.path.join(self.root, 'list_eval_partition.txt')} (or .csv)")
        return np.flatnonzero(self.partition == PARTITIONS[split])

    def held_out_indices(self):
        """The images every evaluation reads: the official *test* partition, or *val* when the partition
        file has no test rows (the 21,000-image sample); all images when there is no partition file (a
        test-only copy).  DataError when the partition file has neither."""
        if self.partition is None:
            return np.arange(len(self.filenames))
        for split in ("test", "val"):
            idx = self.split_indices(split)
            if idx.size:
                return idx
        raise DataError(f"CelebA at {self.root}: the partition file has no test (2) or val (1) rows to evaluate on")

    def train_indices(self):
        """The official *train* partition; DataError when it is empty (e.g. a test-only copy)."""
        idx = self.split_indices("train")
        if idx.size == 0:
            raise DataError(f"CelebA at {self.root}: the partition file has no train (0) rows to train on")
        return idx


def official_domains(labels, train_idx, held_out_idx, seed=0):
    """The residual paper's balanced training (§4) within CelebA's official partition.

    Train: the train partition's images of the minority class and as many
    random ones of the majority class (``seed``).  Test: every held-out image
    (:meth:`CelebA.held_out_indices`) of each class, in the order given, so
    the test people never appear in training.
    Returns ``{"train0", "train1", "test0", "test1"}``.
    """
    labels = np.asarray(labels).reshape(-1)
    train_idx, held_out_idx = np.asarray(train_idx), np.asarray(held_out_idx)
    by_class = [train_idx[labels[train_idx] == c] for c in (0, 1)]
    if min(map(len, by_class)) < 1:
        raise DataError(f"the train partition needs images with and without the attribute, "
                        f"got {len(by_class[1])} and {len(by_class[0])}")
    rng, n = np.random.default_rng(seed), min(map(len, by_class))
    out = {}
    for c in (0, 1):
        out[f"train{c}"] = np.sort(rng.permutation(by_class[c])[:n])
        out[f"test{c}"] = held_out_idx[labels[held_out_idx] == c]
    return out


def balanced_domains(labels, seed=0, test_per_class=1000, max_test_fraction=0.2):
    """The residual paper's split (§4) of one binary attribute.

    Test: ``test_per_class`` random images of each class, held out.  Train:
    all remaining images of the minority class and as many random images of
    the majority class.  On a small dataset the test share per class is
    capped at ``max_test_fraction`` of the minority class, so training keeps
    most images (the paper's 1,000 assume CelebA's 200k images).

    Returns ``{"train0", "train1", "test0", "test1"}`` sorted index arrays
    (0 = attribute absent, 1 = present).
    """
    labels = np.asarray(labels).reshape(-1)
    idx = {c: np.flatnonzero(labels == c) for c in (0, 1)}
    n_min = min(len(idx[0]), len(idx[1]))
    if n_min < 2:
        raise ValueError(f"need at least 2 images with and without the attribute, got {len(idx[1])} and {len(idx[0])}")
    n_test = max(1, min(int(test_per_class), int(n_min * max_test_fraction)))
    rng = np.random.default_rng(seed)
    out, rest = {}, {}
    for c in (0, 1):
        perm = rng.permutation(idx[c])
        out[f"test{c}"] = np.sort(perm[:n_test])
        rest[c] = perm[n_test:]
    n_train = min(len(rest[0]), len(rest[1]))
    for c in (0, 1):
        out[f"train{c}"] = np.sort(rest[c][:n_train])
    return out
