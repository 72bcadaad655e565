import os
import subprocess

import numpy as np
import pytest
from PIL import Image

from tfface import files


def test_write_is_all_or_nothing(tmp_path, monkeypatch):
    path = tmp_path / "settings.json"
    files.write_json(path, {"a": np.float32(1.5), "b": np.arange(2)})
    assert path.read_text() == '{\n  "a": 1.5,\n  "b": [\n    0,\n    1\n  ]\n}\n'

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        files.write_text(path, "new")
    assert path.read_text().startswith('{\n  "a"'), "the old content survives a failed write"
    assert os.listdir(tmp_path) == ["settings.json"], "no temporary file is left behind"


def test_building_directory_replaces_only_on_success(tmp_path):
    final = tmp_path / "eval"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with files.building_directory(final) as tmp:
            (open(os.path.join(tmp, "new.txt"), "w")).write("new")
            raise KeyboardInterrupt
    assert os.listdir(final) == ["old.txt"] and os.listdir(tmp_path) == ["eval"]
    with files.building_directory(final) as tmp:
        (open(os.path.join(tmp, "new.txt"), "w")).write("new")
    assert os.listdir(final) == ["new.txt"] and os.listdir(tmp_path) == ["eval"]
    with pytest.raises(FileExistsError):
        with files.building_directory(final, overwrite=False):
            pass
    assert os.listdir(final) == ["new.txt"]


def test_save_image_by_extension(tmp_path):
    img = np.zeros((4, 6, 3), np.uint8)
    img[:, :3, 0] = 255
    files.save_image(img, tmp_path / "a.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), img)
    files.save_image(img, tmp_path / "a.JPG")
    assert Image.open(tmp_path / "a.JPG").format == "JPEG"
    with pytest.raises(ValueError, match="unsupported output format '.gif'"):
        files.save_image(img, tmp_path / "a.gif")
    assert sorted(os.listdir(tmp_path)) == ["a.JPG", "a.png"]


def test_save_image_keeps_an_alpha_channel_where_the_format_can(tmp_path):
    img = np.zeros((4, 6, 4), np.uint8)
    img[..., 3] = 255
    img[:, :2, 3] = 0
    for ext in (".png", ".webp", ".tiff"):
        assert files.keeps_transparency(f"a{ext}")
    files.save_image(img, tmp_path / "a.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), img)
    assert not files.keeps_transparency("a.jpg") and not files.keeps_transparency("a.bmp")
    with pytest.raises(ValueError, match="JPEG cannot store transparency"):
        files.save_image(img, tmp_path / "a.jpg")
    assert sorted(os.listdir(tmp_path)) == ["a.png"]


def test_save_image_writes_a_profile_and_exif_where_the_format_stores_them(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "tfface-test"
    profile = b"not checked by Pillow"  # stored as given
    img = np.zeros((4, 6, 3), np.uint8)
    for ext in (".jpg", ".png", ".webp"):
        files.save_image(img, tmp_path / f"a{ext}", icc_profile=profile, exif=exif.tobytes())
        with Image.open(tmp_path / f"a{ext}") as back:
            assert back.info.get("icc_profile") == profile and back.getexif().get(0x010F) == "tfface-test", ext
    files.save_image(img, tmp_path / "a.bmp", icc_profile=profile, exif=exif.tobytes())  # BMP stores neither
    assert Image.open(tmp_path / "a.bmp").size == (6, 4)


def test_temporaries_of_dead_processes_are_cleaned_on_the_next_build(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".1.tmp-{dead.pid}"
    (stale / "variables").mkdir(parents=True)
    (tmp_path / f".x.json.tmp-{dead.pid}").write_text("half")
    (tmp_path / f".y.json.tmp-{dead.pid}-140245").write_text("half")  # a thread's, as files writes them now
    live = tmp_path / f".2.tmp-{os.getppid()}"  # an export still running in another process
    live.mkdir()
    with files.building_directory(tmp_path / "3") as tmp:
        open(os.path.join(tmp, "saved_model.pb"), "w").close()
    assert sorted(os.listdir(tmp_path)) == sorted(["3", live.name])


def test_threads_writing_one_file_at_once_each_leave_a_whole_file(tmp_path):
    """Two threads of one process (the web demo's, say) replacing the same file: every write succeeds and
    the file is always one of the writes, whole."""
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "shared.bin"
    contents = [bytes([i]) * 2_000_000 for i in range(2)]

    def write(i):
        files.write_bytes(path, contents[i % 2])
        return path.read_bytes() in contents

    with ThreadPoolExecutor(2) as pool:
        whole = list(pool.map(write, range(40)))
    assert all(whole) and path.read_bytes() in contents
    assert os.listdir(tmp_path) == ["shared.bin"], "no temporary left behind"
