import numpy as np
import pytest

from tests.data.fixtures import random_rgb, write_bad_files
from tfface.data import images


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return write_bad_files(str(tmp_path_factory.mktemp("bad")))


SKIPPED = {"empty": "empty", "not_an_image": "not_an_image", "truncated": "truncated", "too_large": "too_large"}
USABLE = ["good", "grayscale", "palette", "rgba", "cmyk", "png16_rgb", "png16_gray", "exif_rotated", "corrupt_passes_scan",
          "truncated_with_end_marker"]


@pytest.mark.parametrize("kind,reason", sorted(SKIPPED.items()))
def test_inspect_classifies_broken_files(bad, kind, reason):
    assert images.inspect_image(bad[kind]) == reason


@pytest.mark.parametrize("kind", USABLE)
def test_inspect_accepts_odd_but_valid_files(bad, kind):
    assert images.inspect_image(bad[kind]) is None


@pytest.mark.parametrize("kind,reason", sorted(SKIPPED.items()) + [("corrupt_passes_scan", "truncated"),
                                                                    ("truncated_with_end_marker", "truncated")])
def test_load_raises_bad_image_error_naming_the_file(bad, kind, reason):
    with pytest.raises(images.BadImageError) as e:
        images.load_image(bad[kind], 32)
    assert e.value.reason == reason and bad[kind] in str(e.value)


def test_odd_formats_decode_to_rgb(bad):
    rgb = random_rgb(40, 30)
    np.testing.assert_array_equal(images.load_image(bad["good"]), rgb)
    np.testing.assert_array_equal(images.load_image(bad["png16_rgb"]), rgb)  # 16-bit scaled, not clipped
    g16 = images.load_image(bad["png16_gray"])
    np.testing.assert_array_equal(g16[..., 0], rgb[..., 1])
    gray = images.load_image(bad["grayscale"])
    assert gray.shape == (40, 30, 3) and (gray[..., 0] == gray[..., 2]).all()
    np.testing.assert_array_equal(gray[..., 0], rgb[..., 0])
    assert images.load_image(bad["palette"]).shape == (40, 30, 3)
    rgba = images.load_image(bad["rgba"])
    assert (rgba[:, :15] == 255).all(), "transparent pixels are composited on white"
    np.testing.assert_array_equal(rgba[:, 15:], rgb[:, 15:])
    cmyk = images.load_image(bad["cmyk"])
    assert cmyk.shape == (40, 30, 3)
    assert cmyk[..., 0].mean() > 200 and cmyk[..., 1:].mean() < 60, "CMYK (0,255,255,0) is red"


def test_load_photo_keeps_the_transparency_apart(tmp_path, bad):
    from PIL import Image

    rgb = random_rgb(40, 30)
    alpha = np.full((40, 30), 255, np.uint8)
    alpha[:, :10], alpha[:, 10:15] = 0, 128  # transparent, then half-transparent
    path = str(tmp_path / "cutout.png")
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(path)
    photo = images.load_photo(path)
    seen, own = photo.rgb, photo.rgba
    # What the detector and the editors see is load_image's composite on white; the photo's own pixels come apart.
    np.testing.assert_array_equal(seen, images.load_image(path))
    assert (seen[:, :10] == 255).all()
    np.testing.assert_array_equal(own, np.dstack([rgb, alpha]))
    # A palette image with a transparent index, and grey with alpha, carry transparency too.
    pal = Image.fromarray(rgb).convert("P")
    pal.info["transparency"] = int(np.asarray(pal)[0, 0])
    pal.save(tmp_path / "pal.png", transparency=pal.info["transparency"])
    assert images.load_photo(str(tmp_path / "pal.png")).rgba[0, 0, 3] == 0
    Image.fromarray(np.dstack([rgb[..., 0], alpha]), "LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(images.load_photo(str(tmp_path / "la.png")).rgba[..., 3], alpha)
    # Opaque files have none.
    for kind in ("good", "grayscale", "cmyk", "png16_rgb", "exif_rotated"):
        photo = images.load_photo(bad[kind])
        assert photo.rgba is None
        np.testing.assert_array_equal(photo.rgb, images.load_image(bad[kind]))
    with pytest.raises(images.BadImageError) as e:
        images.load_photo(bad["truncated"])
    assert e.value.reason == "truncated"


def test_load_photo_keeps_an_rgb_colour_profile_and_the_exif_without_its_orientation(tmp_path):
    from PIL import Image, ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: rotate 90 degrees clockwise to show
    exif[0x010F] = "tfface-test"  # the camera's maker
    path = str(tmp_path / "phone.jpg")
    Image.fromarray(random_rgb(20, 40)).save(path, exif=exif.tobytes(), icc_profile=profile)
    photo = images.load_photo(path)
    assert photo.rgb.shape == (40, 20, 3) and photo.icc_profile == profile
    kept = Image.Exif()
    kept.load(photo.exif)
    assert kept.get(0x010F) == "tfface-test" and 0x0112 not in kept, "upright pixels: the orientation goes"
    # A profile of other colours (CMYK, grey) no longer describes the RGB pixels and is left out.
    grey = str(tmp_path / "grey.png")
    Image.fromarray(random_rgb(8, 8)[..., 0]).save(grey, icc_profile=ImageCms.ImageCmsProfile(
        ImageCms.createProfile("LAB")).tobytes())
    assert images.load_photo(grey).icc_profile is None
    plain = str(tmp_path / "plain.png")
    Image.fromarray(random_rgb(8, 8)).save(plain)
    assert images.load_photo(plain).icc_profile is None and images.load_photo(plain).exif is None


def test_exif_orientation_is_applied(bad):
    img = images.load_image(bad["exif_rotated"])
    assert img.shape == (40, 20, 3), "40x20 stored, rotated 90 degrees to 20 wide x 40 high"
    top, bottom = img[:15].reshape(-1, 3).mean(0), img[25:].reshape(-1, 3).mean(0)
    assert top[0] > 200 and top[2] < 60, "the left (red) half is on top after rotating clockwise"
    assert bottom[2] > 200 and bottom[0] < 60


def test_crop_and_resize(tmp_path):
    from PIL import Image

    arr = np.zeros((218, 178, 3), np.uint8)
    arr[20:198] = 200  # the central 178x178 square is bright, the bands dark
    path = str(tmp_path / "crop.png")
    Image.fromarray(arr).save(path)
    out = images.load_image(path, 64, crop=178)
    assert out.shape == (64, 64, 3) and out.min() >= 195
    assert images.center_square(178, 218, 178) == (0, 20, 178, 198)
    assert images.center_square(300, 200) == (50, 0, 250, 200)


def test_scan_counts_each_reason_once_and_keeps_order(bad):
    paths = list(bad.values())
    good, log = images.scan(paths + paths)
    assert good == [p for p in paths + paths if images.inspect_image(p) is None]
    assert log.counts == {"empty": 1, "not_an_image": 1, "truncated": 1, "too_large": 1}
    s = log.summary()
    assert s.startswith("skipped 4 bad images:") and "truncated=1" in s and "\n" not in s


def test_scan_strict_names_the_first_bad_file(bad):
    with pytest.raises(images.BadImageError, match="empty.jpg: zero-byte file"):
        images.scan([bad["good"], bad["empty"], bad["truncated"]], strict=True)


def test_list_images_missing_directory_is_one_line_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="image directory not found: .*nope"):
        images.list_images(str(tmp_path / "nope"))
