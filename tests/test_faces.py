import numpy as np
import pytest

skimage = pytest.importorskip("skimage.data")
dlib = pytest.importorskip("dlib")

from tfface import faces  # noqa: E402


def test_the_cached_detector_finds_what_dlibs_own_finds_and_a_damaged_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    photo = np.concatenate([skimage.astronaut(), skimage.astronaut()[:, ::-1]], axis=1)
    want = dlib.get_frontal_face_detector().run(photo, 1, 0.0)
    first = faces._frontal_face_detector()  # builds and saves
    (saved,) = (tmp_path / "tfface").iterdir()
    loaded = faces._frontal_face_detector()  # loads the saved copy
    for detector in (first, loaded):
        rects, scores, kinds = detector.run(photo, 1, 0.0)
        assert [(r.left(), r.top(), r.right(), r.bottom()) for r in rects] == [
            (r.left(), r.top(), r.right(), r.bottom()) for r in want[0]]
        np.testing.assert_allclose(scores, want[1], rtol=1e-6)
    saved.write_bytes(b"not a detector")
    rebuilt = faces._frontal_face_detector()
    assert len(rebuilt.run(photo, 1, 0.0)[0]) == len(want[0]) and saved.stat().st_size > 100_000


def test_concurrent_detections_each_find_their_own_photos_face():
    """The web demo detects faces for two requests at once: each thread must see its own photo (a shared dlib
    detector scans whichever image was loaded into it last)."""
    from concurrent.futures import ThreadPoolExecutor

    a = skimage.astronaut()
    b = np.ascontiguousarray(np.pad(a, ((0, 0), (200, 0), (0, 0)))[:, :512])  # the face 200 px to the right
    photos = [a, b]
    want = [faces.detect_faces(p)[0][0] for p in photos]
    assert abs(want[1][0] - want[0][0] - 200) < 8

    def box(i):
        found = faces.detect_faces(photos[i % 2])
        return found[0][0] if found else None

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(box, range(40)))
    wrong = [i for i, g in enumerate(got) if g is None or not np.allclose(g, want[i % 2])]
    assert not wrong, f"{len(wrong)} of {len(got)} detections found another photo's face or none"
