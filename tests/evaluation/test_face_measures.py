import numpy as np
import pytest

pytest.importorskip("dlib")
skimage = pytest.importorskip("skimage.data")

from tfface.evaluation import face_measures as faces  # noqa: E402


def test_normalized_errors_known_shift():
    truth = np.array([[[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]]], np.float64)  # inter-ocular 20
    eye, rest = faces.normalized_errors(truth + [2, 0], truth)
    assert eye[0] == pytest.approx(0.1) and rest[0] == pytest.approx(0.1)
    eye, rest = faces.normalized_errors(truth, truth)
    assert eye[0] == 0 and rest[0] == 0


def test_five_points_from_68():
    lm = np.zeros((1, 68, 2))
    lm[0, 36:42] = [1, 1]
    lm[0, 42:48] = [5, 1]
    lm[0, 30] = [3, 3]
    lm[0, 48] = [2, 5]
    lm[0, 54] = [4, 5]
    np.testing.assert_array_equal(faces.five_points(lm)[0], [[1, 1], [5, 1], [3, 3], [2, 5], [4, 5]])


def test_identity_distance_known_answers(monkeypatch):
    face = np.asarray(__import__("PIL.Image", fromlist=["Image"]).fromarray(skimage.astronaut()[30:230, 120:320]).resize((128, 128)))
    same = faces.identity_distances(face[None], face[None])
    assert same[0] == pytest.approx(0.0, abs=1e-6)
    noisy = np.clip(face.astype(int) + np.random.default_rng(0).integers(-6, 7, face.shape), 0, 255).astype(np.uint8)
    assert faces.identity_distances(face[None], noisy[None])[0] < faces.IDENTITY_THRESHOLD
    from tfface.data import synthetic

    cartoon = synthetic.render([1], synthetic.sample_attributes([1]), 128)
    assert faces.identity_distances(face[None], cartoon)[0] > faces.IDENTITY_THRESHOLD
    # One reference for several edits gives each pair's own distance, embedding the inputs once.
    calls = []
    real = faces.embeddings
    monkeypatch.setattr(faces, "embeddings", lambda images, rects=None: calls.append(len(images)) or real(images, rects))
    ref = faces.IdentityReference(np.stack([face, face]))
    np.testing.assert_allclose(ref.distances(np.stack([noisy, cartoon[0]])),
                               [faces.identity_distances(face[None], noisy[None])[0],
                                faces.identity_distances(face[None], cartoon)[0]], atol=1e-6)
    np.testing.assert_allclose(ref.distances(np.stack([face, face])), [0, 0], atol=1e-6)
    # The reference's inputs once, its first edits, identity_distances' two pairs (both sides each time), its second edits.
    assert calls == [2, 2, 1, 1, 1, 1, 2]
    with pytest.raises(ValueError, match="1 edits for 2 inputs"):
        ref.distances(face[None])


def test_landmarks_follow_a_known_shift():
    from PIL import Image

    face = np.asarray(Image.fromarray(skimage.astronaut()[30:230, 120:320]).resize((128, 128)))
    lm, rects = faces.landmarks68(face[None])
    shifted = np.roll(face, 6, axis=1)
    lm2, _ = faces.landmarks68(shifted[None], rects=[rects[0]])
    dx = (lm2 - lm)[0, :, 0]
    assert np.median(dx) == pytest.approx(6, abs=2)
