import numpy as np
import pytest

from tests.data.fixtures import write_celeba
from tfface.data import celeba


@pytest.mark.parametrize("csv", [False, True])
def test_parse_standard_and_csv_layouts(tmp_path, csv):
    names, labels = write_celeba(str(tmp_path), n=12, csv=csv)
    data = celeba.CelebA.load(str(tmp_path))
    assert data.attribute_names == celeba.ATTRIBUTES
    assert data.filenames == names
    np.testing.assert_array_equal(data.labels, labels)
    np.testing.assert_array_equal(data.split_indices("train"), np.arange(10))
    assert list(data.split_indices("test")) == [11]


def test_kaggle_nested_image_dir(tmp_path):
    write_celeba(str(tmp_path), n=3)
    (tmp_path / "img_align_celeba").rename(tmp_path / "x")
    (tmp_path / "img_align_celeba").mkdir()
    (tmp_path / "x").rename(tmp_path / "img_align_celeba" / "img_align_celeba")
    data = celeba.CelebA.load(str(tmp_path))
    assert data.image_dir.endswith("img_align_celeba/img_align_celeba")


def test_missing_pieces_are_one_line_errors_naming_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="CelebA directory not found: .*nowhere"):
        celeba.CelebA.load(str(tmp_path / "nowhere"))
    tmp_path.joinpath("root").mkdir()
    with pytest.raises(FileNotFoundError, match="image directory not found: .*img_align_celeba"):
        celeba.CelebA.load(str(tmp_path / "root"))
    tmp_path.joinpath("root", "img_align_celeba").mkdir()
    with pytest.raises(FileNotFoundError, match="list_attr_celeba.txt"):
        celeba.CelebA.load(str(tmp_path / "root"))
    write_celeba(str(tmp_path / "np"), n=3, partition=False)
    data = celeba.CelebA.load(str(tmp_path / "np"))
    with pytest.raises(FileNotFoundError, match="list_eval_partition"):
        data.split_indices("train")


def test_malformed_rows_name_file_and_line(tmp_path):
    write_celeba(str(tmp_path), n=3)
    p = tmp_path / "list_attr_celeba.txt"
    lines = p.read_text().splitlines()
    lines[3] = lines[3].rsplit(" ", 1)[0]  # drop one value on line 4
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(celeba.CelebAFormatError, match="list_attr_celeba.txt:4: expected 41 fields"):
        celeba.CelebA.load(str(tmp_path))


def test_unknown_attribute_lists_valid_names(tmp_path):
    write_celeba(str(tmp_path), n=3)
    with pytest.raises(ValueError, match="unknown CelebA attribute 'Glasses'; valid: 5_o_Clock_Shadow.*Young"):
        celeba.CelebA.load(str(tmp_path)).attribute_column("Glasses")


def test_balanced_domains_follows_the_residual_paper():
    rng = np.random.default_rng(0)
    labels = (rng.random(100000) < 0.1).astype(int)  # 10% positive, like Eyeglasses
    s = celeba.balanced_domains(labels, seed=3)
    assert len(s["test0"]) == len(s["test1"]) == 1000
    assert (labels[s["test1"]] == 1).all() and (labels[s["test0"]] == 0).all()
    assert (labels[s["train1"]] == 1).all() and (labels[s["train0"]] == 0).all()
    # Train: all remaining minority images and as many majority images.
    assert len(s["train1"]) == labels.sum() - 1000 == len(s["train0"])
    every = np.concatenate(list(s.values()))
    assert len(np.unique(every)) == len(every), "splits are disjoint"
    # Deterministic for a seed, different for another.
    np.testing.assert_array_equal(s["test1"], celeba.balanced_domains(labels, seed=3)["test1"])
    assert not np.array_equal(s["test1"], celeba.balanced_domains(labels, seed=4)["test1"])


def test_balanced_domains_caps_test_on_small_data():
    labels = np.array([1] * 50 + [0] * 500)
    s = celeba.balanced_domains(labels)
    assert len(s["test1"]) == len(s["test0"]) == 10  # 20% of the 50 positives
    assert len(s["train1"]) == len(s["train0"]) == 40
    with pytest.raises(ValueError, match="at least 2 images"):
        celeba.balanced_domains(np.array([1, 0, 0, 0]))


def test_shared_celeba_sample(celeba_sample):
    data = celeba.CelebA.load(str(celeba_sample))
    # The sample's README: 21,000 images, official partition 18,705 train / 2,295 val, no test split.
    assert len(data.filenames) == 21000 and data.labels.shape == (21000, 40)
    assert len(data.split_indices("train")) == 18705 and len(data.split_indices("val")) == 2295
    assert len(data.split_indices("test")) == 0
    assert int(data.attribute_column("Eyeglasses").sum()) == 3090
    s = celeba.balanced_domains(data.attribute_column("Eyeglasses"))
    assert len(s["train0"]) == len(s["train1"]) > 300
