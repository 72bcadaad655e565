import base64
import io
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from tests.training.cli import ROOT, TINY, run

EXPORT = os.path.join(ROOT, "export.py")

pytestmark = pytest.mark.slow


def export(*args, timeout=900):
    return subprocess.run([sys.executable, EXPORT, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def residual_run(tmp_path_factory):
    rd = tmp_path_factory.mktemp("res") / "run"
    proc = run(*TINY, "--steps=4", f"--run_dir={rd}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return rd


@pytest.fixture(scope="module")
def exported(residual_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    proc = export(f"--run_dir={residual_run}", f"--out={out}", "--model_name=glasses", "--report_images=8")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / "glasses" / "1"


def png_bytes(arr):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def face(size=96, seed=3):
    from tfface.data import synthetic

    return synthetic.render([seed], synthetic.sample_attributes([seed]), size)[0]


def test_layout_and_report(exported):
    assert (exported / "saved_model.pb").is_file() and (exported / "variables").is_dir()
    meta = json.loads((exported / "assets.extra" / "tfface.json").read_text())
    assert meta["method"] == "residual" and meta["image_size"] == 32 and meta["attribute"] == "Eyeglasses"
    report = json.loads((exported / "assets.extra" / "export_report.json").read_text())
    t = report["tflite"]
    assert set(t) >= {"float32", "float16", "dynamic", "int8"}
    for variant in ("float32", "float16", "dynamic", "int8"):
        assert (exported / t[variant]["file"]).stat().st_size == t[variant]["bytes"] > 0
        for sig in ("add_tensor", "remove_tensor"):
            assert t[variant]["signatures"][sig]["latency_ms_per_image"] > 0
    # Parity with the Keras model on held-out images.
    assert t["float32"]["signatures"]["add_tensor"]["max_abs_error"] < 1e-4
    assert t["float16"]["signatures"]["add_tensor"]["max_abs_error"] < 2e-2
    assert t["dynamic"]["signatures"]["add_tensor"]["psnr_db"] > 25
    assert t["int8"]["signatures"]["add_tensor"]["psnr_db"] > 20
    assert t["int8"]["bytes"] < t["float32"]["bytes"]


def test_fresh_process_without_tfface_runs_every_signature(exported):
    img = png_bytes(face())
    code = textwrap.dedent(f"""
        import sys, json, base64, numpy as np, tensorflow as tf
        m = tf.saved_model.load({str(exported)!r})
        # REST clients send {{"b64": ...}}; the server hands the signature the decoded bytes.
        request = json.loads(json.dumps({{"instances": [{{"b64": {base64.b64encode(img).decode()!r}}}]}}))
        data = tf.constant([base64.b64decode(i["b64"]) for i in request["instances"]])
        out = m.signatures["serving_default"](images=data)
        png = out["edited_png_bytes"].numpy()[0]
        decoded = tf.io.decode_png(png).numpy()
        add = m.signatures["add"](images=data, strength=tf.constant([0.0]))
        rem = m.signatures["remove_tensor"](images=tf.zeros([2, 32, 32, 3]), strength=tf.ones([2]))
        result = dict(shape=list(decoded.shape), edited=list(out["edited"].shape), residual=list(out["residual"].shape),
                      add=list(add["edited_png_bytes"].shape), remove=list(rem["edited"].shape),
                      tfface_imported=any(k.startswith("tfface") for k in sys.modules))
        print(json.dumps(result))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd="/")
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["shape"] == [32, 32, 3] and r["edited"] == [1, 32, 32, 3] and r["residual"] == [1, 32, 32, 3]
    assert r["add"] == [1] and r["remove"] == [2, 32, 32, 3]
    assert r["tfface_imported"] is False


def test_strength_scales_the_residual(exported):
    import tensorflow as tf

    m = tf.saved_model.load(str(exported))
    x = tf.constant(face(32)[None].astype(np.float32) / 255.0)
    zero = m.signatures["add_tensor"](images=x, strength=tf.constant([0.0]))
    half = m.signatures["add_tensor"](images=x, strength=tf.constant([0.5]))
    full = m.signatures["add_tensor"](images=x, strength=tf.constant([1.0]))
    np.testing.assert_allclose(zero["edited"].numpy(), x.numpy(), atol=1e-6)
    np.testing.assert_allclose(half["residual"].numpy(), full["residual"].numpy(), atol=1e-6)
    np.testing.assert_allclose(full["edited"].numpy(), np.clip(x.numpy() + full["residual"].numpy(), 0, 1), atol=1e-5)


@pytest.mark.parametrize("payload,message", [
    (b"", "image bytes are empty"),
    (b"not an image at all", "unsupported image format: JPEG, PNG, GIF, BMP and WebP are accepted"),
    (b"\xff\x0a" + b"\x00" * 64, "unsupported image format"),  # JPEG XL: decodable by TF, header not read: refused
])
def test_bad_bytes_raise_invalid_argument(exported, payload, message):
    import tensorflow as tf

    m = tf.saved_model.load(str(exported))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        m.signatures["serving_default"](images=tf.constant([payload]))


def test_oversized_image_is_refused_before_decoding(exported, tmp_path):
    import tensorflow as tf

    from tests.data.fixtures import write_png_bomb

    write_png_bomb(str(tmp_path / "bomb.png"), side=9000)  # 81 MP, a few KB on disk
    m = tf.saved_model.load(str(exported))
    with pytest.raises(tf.errors.InvalidArgumentError, match="more than 64000000 pixels"):
        m.signatures["serving_default"](images=tf.constant([(tmp_path / "bomb.png").read_bytes()]))


def test_nan_strength_is_refused_and_an_empty_batch_is_empty(exported):
    import tensorflow as tf

    m = tf.saved_model.load(str(exported))
    x = tf.constant(face(32)[None].astype(np.float32) / 255.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="strength must be a finite number"):
        m.signatures["add_tensor"](images=x, strength=tf.constant([float("nan")]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="strength must have one value per image"):
        m.signatures["add_tensor"](images=x, strength=tf.constant([1.0, 1.0]))
    empty = m.signatures["add_tensor"](images=tf.zeros([0, 32, 32, 3]), strength=tf.zeros([0]))
    assert empty["edited"].shape == (0, 32, 32, 3)
    empty = m.signatures["serving_default"](images=tf.constant([], tf.string))
    assert empty["edited_png_bytes"].shape == (0,) and empty["edited"].shape == (0, 32, 32, 3)


def webp_bomb(side=16383):
    """A 38-byte lossless WebP whose header declares side x side pixels."""
    bits = (side - 1) | ((side - 1) << 14)
    chunk = b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 13
    return b"RIFF" + (4 + 8 + len(chunk)).to_bytes(4, "little") + b"WEBP" + b"VP8L" + len(chunk).to_bytes(4, "little") + chunk


def gif_bomb(side=10000):
    """A GIF whose logical screen and only frame declare side x side pixels."""
    wh = side.to_bytes(2, "little") * 2
    return b"GIF89a" + wh + b"\x80\x00\x00" + b"\x00" * 6 + b"," + b"\x00" * 4 + wh + b"\x00\x02\x02\x44\x01\x00;"


SERVE = textwrap.dedent("""
    import resource, sys, tensorflow as tf
    m = tf.saved_model.load(sys.argv[1])
    try:
        m.signatures["serving_default"](images=tf.constant([open(sys.argv[2], "rb").read()]))
        print("ok", end=" ")
    except tf.errors.InvalidArgumentError as e:
        print("refused:" + ("too_large" if "more than 64000000 pixels" in e.message else "other"), end=" ")
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
""")


def test_bombs_in_every_format_are_refused_before_decoding(exported, tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.fromarray(face(96)).save(photo, quality=90)
    peaks = {}
    for name, data in (("webp", webp_bomb()), ("gif", gif_bomb())):
        (tmp_path / name).write_bytes(data)
    assert len(webp_bomb()) == 38
    for name in ("photo.jpg", "webp", "gif"):
        p = subprocess.run([sys.executable, "-c", SERVE, str(exported), str(tmp_path / name)], capture_output=True,
                           text=True, timeout=300, cwd="/")
        assert p.returncode == 0, p.stderr[-2000:]
        verdict, peak = p.stdout.split()
        peaks[name] = (verdict, int(peak))
    assert peaks["photo.jpg"][0] == "ok"
    for name in ("webp", "gif"):
        assert peaks[name][0] == "refused:too_large", peaks
        assert peaks[name][1] < peaks["photo.jpg"][1] + 100, f"peak RSS (MB) {peaks}"


def test_wrong_tensor_shape_is_rejected(exported):
    import tensorflow as tf

    m = tf.saved_model.load(str(exported))
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError, TypeError)):
        m.signatures["add_tensor"](images=tf.zeros([1, 16, 16, 3]), strength=tf.ones([1]))


def test_tflite_runs_with_ai_edge_litert(exported):
    from tfface.litert import Runner

    x = face(32)[None].astype(np.float32) / 255.0
    for variant in ("float32", "int8"):
        r = Runner(str(exported / "assets.extra" / "tflite" / f"{variant}.tflite"), "add_tensor")
        out = r(images=x, strength=np.ones([1]))
        assert out["edited"].shape == (1, 32, 32, 3) and np.isfinite(out["edited"]).all()


def test_existing_version_is_kept_without_overwrite(residual_run, exported):
    out = exported.parent.parent
    before = (exported / "saved_model.pb").read_bytes()
    proc = export(f"--run_dir={residual_run}", f"--out={out}", "--model_name=glasses", "--version=1", "--formats=saved_model")
    assert proc.returncode == 2 and "already exists; pass --overwrite" in proc.stderr
    assert (exported / "saved_model.pb").read_bytes() == before
    nxt = export(f"--run_dir={residual_run}", f"--out={out}", "--model_name=glasses", "--formats=saved_model")
    assert nxt.returncode == 0, nxt.stderr[-2000:]
    assert (exported.parent / "2" / "saved_model.pb").is_file()
    assert not [d for d in os.listdir(out) if d.startswith(".tmp")]


def test_failed_export_leaves_no_partial_version(residual_run, tmp_path, monkeypatch):
    from tfface.export import exporter, tflite

    def boom(*a, **k):
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(tflite, "convert", boom)
    with pytest.raises(RuntimeError, match="conversion failed"):
        exporter.export_run(str(residual_run), str(tmp_path), model_name="m", say=lambda m: None)
    assert os.listdir(tmp_path) == [] or not any(os.listdir(tmp_path / d) for d in os.listdir(tmp_path) if not d.startswith("."))
    assert not [d for d in os.listdir(tmp_path) if d.startswith(".tmp")]
    assert not (tmp_path / "m" / "1").exists()


def test_bad_export_flags(residual_run, tmp_path):
    assert export(f"--out={tmp_path}").returncode == 2
    p = export(f"--run_dir={residual_run}", f"--out={tmp_path}", "--formats=tflite")
    assert p.returncode == 2 and "converted from the SavedModel" in p.stderr
    p = export(f"--run_dir={tmp_path}/missing", f"--out={tmp_path}")
    assert p.returncode == 1 and "not a run directory" in p.stderr


def test_iterative_export_signatures_in_a_fresh_process(tmp_path):
    rd = tmp_path / "it"
    assert run(*TINY, "--method=iterative", "--z_dim=8", "--steps=2", "--baseline_steps=0", f"--run_dir={rd}").returncode == 0
    p = export(f"--run_dir={rd}", f"--out={tmp_path / 'export'}", "--model_name=it", "--tflite_variants=float32,dynamic",
               "--report_images=4")
    assert p.returncode == 0, p.stderr[-3000:]
    path = tmp_path / "export" / "it" / "1"
    img = png_bytes(face())
    code = textwrap.dedent(f"""
        import sys, json, tensorflow as tf
        m = tf.saved_model.load({str(path)!r})
        s = m.signatures
        data = tf.constant([{img!r}, {img!r}])
        keep = -tf.ones([2, 8])
        t = s["serving_default"](images=data, attributes=keep)
        r = s["recognize"](images=data)
        g = s["generate"](z=tf.zeros([3, 8]), attributes=tf.ones([3, 8]))
        print(json.dumps(dict(keys=sorted(s.keys()), image=list(t["image"].shape), png=int(len(t["image_png_bytes"].numpy()[0]) > 0),
                              probs=list(r["probabilities"].shape), gen=list(g["image"].shape),
                              tfface=any(k.startswith("tfface") for k in sys.modules))))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd="/")
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"serving_default", "transform", "recognize", "generate", "transform_tensor", "recognize_tensor"} <= set(r["keys"])
    assert r["image"] == [2, 32, 32, 3] and r["png"] == 1 and r["probs"] == [2, 8] and r["gen"] == [3, 32, 32, 3]
    assert r["tfface"] is False
    report = json.loads((path / "assets.extra" / "export_report.json").read_text())
    assert report["tflite"]["float32"]["signatures"]["transform_tensor"]["max_abs_error"] < 1e-4


@pytest.mark.parametrize("g_padding", ["zeros", "reflect"])
def test_phase_convolution_blocks_export_and_convert_with_the_same_edit(tmp_path, g_padding):
    # The tiny runs above are too narrow for the phase path (tfface/models/upsampling.py): at width 1 both
    # upsampling blocks take it, so this checks the SavedModel and its float32 and int8 TFLite versions,
    # with G's borders padded by zeros or (--g_padding reflect) by their reflection.
    import tensorflow as tf

    from tfface.export import saved_model, tflite
    from tfface.litert import Runner
    from tfface.models.normalization import BatchNormalization
    from tfface.models.upsampling import UpsamplingConv2D
    from tfface.settings import Settings
    from tfface.training.residual_gan import ResidualGAN

    model = ResidualGAN(32, 1.0, g_skips=True, g_padding=g_padding)
    rng = np.random.default_rng(0)
    for layer in model.g0.layers:  # trained-looking statistics and a non-zero residual layer
        if isinstance(layer, BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.3, layer.moving_mean.shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.3, 2.0, layer.moving_variance.shape).astype("float32"))
        if layer.name == "output_conv":
            layer.set_weights([rng.normal(0, 0.05, w.shape).astype("float32") for w in layer.get_weights()])
    assert all(layer.use_phases for layer in model.g0.layers if isinstance(layer, UpsamplingConv2D))
    settings = Settings(image_size=32, width=1.0, g_skips=True, g_padding=g_padding)
    path = str(tmp_path / "sm")
    saved_model.write(saved_model.residual_archive(model, settings), path, {})
    x = np.stack([face(32, seed) for seed in range(4)]).astype(np.float32) / 255.0
    want = np.clip(np.asarray(model.g0(x * 2 - 1, training=False)) / 2 + 0.5, 0, 1)
    assert np.abs(want - x).max() > 0.05, "the edit is not the identity, so the comparison means something"
    loaded = tf.saved_model.load(path)
    got = loaded.signatures["add_tensor"](images=tf.constant(x), strength=tf.ones([4]))["edited"].numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)

    def representative():
        for i in range(4):
            yield "add_tensor", {"images": x[i:i + 1], "strength": np.ones([1], np.float32)}

    for variant, tolerance in (("float32", 1e-4), ("int8", 0.1)):
        blob = tflite.convert(path, ["add_tensor"], variant, representative if variant == "int8" else None)
        out = Runner(blob, "add_tensor")(images=x[:1], strength=np.ones([1], np.float32))["edited"]
        assert np.abs(np.asarray(out) - want[:1]).mean() < tolerance / 4 and np.isfinite(out).all(), variant
