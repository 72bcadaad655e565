import os
import shutil

import numpy as np
import pytest

from tests.data.fixtures import random_rgb, write_bad_files, write_celeba
from tfface.data import images, pipeline, synthetic
from tfface.data.sources import load_domains, load_labeled
from tfface.data.spec import parse_data_flag


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


def test_index_stream_reshuffles_each_epoch_and_resumes_mid_epoch():
    full = list(pipeline.index_stream(5, seed=1).take(15).as_numpy_iterator())
    assert sorted(full[:5]) == sorted(full[5:10]) == list(range(5))
    assert full[:5] != full[5:10]
    assert list(pipeline.index_stream(5, seed=1, start=7).take(8).as_numpy_iterator()) == full[7:15]


def test_celeba_domains_and_labels(tmp_path):
    root = str(tmp_path / "celeba")
    names, labels = write_celeba(root, n=60)
    k = list(synthetic.ATTRIBUTES).index("Smiling")
    d = load_domains(f"celeba:{root}", "Smiling", image_size=32, test_per_class=3)
    pos = labels[:, 31].sum()  # Smiling is CelebA column 31
    n_test = min(3, int(min(pos, 60 - pos) * 0.2))
    assert d.test[0].size == d.test[1].size == n_test
    assert d.train[0].size == d.train[1].size == min(pos, 60 - pos) - n_test
    (x0, x1), = take(d.train_dataset(4), 1)
    assert x0.shape == (4, 32, 32, 3)
    with pytest.raises(ValueError, match="valid: 5_o_Clock_Shadow"):
        load_domains(f"celeba:{root}", "Smile", image_size=32)
    lab = load_labeled(f"celeba:{root}", image_size=32)
    assert lab.train.size == 48 and lab.test.size == 6 and len(lab.attribute_names) == 40
    # Labels travel with their images: the loader returns each file's row.
    imgs, rows = lab.train.load_batch(np.array([0, 5]))
    np.testing.assert_array_equal(rows, labels[[0, 5]])
    assert k >= 0


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
    (x0, x1), = take(d.train_dataset(8), 1)
    assert x0.shape == (8, 64, 64, 3) and -1 <= x0.min() and x0.max() <= 1
