import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.training.cli import ROOT, TINY, run

skimage = pytest.importorskip("skimage.data")
pytest.importorskip("dlib")

from tfface.export.exporter import export_run  # noqa: E402
from tfface.faces import detect_faces  # noqa: E402
from tfface.editors import load_editor  # noqa: E402
from tfface.photo import edit_face, edit_photo, keep_transparency  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    rd = tmp_path_factory.mktemp("edit") / "run"
    assert run(*TINY, "--steps=6", f"--run_dir={rd}").returncode == 0
    return export_run(str(rd), str(rd.parent / "export"), model_name="m", variants=("float32",), report_images=4,
                      say=lambda m: None)


def astronaut():
    return skimage.astronaut()


def edit_cli(*args):
    return subprocess.run([sys.executable, "-m", "tfface", "edit", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_detects_the_astronauts_face():
    faces = detect_faces(astronaut())
    assert len(faces) == 1
    (l, t, r, b), left, right = faces[0]
    assert 150 < l < 240 and 40 < t < 120 and left[0] < right[0]  # her face is upper middle


@pytest.mark.parametrize("kind", ["saved_model", "tflite"])
def test_edit_changes_only_the_face_region(model, kind):
    path = model if kind == "saved_model" else os.path.join(model, "assets.extra", "tflite", "float32.tflite")
    editor = load_editor(path, "add")
    photo = astronaut()
    out, n = edit_photo(photo, editor, strength=40.0)  # a barely trained model: amplify its residual
    assert n == 1 and out.shape == photo.shape and out.dtype == np.uint8
    changed = np.abs(out.astype(int) - photo).max(axis=-1) > 0
    assert changed.sum() > 500
    (box, left, right), = detect_faces(photo)
    _, (x0, y0, x1, y1) = edit_face(photo, editor, left, right, 40.0)
    outside = changed.copy()
    outside[y0:y1, x0:x1] = False
    assert not outside.any(), "pixels outside the face region changed"
    # The region is the aligned crop around the face, not the whole photo.
    assert (x1 - x0) * (y1 - y0) < 0.5 * photo.shape[0] * photo.shape[1]


def test_zero_strength_is_the_identity(model):
    out, _ = edit_photo(astronaut(), load_editor(model), strength=0.0)
    np.testing.assert_array_equal(out, astronaut())


def test_all_faces(model):
    two = np.concatenate([astronaut(), astronaut()[:, ::-1]], axis=1)
    editor = load_editor(model)
    one_edit, n = edit_photo(two, editor, strength=40.0)
    both, _ = edit_photo(two, editor, strength=40.0, all_faces=True)
    assert n == 2
    half = two.shape[1] // 2
    changed_one = np.abs(one_edit.astype(int) - two).max(-1) > 0
    changed_both = np.abs(both.astype(int) - two).max(-1) > 0
    assert changed_both[:, :half].any() and changed_both[:, half:].any()
    assert changed_one[:, :half].any() != changed_one[:, half:].any()


def test_command_line(model, tmp_path):
    src = tmp_path / "astronaut.jpg"
    Image.fromarray(astronaut()).save(src, quality=95)
    out = tmp_path / "out.png"
    p = edit_cli("--model", model, "--input", str(src), "--output", str(out), "--strength", "2")
    assert p.returncode == 0, p.stderr[-2000:]
    assert Image.open(out).size == (512, 512)
    before = out.read_bytes()
    again = edit_cli("--model", model, "--input", str(src), "--output", str(out))
    assert again.returncode == 2 and "exists; pass --overwrite" in again.stderr and out.read_bytes() == before
    same = edit_cli("--model", model, "--input", str(src), "--output", str(src))
    assert same.returncode == 2 and "must differ from --input" in same.stderr
    # The same file by another name (a symlinked directory) is refused too, even with --overwrite.
    (tmp_path / "link").symlink_to(tmp_path)
    before = src.read_bytes()
    linked = edit_cli("--model", model, "--input", str(tmp_path / "link" / "astronaut.jpg"), "--output", str(src), "--overwrite")
    assert linked.returncode == 2 and "must differ from --input" in linked.stderr and src.read_bytes() == before


def test_no_face_and_bad_input(model, tmp_path):
    noise = tmp_path / "noise.png"
    Image.fromarray((np.random.default_rng(0).random((300, 400, 3)) * 255).astype(np.uint8)).save(noise)
    p = edit_cli("--model", model, "--input", str(noise), "--output", str(tmp_path / "o.png"))
    assert p.returncode == 1 and "no face found in" in p.stderr and not (tmp_path / "o.png").exists()
    junk = tmp_path / "junk.jpg"
    junk.write_text("hello")
    p = edit_cli("--model", model, "--input", str(junk), "--output", str(tmp_path / "o.png"))
    assert p.returncode == 1 and "not an image" in p.stderr
    p = edit_cli("--model", str(tmp_path / "none"), "--input", str(noise), "--output", str(tmp_path / "o.png"))
    assert p.returncode == 1 and "model not found" in p.stderr


def test_celeba_sample_photo(model, celeba_sample):
    photo = np.asarray(Image.open(celeba_sample / "img_align_celeba" / "000017.jpg").convert("RGB"))
    out, n = edit_photo(photo, load_editor(model), strength=40.0)
    assert n >= 1 and out.shape == photo.shape


def test_transparency_comes_back_where_the_edit_changed_nothing():
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = 40  # dark colours...
    rgba[..., 3] = [[0, 128, 255], [255, 255, 255]]  # ...partly transparent
    photo = np.full((2, 3, 3), 200, np.uint8)  # composited on white
    edited = photo.copy()
    edited[1, 2] = (10, 20, 30)
    out = keep_transparency(edited, photo, rgba)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(out[1, 2, :3], (10, 20, 30))
    unchanged = np.ones((2, 3), bool)
    unchanged[1, 2] = False
    np.testing.assert_array_equal(out[..., :3][unchanged], rgba[..., :3][unchanged])


def test_command_line_keeps_a_photos_transparency(model, tmp_path):
    pixels = np.dstack([astronaut(), np.full((512, 512), 255, np.uint8)])
    pixels[:40, :, 3] = 0  # a transparent band over the top, where there is no face
    pixels[:40, :, :3] = (0, 90, 0)  # hidden green under it
    src = tmp_path / "cutout.png"
    Image.fromarray(pixels, "RGBA").save(src)
    out = tmp_path / "out.png"
    p = edit_cli("--model", model, "--input", str(src), "--output", str(out), "--strength", "40")
    assert p.returncode == 0, p.stderr[-2000:]
    got = np.asarray(Image.open(out))
    assert got.shape == (512, 512, 4)
    np.testing.assert_array_equal(got[..., 3], pixels[..., 3])
    np.testing.assert_array_equal(got[:40], pixels[:40])  # not the white it was composited on
    assert (got != pixels).any(axis=-1).sum() > 500  # and the face was edited
    jpeg = tmp_path / "out.jpg"
    p = edit_cli("--model", model, "--input", str(src), "--output", str(jpeg), "--strength", "40")
    assert p.returncode == 0 and "transparency: JPEG has none" in p.stdout
    assert Image.open(jpeg).mode == "RGB"


def test_command_line_keeps_a_photos_colour_profile_and_exif(model, tmp_path):
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 8  # stored rotated: turn 90 degrees anticlockwise to show
    exif[0x010F] = "tfface-test"
    src = tmp_path / "phone.jpg"
    Image.fromarray(astronaut()[:, ::-1].copy()).transpose(Image.Transpose.ROTATE_270).save(
        src, quality=95, exif=exif.tobytes(), icc_profile=profile)
    out = tmp_path / "out.jpg"
    p = edit_cli("--model", model, "--input", str(src), "--output", str(out), "--strength", "40")
    assert p.returncode == 0 and "edited 1 of 1" in p.stdout, p.stderr[-2000:]
    with Image.open(out) as got:
        assert got.info.get("icc_profile") == profile
        assert got.getexif().get(0x010F) == "tfface-test" and 0x0112 not in got.getexif()
        upright = np.asarray(got)
    # Written upright: away from the face the pixels are the (mirrored) astronaut's, to JPEG's rounding.
    assert np.abs(upright[:60, :60].astype(int) - astronaut()[:60, ::-1][:, :60]).mean() < 4
