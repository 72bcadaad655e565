"""Bundled editors: bundling a run, `tfface pretrained`, chained photo edits and `tfface export --pretrained`."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.training.cli import ROOT, TINY, run
from tfface import pretrained
from tfface.errors import UsageError
from tfface.evaluation.evaluate import evaluate, output_dir
from tfface.evaluation.residual import registry_scores
from tfface.pretrained import building

skimage = pytest.importorskip("skimage.data")
pytest.importorskip("dlib")

from tfface.faces import detect_faces  # noqa: E402
from tfface.editors import KerasEditor  # noqa: E402
from tfface.photo import TFLiteEditor, edit_face, edit_photo  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    """A bundle of one tiny synthetic Eyeglasses editor (32 px, a few steps)."""
    base = tmp_path_factory.mktemp("bundle")
    rd = base / "run"
    proc = run(*TINY, "--steps=6", f"--run_dir={rd}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    # As a run trained with --judge_every leaves it (one judged measurement).
    (rd / "progress.jsonl").write_text(json.dumps({"step": 6, "train_seconds": 36.0, "add": {"flip_rate": 0.25},
                                                   "remove": {"flip_rate": 0.5}}) + "\n")
    d = base / "bundle"
    building.bundle(str(rd), "glasses", recipe="tiny", directory=str(d), variants=("float16",), report_images=4,
                      say=lambda m: None)
    return d


def cli(bundle_dir, *args):
    env = {**os.environ, "TFFACE_PRETRAINED": str(bundle_dir)}
    return subprocess.run([sys.executable, "-m", "tfface", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env=env)


def test_bundle_holds_the_files_and_a_registry_entry(bundle_dir):
    (entry,) = pretrained.entries(str(bundle_dir))
    assert (entry["name"], entry["attribute"], entry["image_size"], entry["steps"], entry["recipe"]) == (
        "glasses", "Eyeglasses", 32, 6, "tiny")
    assert entry["train_seconds"] > 0
    assert sorted(os.listdir(bundle_dir / "glasses")) == ["float16.tflite", "generators.weights.npz", "progress.jsonl",
                                                          "settings.json"]
    listing = cli(bundle_dir, "pretrained")
    assert listing.returncode == 0 and listing.stdout.split()[:3] == ["glasses", "Eyeglasses", "32"]
    # The run's judged progress travels with the bundle, so its curves can be redrawn without the run.
    curves = cli(bundle_dir, "progress", "--pretrained", "glasses")
    assert curves.returncode == 0, curves.stderr[-1000:]
    lines = curves.stdout.splitlines()
    assert lines[0] == "glasses:" and lines[2].split()[:3] == ["6", "0.01", "0.250"], lines
    missing = cli(bundle_dir, "progress", "--pretrained", "sunglasses")
    assert missing.returncode == 2 and "nothing bundled is called 'sunglasses' (editors: glasses" in missing.stderr
    assert cli(bundle_dir, "progress").returncode == 2


def test_bundled_generators_edit_like_the_run(bundle_dir):
    run_ = building.load(pretrained.find("eyeglasses", str(bundle_dir)), str(bundle_dir))
    x = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    from tfface.methods import load_run

    original = load_run(str(bundle_dir.parent / "run"), say=lambda m: None)
    for a, b in ((run_.model.g0, original.model.g0), (run_.model.g1, original.model.g1)):
        assert np.max(np.abs(np.asarray(a(x)) - np.asarray(b(x)))) < 0.02, "float16 weights, same editor"


def test_chained_edits_add_each_residual_in_turn_and_touch_only_the_face(bundle_dir, tmp_path):
    photo = skimage.astronaut()
    src = tmp_path / "astronaut.png"
    Image.fromarray(photo).save(src)
    out = tmp_path / "out.png"
    # The command runs the bundled float16 TFLite files, without starting TensorFlow.
    code = ("import sys; from tfface import cli; c = cli.main(sys.argv[1:]); "
            "print('TF' if 'tensorflow' in sys.modules else 'no TF'); sys.exit(c)")
    proc = subprocess.run([sys.executable, "-c", code, "edit", "--input", str(src), "--output", str(out), "--add",
                           "Eyeglasses", "--remove", "eyeglasses", "--strength", "30"], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, env={**os.environ, "TFFACE_PRETRAINED": str(bundle_dir)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["no", "TF"]
    edited = np.asarray(Image.open(out))
    # The same chain in-process: the CLI applied add, then remove to add's result.
    lite = str(bundle_dir / "glasses" / "float16.tflite")
    add, remove = TFLiteEditor(lite, "add"), TFLiteEditor(lite, "remove")
    chained, n = edit_photo(photo, [add, remove], strength=30.0)
    assert n == 1 and np.array_equal(edited, chained)
    # The TFLite files are the bundled Keras generators.
    run_ = building.load(pretrained.entries(str(bundle_dir))[0], str(bundle_dir))
    face = np.random.default_rng(3).uniform(0, 1, (32, 32, 3)).astype(np.float32)
    for lite_editor, g in ((add, run_.model.g0), (remove, run_.model.g1)):
        assert np.max(np.abs(lite_editor.residual(face, 1.0) - KerasEditor(g, 32).residual(face, 1.0))) < 1e-4
    add_only, _ = edit_photo(photo, add, strength=30.0)
    assert not np.array_equal(chained, add_only), "the second edit changed the first's result"
    (box, left, right), = detect_faces(photo)
    _, (x0, y0, x1, y1) = edit_face(photo, add, left, right, 30.0)
    changed = np.abs(chained.astype(int) - photo).max(axis=-1) > 0
    assert changed[y0:y1, x0:x1].sum() > 200
    changed[y0:y1, x0:x1] = False
    assert not changed.any(), "pixels outside the face region changed"


def test_a_recommended_strength_scales_the_bundled_edits_and_brings_its_val_scores(bundle_dir, tmp_path):
    d = tmp_path / "bundle"
    shutil.copytree(bundle_dir, d)
    rd = str(bundle_dir.parent / "run")
    with pytest.raises(UsageError, match=r"no evaluation of step 6 at strength 0.5: run tfface evaluate --run_dir .* "
                                         r"--strength 0.5"):
        building.recommend("glasses", rd, {"add": 0.5}, str(d))
    scores = {}
    for s, n in ((1.0, 6), (0.5, 4)):  # told apart by their image counts
        evaluate(rd, images=n, strength=s, say=lambda m: None)
        with open(os.path.join(output_dir(rd, s), "metrics.json")) as f:
            scores[s] = registry_scores(json.load(f))
    entry = building.bundle(rd, "glasses", recipe="tiny", directory=str(d), variants=("float16",), report_images=4,
                            say=lambda m: None, strength={"add": 0.5})
    assert entry["strength"] == {"add": 0.5, "remove": 1.0} and pretrained.find("glasses", str(d)) == entry
    assert entry["val"]["images"] == {"add": 4, "remove": 6}
    assert entry["val"]["add"] == scores[0.5]["add"] and entry["val"]["remove"] == scores[1.0]["remove"]
    assert "(at strength 0.5)" in cli(d, "pretrained").stdout
    # tfface edit applies it: --strength 1 adds half the residual, as the raw TFLite model at strength 0.5.
    photo = skimage.astronaut()
    src, out = tmp_path / "astronaut.png", tmp_path / "out.png"
    Image.fromarray(photo).save(src)
    proc = cli(d, "edit", "--input", str(src), "--output", str(out), "--add", "Eyeglasses", "--strength", "40")
    assert proc.returncode == 0, proc.stderr[-2000:]
    raw = TFLiteEditor(str(d / "glasses" / "float16.tflite"), "add")
    want, _ = edit_photo(photo, raw, strength=20.0)
    assert np.array_equal(np.asarray(Image.open(out)), want)
    assert not np.array_equal(want, edit_photo(photo, raw, strength=40.0)[0])
    keras = building.keras_editors(entry, str(d))["add"]
    face = np.random.default_rng(4).uniform(0, 1, (32, 32, 3)).astype(np.float32)
    assert np.max(np.abs(keras.residual(face, 2.0) - raw.residual(face, 1.0))) < 1e-4


def test_a_composite_editor_takes_one_direction_from_another_run_with_its_own_settings(bundle_dir, tmp_path):
    d = tmp_path / "bundle"
    shutil.copytree(bundle_dir, d)
    other = tmp_path / "reflect"  # another run of the attribute, with another model setting
    proc = run(*TINY, "--steps=4", "--seed=1", "--g_padding=reflect", f"--run_dir={other}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    (other / "progress.jsonl").write_text(json.dumps({"step": 4, "train_seconds": 20.0, "add": {"flip_rate": 0.1},
                                                      "remove": {"flip_rate": 0.75}}) + "\n")
    with pytest.raises(UsageError, match=r"no evaluation of step 4 at strength 1: run tfface evaluate"):
        building.compose("glasses", "remove", str(other), "tiny_reflect", str(d), say=lambda m: None)
    assert pretrained.find("glasses", str(d)) == pretrained.find("glasses", str(bundle_dir)), "refused, untouched"
    evaluate(str(other), images=4, say=lambda m: None)
    with open(os.path.join(output_dir(str(other), 1.0), "metrics.json")) as f:
        scores = registry_scores(json.load(f))
    entry = building.compose("glasses", "remove", str(other), "tiny_reflect", str(d), variants=("float16",),
                             report_images=4, say=lambda m: None)
    assert pretrained.find("glasses", str(d)) == entry
    assert (entry["recipe"], entry["steps"]) == ("tiny", 6), "G0's run"
    assert {k: entry["remove_from"][k] for k in ("recipe", "steps", "evaluated_step")} == {
        "recipe": "tiny_reflect", "steps": 4, "evaluated_step": 4}
    assert entry["val"]["remove"] == scores["remove"] and entry["val"]["images"]["remove"] == 4
    assert "remove" in entry["files"]
    settings = {k: json.loads((d / "glasses" / sub / "settings.json").read_text())["g_padding"]
                for k, sub in (("add", ""), ("remove", "remove"))}
    assert settings == {"add": "zeros", "remove": "reflect"}
    # G0 edits as the bundled run's, G1 as the other run's; the TFLite file and the SavedModel are the composite.
    from tfface.methods import load_run

    composite = building.load(entry, str(d))
    first, second = (load_run(str(r), say=lambda m: None) for r in (bundle_dir.parent / "run", other))

    def same(a, b):  # the same weights, to float16's precision
        return all(np.allclose(u, v, rtol=2e-3, atol=1e-4) for u, v in zip(a.get_weights(), b.get_weights()))

    assert same(composite.model.g0, first.model.g0) and same(composite.model.g1, second.model.g1)
    assert not same(composite.model.g1, first.model.g1)
    face = np.random.default_rng(6).uniform(0, 1, (32, 32, 3)).astype(np.float32)
    lite = str(d / "glasses" / "float16.tflite")
    for direction, g in (("add", composite.model.g0), ("remove", composite.model.g1)):
        got = TFLiteEditor(lite, direction).residual(face, 1.0)
        assert np.max(np.abs(got - KerasEditor(g, 32).residual(face, 1.0))) < 1e-4
    exported = cli(d, "export", "--pretrained", "glasses", "--out", str(tmp_path / "export"))
    assert exported.returncode == 0, exported.stderr[-2000:]
    listing = cli(d, "pretrained")
    assert "recipe tiny (remove: tiny_reflect)" in listing.stdout
    curves = cli(d, "progress", "--pretrained", "glasses")
    assert curves.returncode == 0, curves.stderr[-1000:]
    assert "glasses:" in curves.stdout.splitlines() and "glasses (remove):" in curves.stdout.splitlines()
    # Putting G0 back from its own run again keeps the composite's G1.
    evaluate(str(bundle_dir.parent / "run"), images=6, say=lambda m: None)  # as the strength test does
    again = building.compose("glasses", "add", str(bundle_dir.parent / "run"), "tiny", str(d), variants=("float16",),
                             report_images=4, say=lambda m: None)
    assert again["remove_from"] == entry["remove_from"] and again["val"]["remove"] == entry["val"]["remove"]
    assert json.loads((d / "glasses" / "remove" / "settings.json").read_text())["g_padding"] == "reflect"
    wrong = tmp_path / "mouth"
    proc = run(*TINY, "--steps=2", "--attribute=Mouth_Slightly_Open", f"--run_dir={wrong}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    with pytest.raises(UsageError, match="trained a residual editor of Mouth_Slightly_Open at 32 px, not a residual "
                                         "editor of Eyeglasses"):
        building.compose("glasses", "add", str(wrong), "tiny", str(d), say=lambda m: None)


def test_edit_names_what_is_bundled_when_an_attribute_is_not(bundle_dir, tmp_path):
    photo = tmp_path / "p.png"
    Image.fromarray(skimage.astronaut()).save(photo)
    proc = cli(bundle_dir, "edit", "--input", str(photo), "--output", str(tmp_path / "o.png"), "--add", "Wings")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("tfface edit: error: no bundled editor for 'Wings' (bundled: glasses (Eyeglasses)); "
                                   "train one with tfface train --recipe, or pass --model")
    assert not (tmp_path / "o.png").exists()


def test_export_pretrained_writes_a_serving_savedmodel_of_the_bundled_editor(bundle_dir, tmp_path):
    proc = cli(bundle_dir, "export", "--pretrained", "glasses", "--out", str(tmp_path / "export"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    version = tmp_path / "export" / "glasses" / "1"
    import tensorflow as tf

    loaded = tf.saved_model.load(str(version))
    images = np.random.default_rng(2).uniform(0, 1, (2, 32, 32, 3)).astype(np.float32)
    got = loaded.signatures["remove_tensor"](images=tf.constant(images), strength=tf.ones([2]))["edited"].numpy()
    g1 = building.load(pretrained.entries(str(bundle_dir))[0], str(bundle_dir)).model.g1
    want = np.clip((np.asarray(g1(images * 2 - 1)) + 1) / 2, 0, 1)
    assert np.max(np.abs(got - want)) < 1e-4
    meta = json.loads((version / "assets.extra" / "tfface.json").read_text())
    assert meta["attribute"] == "Eyeglasses" and meta["image_size"] == 32
    refused = cli(bundle_dir, "export", "--pretrained", "glasses", "--formats", "saved_model,tflite", "--out",
                  str(tmp_path / "e2"))
    assert refused.returncode == 2 and "TFLite models ship beside it" in refused.stderr


# -- an iterative GAN in the same bundle ---------------------------------------------------------
@pytest.fixture(scope="module")
def iterative_bundle(bundle_dir):
    """A tiny synthetic iterative GAN (32 px, a few steps), bundled beside the editor as "faces"."""
    rd = bundle_dir.parent / "iterative_run"
    proc = run(*TINY, "--method=iterative", "--z_dim=8", "--steps=4", "--baseline_steps=0", f"--run_dir={rd}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    entry = building.bundle(str(rd), "faces", recipe="tiny_iterative", directory=str(bundle_dir), variants=("float16",),
                            report_images=4, say=lambda m: None)
    return bundle_dir, rd, entry


def test_an_iterative_gan_is_bundled_beside_the_editors_with_all_its_networks(iterative_bundle):
    from tfface.data import synthetic

    d, rd, entry = iterative_bundle
    assert [e["name"] for e in pretrained.entries(str(d))] == ["glasses"]  # tfface edit's editors are unchanged
    (it,) = pretrained.iterative_entries(str(d))
    assert it == entry and it["attributes"] == list(synthetic.ATTRIBUTES) and it["z_dim"] == 8 and it["steps"] == 4
    assert sorted(os.listdir(d / "faces")) == ["float16.tflite", "networks.weights.npz", "settings.json"]
    # Encoding (D, C) and drawing (G) come back from the float16 weights as the run has them.
    from tfface.methods import load_run

    x = synthetic.render(np.arange(3), synthetic.sample_attributes(np.arange(3)), 32)
    bundled, original = building.load(it, str(d)).editor(), load_run(str(rd), say=lambda m: None).editor()
    assert np.max(np.abs(bundled.recognize(x) - original.recognize(x))) < 0.02
    diff = np.abs(bundled.transform(x, {"Smiling": 1}).astype(int) - original.transform(x, {"Smiling": 1}))
    assert np.mean(diff) < 2 and bundled.attribute_names == synthetic.ATTRIBUTES
    listing = cli(d, "pretrained").stdout.splitlines()
    assert listing[0].split()[:2] == ["glasses", "Eyeglasses"]
    assert listing[1].startswith("faces") and "iterative GAN" in listing[1] and "8 attributes: Eyeglasses" in listing[1]


def test_iterative_commands_take_a_bundled_gan(iterative_bundle, tmp_path):
    from tfface.data import synthetic

    d, _, _ = iterative_bundle
    face = tmp_path / "face.png"
    Image.fromarray(synthetic.render([7], synthetic.sample_attributes([7]), 64)[0]).save(face)
    grid = tmp_path / "grid.png"
    proc = cli(d, "iterative", "transform", "--pretrained", "faces", str(face), "--aligned", "--set", "Smiling=1",
               "--output", str(grid))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert Image.open(grid).size[0] >= 64
    recognized = cli(d, "iterative", "recognize", "--pretrained", "FACES", str(face))
    assert recognized.returncode == 0 and recognized.stdout.startswith(str(face))
    # Without --run_dir and --pretrained, the one bundled iterative GAN, as tfface edit takes the bundled editor.
    default = cli(d, "iterative", "recognize", str(face))
    assert default.returncode == 0 and default.stdout == recognized.stdout, default.stderr[-2000:]
    for args, message in ((["--pretrained", "gan"], "no bundled iterative GAN 'gan' (bundled: faces)"),
                          (["--pretrained", "faces", "--run_dir", str(tmp_path)],
                           "give one of --run_dir (an iterative run) or --pretrained NAME"),
                          (["--pretrained", "glasses"], "no bundled iterative GAN 'glasses'")):
        bad = cli(d, "iterative", "recognize", *args, str(face))
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    # Its TF Serving SavedModel, as for an editor.
    out = cli(d, "export", "--pretrained", "faces", "--out", str(tmp_path / "export"))
    assert out.returncode == 0, out.stderr[-2000:]
    meta = json.loads((tmp_path / "export" / "faces" / "1" / "assets.extra" / "tfface.json").read_text())
    assert meta["attribute_names"] == list(synthetic.ATTRIBUTES)
