import os
import shutil

import numpy as np
import pytest

from tests.data.fixtures import random_rgb, write_bad_files, write_celeba
from tfface.data import images, pipeline, synthetic
from tfface.data.sources import load_domains, load_labeled
from tfface.data.spec import parse_data_flag
from tfface.errors import DataError


def test_parse_data_flag():
    assert parse_data_flag("synthetic").kind == "synthetic"
    assert parse_data_flag("celeba:/d").paths == ("/d",)
    assert parse_data_flag("folders:/a,/b").paths == ("/a", "/b")
    for bad in ["", "imagenet", "celeba", "celeba:", "synthetic:3"]:
        with pytest.raises(ValueError, match="--data must be one of: synthetic, celeba:"):
            parse_data_flag(bad)
    with pytest.raises(ValueError, match="needs two comma-separated"):
        parse_data_flag("folders:/a")


def take(ds, n):
    return [tuple(t.numpy() for t in b) for b, _ in zip(ds, range(n))]


def test_synthetic_domains_shapes_ranges_and_labels():
    d = load_domains("synthetic", "Eyeglasses", image_size=32, synthetic_test_size=8)
    assert d.has_ground_truth
    (x0, x1), = take(d.train_dataset(4, seed=1), 1)
    assert x0.shape == x1.shape == (4, 32, 32, 3) and x0.dtype == np.float32
    assert -1.0 <= x0.min() < -0.5 and 0.5 < x0.max() <= 1.0
    k = synthetic.attribute_index("Eyeglasses")
    idx = np.arange(4)
    assert (d.train[0].attributes(idx)[:, k] == 0).all() and (d.train[1].attributes(idx)[:, k] == 1).all()
    # The two domains are different identities.
    assert not set(d.train[0].seeds(idx)) & set(d.train[1].seeds(idx))
    # Test identities do not depend on the run seed; training ones do.
    d2 = load_domains("synthetic", "Eyeglasses", image_size=32, seed=5, synthetic_test_size=8)
    np.testing.assert_array_equal(d.test[0].seeds(idx), d2.test[0].seeds(idx))
    assert not np.array_equal(d.train[0].seeds(idx), d2.train[0].seeds(idx))


def test_stream_is_deterministic_and_resumable():
    d = load_domains("synthetic", "Smiling", image_size=24)
    full = take(d.train_dataset(3, seed=2), 4)
    again = take(d.train_dataset(3, seed=2), 4)
    resumed = take(d.train_dataset(3, seed=2, start_step=2), 2)
    for a, b in zip(full, again):
        np.testing.assert_array_equal(a[0], b[0])
    for a, b in zip(full[2:], resumed):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_flips_mirror_about_half_the_images_and_resume_the_same():
    d = load_domains("synthetic", "Smiling", image_size=24)
    plain = take(d.train_dataset(8, seed=2), 4)
    flipped = take(d.train_dataset(8, seed=2, flip=True), 4)
    resumed = take(d.train_dataset(8, seed=2, start_step=2, flip=True), 2)
    mirrored = same = 0
    for p, f in zip(plain, flipped):
        for domain in (0, 1):
            for a, b in zip(p[domain], f[domain]):
                mirrored += np.array_equal(a[:, ::-1], b) and not np.array_equal(a, b)
                same += np.array_equal(a, b)
    assert mirrored + same == 64 and 16 <= mirrored <= 48, (mirrored, same)
    for a, b in zip(flipped[2:], resumed):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_index_stream_reshuffles_each_epoch_and_resumes_mid_epoch():
    full = list(pipeline.index_stream(5, seed=1).take(15).as_numpy_iterator())
    assert sorted(full[:5]) == sorted(full[5:10]) == list(range(5))
    assert full[:5] != full[5:10]
    assert list(pipeline.index_stream(5, seed=1, start=7).take(8).as_numpy_iterator()) == full[7:15]


def test_celeba_domains_train_on_the_train_partition_and_test_on_all_held_out_images(tmp_path):
    root = str(tmp_path / "celeba")
    parts = [0] * 50 + [1] * 10 + [2] * 20
    names, labels = write_celeba(root, n=80, parts=parts)
    col = labels[:, 31]  # Smiling is CelebA column 31
    d = load_domains(f"celeba:{root}", "Smiling", image_size=32)
    base = lambda c: sorted(os.path.basename(p) for p in c.paths)  # noqa: E731
    test_files = {c: base(d.test[c]) for c in (0, 1)}
    # Every image of the test partition (val is not used when test exists), each in its class.
    for c in (0, 1):
        assert test_files[c] == [names[i] for i in range(60, 80) if col[i] == c]
    # Train: the train partition only, balanced (all of its minority class, as many of the majority).
    train_rows = [names.index(f) for c in (0, 1) for f in base(d.train[c])]
    assert all(parts[i] == 0 for i in train_rows)
    n_min = min(int(col[:50].sum()), int(50 - col[:50].sum()))
    assert d.train[0].size == d.train[1].size == n_min
    assert all(col[names.index(f)] == c for c in (0, 1) for f in base(d.train[c]))
    (x0, x1), = take(d.train_dataset(4), 1)
    assert x0.shape == (4, 32, 32, 3)
    with pytest.raises(ValueError, match="valid: 5_o_Clock_Shadow"):
        load_domains(f"celeba:{root}", "Smile", image_size=32)
    lab = load_labeled(f"celeba:{root}", image_size=32)
    assert lab.train.size == 50 and lab.test.size == 20 and len(lab.attribute_names) == 40
    # Labels travel with their images: the loader returns each file's row.
    imgs, rows = lab.test.load_batch(np.array([0, 5]))
    np.testing.assert_array_equal(rows, labels[[names.index(os.path.basename(lab.test.paths[i])) for i in (0, 5)]])


def test_celeba_labeled_data_keeps_the_named_labels_in_the_order_given(tmp_path):
    root = str(tmp_path / "celeba")
    write_celeba(root, n=30)
    every = load_labeled(f"celeba:{root}", image_size=32)
    two = load_labeled(f"celeba:{root}", image_size=32, labels=("Smiling", "Eyeglasses"))
    assert two.attribute_names == ("Smiling", "Eyeglasses") and two.train.size == every.train.size
    for split in ("train", "test"):
        idx = np.arange(getattr(two, split).size)
        _, c_all = getattr(every, split).load_batch(idx)
        _, c_two = getattr(two, split).load_batch(idx)
        np.testing.assert_array_equal(c_two, c_all[:, [31, 15]])  # Smiling and Eyeglasses columns


def test_evaluation_data_is_the_held_out_split_alone_in_a_fixed_random_order(tmp_path):
    # The 21,000-image sample's layout: train and val rows, no test rows -> val is held out.
    root = str(tmp_path / "trainval")
    names, labels = write_celeba(root, n=60, parts=[0] * 40 + [1] * 20)
    d = load_domains(f"celeba:{root}", "Smiling", image_size=32, test_only=True)
    assert d.train is None and "train none" in d.describe()
    held = sorted(os.path.basename(p) for c in d.test for p in c.paths)
    assert held == names[40:]
    # A fixed random order (not the file order), the same at every load and for every run seed: the
    # first N images are a random subset that two evaluations share.
    order = [os.path.basename(p) for p in d.test[0].paths]
    assert order != sorted(order)
    again = load_domains(f"celeba:{root}", "Smiling", image_size=32, seed=7, test_only=True)
    assert [os.path.basename(p) for p in again.test[0].paths] == order
    np.testing.assert_array_equal(d.first_images("test", 3), again.first_images("test", 3))
    assert len(d.first_images("test")) == d.test[0].size
    # A test-only copy: a partition file with test rows alone, or no partition file at all.
    only_test = str(tmp_path / "test_only")
    names, _ = write_celeba(only_test, n=30, parts=[2] * 30)
    d = load_domains(f"celeba:{only_test}", "Smiling", image_size=32, test_only=True)
    assert d.test[0].size + d.test[1].size == 30
    lab = load_labeled(f"celeba:{only_test}", image_size=32, test_only=True)
    assert lab.train is None and lab.test.size == 30
    with pytest.raises(DataError, match="no train \\(0\\) rows to train on"):
        load_domains(f"celeba:{only_test}", "Smiling", image_size=32)
    no_partition = str(tmp_path / "no_partition")
    write_celeba(no_partition, n=30, partition=False)
    d = load_domains(f"celeba:{no_partition}", "Smiling", image_size=32, test_only=True)
    assert d.test[0].size + d.test[1].size == 30
    # Training without a partition file keeps the paper's random balanced split.
    assert load_domains(f"celeba:{no_partition}", "Smiling", image_size=32).train is not None
    only_train = str(tmp_path / "only_train")
    write_celeba(only_train, n=20, parts=[0] * 20)
    with pytest.raises(DataError, match="no test \\(2\\) or val \\(1\\) rows"):
        load_domains(f"celeba:{only_train}", "Smiling", image_size=32, test_only=True)


def test_folders_as_evaluation_data_are_every_image(tmp_path):
    a, b = tmp_path / "A", tmp_path / "B"
    for k, d in enumerate((a, b)):
        d.mkdir()
        for i in range(7 + k):
            from PIL import Image

            Image.fromarray(random_rgb(40, 40, 10 * k + i)).save(d / f"{i}.png")
    d = load_domains(f"folders:{a},{b}", "Hat", image_size=16, test_only=True)
    assert d.train is None and (d.test[0].size, d.test[1].size) == (7, 8)
    lab = load_labeled(f"folders:{a},{b}", image_size=16, test_only=True, attribute="Hat")
    assert lab.test.size == 15 and lab.test.load_batch(np.arange(15))[1].sum() == 8
    # Training holds out 10% (at least one image) of each folder.
    d = load_domains(f"folders:{a},{b}", "Hat", image_size=16)
    assert (d.test[0].size, d.test[1].size) == (1, 1)


def test_bad_files_in_a_dataset_are_skipped_and_counted(tmp_path):
    a, b = tmp_path / "A", tmp_path / "B"
    for d in (a, b):
        d.mkdir()
        for i in range(12):
            from PIL import Image

            Image.fromarray(random_rgb(50, 40, i)).save(d / f"{i}.jpg")
    bad = write_bad_files(str(tmp_path / "bad"))
    for kind in ["empty", "not_an_image", "truncated", "too_large", "corrupt_passes_scan", "cmyk", "exif_rotated"]:
        for d in (a, b):
            shutil.copy(bad[kind], d / ("zz_" + os.path.basename(bad[kind])))
    data = load_domains(f"folders:{a},{b}", "custom", image_size=16)
    scan_counts = data.skip_log.counts
    assert scan_counts == {"empty": 2, "not_an_image": 2, "truncated": 2, "too_large": 2}, scan_counts
    # Many epochs over the training files: the file that passes the scan but
    # fails to decode is replaced, counted once, and training data never stops.
    it = iter(data.train_dataset(4))
    for _ in range(20):
        x0, x1 = next(it)
        assert x0.shape == (4, 16, 16, 3)
    logged = dict(data.skip_log.items())
    corrupt_in_train = [p for c in data.train for p in c.paths if p.endswith("corrupt_idat.png")]
    assert corrupt_in_train, "fixture: the corrupt file should be in a training split"
    for p in corrupt_in_train:
        assert logged[p] == "truncated"
    assert sum(data.skip_log.counts.values()) == 8 + len(corrupt_in_train)


def test_strict_mode_raises_naming_the_file(tmp_path):
    a, b = tmp_path / "A", tmp_path / "B"
    bad = write_bad_files(str(tmp_path / "bad"))
    for d in (a, b):
        d.mkdir()
        shutil.copy(bad["good"], d / "good.png")
        shutil.copy(bad["good"], d / "good2.png")
        shutil.copy(bad["good"], d / "good3.png")
    shutil.copy(bad["empty"], a / "empty.jpg")
    with pytest.raises(images.BadImageError, match="empty.jpg: zero-byte file"):
        load_domains(f"folders:{a},{b}", "x", image_size=16, strict=True)


def test_missing_data_paths_are_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="CelebA directory not found"):
        load_domains(f"celeba:{tmp_path}/none", "Smiling")
    with pytest.raises(FileNotFoundError, match="image directory not found: .*/nope"):
        load_domains(f"folders:{tmp_path}/nope,{tmp_path}", "x")


def test_synthetic_labeled_data():
    d = load_labeled("synthetic", image_size=32, synthetic_test_size=16)
    x, c = next(iter(d.train_dataset(8)))
    assert x.shape == (8, 32, 32, 3) and c.shape == (8, len(synthetic.ATTRIBUTES))
    assert set(np.unique(c.numpy())) <= {0.0, 1.0}


def test_shared_celeba_sample_pipeline(celeba_sample):
    d = load_domains(f"celeba:{celeba_sample}", "Eyeglasses", image_size=64)
    assert d.skip_log.counts == {}
    # Trained on the official train partition (balanced), tested on the whole val partition (no test rows).
    assert d.test[0].size + d.test[1].size == 2295
    assert d.train[0].size == d.train[1].size
    (x0, x1), = take(d.train_dataset(8), 1)
    assert x0.shape == (8, 64, 64, 3) and -1 <= x0.min() and x0.max() <= 1
