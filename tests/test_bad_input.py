"""Careless and hostile input to the command line: one line, the documented exit code, nothing written."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.data.fixtures import random_rgb, write_bad_files, write_celeba
from tfface import cli

TINY = ["--image_size=32", "--width=0.125", "--batch_size=4", "--steps=2", "--eval_images=4"]


def call(capsys, *argv):
    code = cli.main(list(argv))
    _, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return code, lines[0]


def folder(path, n, seed=0):
    path.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(random_rgb(40, 40, seed + i)).save(path / f"{i}.jpg")
    return path


@pytest.fixture
def bad(tmp_path):
    return write_bad_files(str(tmp_path / "bad"))


def test_an_empty_or_one_image_folder_is_a_data_error_naming_it(capsys, tmp_path):
    a, b = folder(tmp_path / "A", 0), folder(tmp_path / "B", 6)
    code, line = call(capsys, "train", *TINY, f"--data=folders:{a},{b}", f"--run_dir={tmp_path / 'r'}")
    assert code == 1 and f"{a}: needs at least 2 image files" in line
    folder(a, 1)
    code, line = call(capsys, "train", *TINY, f"--data=folders:{a},{b}", f"--run_dir={tmp_path / 'r'}")
    assert code == 1 and f"{a}: needs at least 2 image files" in line and "found 1" in line
    assert not (tmp_path / "r").exists()


def test_an_all_bad_folder_is_named_with_its_own_files(capsys, tmp_path, bad):
    a, b = tmp_path / "A", folder(tmp_path / "B", 6)
    a.mkdir()
    for kind in ("empty", "not_an_image", "truncated"):
        shutil.copy(bad[kind], a / os.path.basename(bad[kind]))
        shutil.copy(bad[kind], b / ("zz_" + os.path.basename(bad[kind])))
    code, line = call(capsys, "train", *TINY, f"--data=folders:{a},{b}", f"--run_dir={tmp_path / 'r'}")
    assert code == 1 and f"{a}: no usable images" in line, line
    first = line.split("(first: ", 1)[1]
    assert first.startswith(str(a) + os.sep), "the message cites a file of the folder at fault"


def test_strict_data_is_a_data_error_naming_the_file(capsys, tmp_path, bad):
    a, b = folder(tmp_path / "A", 6), folder(tmp_path / "B", 6)
    shutil.copy(bad["truncated"], b / "zz_truncated.jpg")
    code, line = call(capsys, "train", *TINY, f"--data=folders:{a},{b}", "--strict_data", f"--run_dir={tmp_path / 'r'}")
    assert code == 1 and "zz_truncated.jpg: truncated" in line


def test_malformed_celeba_labels_name_file_and_line(capsys, tmp_path):
    root = tmp_path / "celeba"
    write_celeba(str(root), n=8)
    p = root / "list_attr_celeba.txt"
    lines = p.read_text().splitlines()
    lines[4] = lines[4].rsplit(" ", 1)[0]
    p.write_text("\n".join(lines) + "\n")
    code, line = call(capsys, "train", *TINY, f"--data=celeba:{root}", f"--run_dir={tmp_path / 'r'}")
    assert code == 1 and "list_attr_celeba.txt:5: expected 41 fields" in line


@pytest.mark.parametrize("content", ["[1, 2, 3]", "null", "{not json"])
def test_a_damaged_settings_file_is_one_line(capsys, tmp_path, content):
    rd = tmp_path / "r"
    rd.mkdir()
    (rd / "settings.json").write_text(content)
    code, line = call(capsys, "train", *TINY, f"--run_dir={rd}")
    assert code == 2 and "settings.json is not valid settings JSON" in line
    assert (rd / "settings.json").read_text() == content and os.listdir(rd) == ["settings.json"]


def test_run_dir_that_is_a_file(capsys, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    code, line = call(capsys, "train", *TINY, f"--run_dir={f}")
    assert code == 2 and "is a file, not a directory" in line and f.read_text() == "mine"


def test_other_methods_flags_are_refused(capsys, tmp_path):
    code, line = call(capsys, "train", *TINY, "--method=iterative", "--no_dual", f"--run_dir={tmp_path / 'r'}")
    assert code == 2 and "--dual applies to --method=residual only" in line
    code, line = call(capsys, "train", *TINY, "--lambda_z=2", f"--run_dir={tmp_path / 'r'}")
    assert code == 2 and "--lambda_z applies to --method=iterative only" in line
    assert not (tmp_path / "r").exists()


def test_edit_with_a_directory_that_is_no_model(capsys, tmp_path):
    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(photo)
    (tmp_path / "model").mkdir()
    code, line = call(capsys, "edit", "--model", str(tmp_path / "model"), "--input", str(photo), "--output",
                      str(tmp_path / "o.png"))
    assert code == 1 and "is not a SavedModel directory" in line and not (tmp_path / "o.png").exists()


def test_evaluate_needs_images(capsys, tmp_path):
    code, line = call(capsys, "evaluate", "--run_dir", str(tmp_path), "--images", "0")
    assert code == 2 and "--images must be >= 1, got 0" in line


def test_a_model_larger_than_the_machine_is_refused_before_anything_is_written(capsys, tmp_path):
    code, line = call(capsys, "train", "--image_size=4096", f"--run_dir={tmp_path / 'r'}")
    assert code == 2 and "--image_size=4096 --width=0.25 --batch_size=16 needs about" in line and "GiB available" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_a_missing_identity_model_is_refused_before_anything_is_written(capsys, tmp_path):
    run = tmp_path / "r"
    code, line = call(capsys, "train", *TINY, "--method=iterative", "--lambda_id=1",
                      f"--identity_model={tmp_path / 'mobileface.json'}", f"--run_dir={run}")
    assert code == 1 and line.endswith(f"cannot read the TF.js model {tmp_path / 'mobileface.json'}: No such file "
                                       "or directory")
    assert not run.exists()


def test_a_full_disk_while_checkpointing_keeps_the_previous_checkpoint(capsys, tmp_path, monkeypatch):
    import tensorflow as tf

    from tfface.methods import load_run

    save = tf.train.CheckpointManager.save

    def full_disk_at_step_4(self, checkpoint_number=None, **kw):
        if checkpoint_number == 4:
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")
        return save(self, checkpoint_number=checkpoint_number, **kw)

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full_disk_at_step_4)
    rd = tmp_path / "r"
    code, line = call(capsys, "train", *TINY, "--steps=6", "--checkpoint_every=2", "--sample_every=100", f"--run_dir={rd}")
    assert code == 1 and "could not save the checkpoint of step 4" in line and "No space left on device" in line
    assert "the checkpoint of step 2 is kept" in line
    assert load_run(str(rd), say=lambda m: None).step == 2


@pytest.mark.slow
def test_a_checkpoint_state_without_timestamps_still_resumes(capsys, tmp_path):
    """A run directory copied or edited by hand may keep only the checkpoint's name in checkpoints/checkpoint;
    TensorFlow's manager then lists no checkpoint, and the run must not start again from step 0."""
    from tfface.methods import load_run

    rd = tmp_path / "r"
    assert cli.main(["train", *TINY, "--steps=2", "--checkpoint_every=2", "--sample_every=100", f"--run_dir={rd}"]) == 0
    (rd / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n')
    assert load_run(str(rd), say=lambda m: None).step == 2
    capsys.readouterr()
    assert cli.main(["train", *TINY, "--steps=3", "--checkpoint_every=2", "--sample_every=100", f"--run_dir={rd}"]) == 0
    assert "resuming at step 2" in capsys.readouterr().out


def test_a_run_without_checkpoints_is_refused_by_export_in_one_line(capsys, tmp_path):
    rd = tmp_path / "r"
    assert cli.main(["train", *TINY, "--steps=2", "--checkpoint_every=2", "--sample_every=100", f"--run_dir={rd}"]) == 0
    for f in (rd / "checkpoints").iterdir():
        f.unlink()
    capsys.readouterr()
    code, line = call(capsys, "export", f"--run_dir={rd}", f"--out={tmp_path / 'out'}")
    assert code == 1 and line.endswith(f"no checkpoint in {rd / 'checkpoints'}")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_ctrl_c_during_export_leaves_nothing(capsys, tmp_path, monkeypatch):
    from tfface.export import tflite

    rd = tmp_path / "r"
    assert cli.main(["train", *TINY, f"--run_dir={rd}"]) == 0
    capsys.readouterr()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tflite, "convert", interrupted)
    out = tmp_path / "export"
    code, line = call(capsys, "export", f"--run_dir={rd}", f"--out={out}", "--model_name=m")
    assert code == 130 and line == "tfface export: error: interrupted"
    assert os.listdir(out / "m") == [], "no version and no temporary directory is left"
