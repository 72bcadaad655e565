import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfface.evaluation.iterative import (AttributeClassifier, baseline_learning_rate, cnn_baseline, hamming_loss,
                                         train_cnn_baseline, z_recovery)
from tfface.methods.iterative import IterativeMethod
from tfface.settings import Settings
from tfface.training import distribution
from tfface.training.iterative_gan import IterativeGAN, flip_one_label, update_counts


@pytest.mark.parametrize("d,g,expected", [
    (0.7, 0.7, (1, 1)),     # balanced
    (1.3, 0.7, (1, 1)),     # within the ratio
    (1.5, 0.7, (2, 1)),     # D's loss more than twice G's: an extra D update
    (3.0, 0.7, (3, 1)),     # 4.3x: two extra
    (70.0, 0.7, (3, 1)),    # capped
    (0.3, 0.7, (1, 2)),     # and vice versa
    (0.01, 0.7, (1, 3)),
    (float("nan"), 0.7, (1, 1)),
    (0.0, 0.7, (1, 1)),
])
def test_update_count_rule(d, g, expected):
    assert update_counts(d, g, ratio=2.0, max_updates=3) == expected


def test_hamming_loss():
    assert hamming_loss(np.array([[0.9, 0.1], [0.4, 0.6]]), np.array([[1, 0], [1, 1]])) == 0.25


class _CodeInPixels:
    """An editor whose G writes z into the first pixels (uint8) and whose C reads them back, or not at all."""

    def __init__(self, z_dim, reads):
        self.model = type("M", (), {"z_dim": z_dim})()
        self.reads = reads

    def generate(self, z, labels=None):
        img = np.zeros((len(z), 16, 16, 3), np.uint8)
        img.reshape(len(z), -1)[:, :z.shape[1]] = np.round((z + 1) * 127.5)
        return img

    def encode(self, images):
        flat = images.reshape(len(images), -1)[:, :self.model.z_dim].astype(np.float32)
        z = flat / 127.5 - 1 if self.reads else np.zeros_like(flat)
        return z, np.zeros((len(images), 2), np.float32)


def test_z_recovery_is_one_for_exact_recovery_and_zero_for_the_constant_guess():
    labels = np.array([[0, 1], [1, 0]], np.float32)
    assert z_recovery(_CodeInPixels(12, reads=True), labels, n=256) > 0.999  # only uint8 rounding is lost
    assert abs(z_recovery(_CodeInPixels(12, reads=False), labels, n=256)) < 0.02


def _tiny(stage=1, schedule=(1, 1)):
    m = IterativeGAN(image_size=32, z_dim=8, n_labels=3, width=0.125)
    m.compile(distribution.make_optimizer(2e-4, 0.5, 0.999), distribution.make_optimizer(2e-4, 0.5, 0.999))
    m.build_optimizers()
    m.stage, m.schedule = stage, schedule
    rng = np.random.default_rng(0)
    batch = (rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32), (rng.random((4, 3)) > 0.5).astype(np.float32),
             rng.uniform(-1, 1, (4, 8)).astype(np.float32), (rng.random((4, 3)) > 0.5).astype(np.float32))
    return m, batch


@pytest.mark.slow
def test_z_loss_stage_one_adds_only_the_latent_code_loss_to_stage_one():
    """--z_loss_stage 1: stage 1's G loss is the plain ACGAN loss plus lambda_z L_z, and L_z is logged."""
    outs = []
    for z_loss_stage in (2, 1):
        keras.utils.set_random_seed(3)
        m, (x, c, z, c_fake) = _tiny(stage=1)
        m.z_loss_stage = z_loss_stage
        outs.append(tf.function(m._g_update)(x, c, z, c_fake))   # same weights and data in both
    plain, with_z = outs
    assert "z" not in plain and "inte" not in with_z and float(with_z["z"]) > 0
    np.testing.assert_allclose(float(with_z["g_loss"]) - float(plain["g_loss"]), m.lambdas[2] * float(with_z["z"]),
                               rtol=1e-4)
    assert "z" in tf.function(m.train_step)((x, c, z, c_fake)), "the step logs L_z in stage 1"


def test_stage_two_adds_the_integrated_loss():
    m1, batch = _tiny(stage=1)
    logs1 = tf.function(m1.train_step)(batch)
    assert "inte" not in logs1 and np.isfinite(float(logs1["g_loss"]))
    m2, batch = _tiny(stage=2)
    logs2 = tf.function(m2.train_step)(batch)
    for k in ("inte", "per", "pix", "z"):
        assert np.isfinite(float(logs2[k])) and float(logs2[k]) > 0
    # Same initial weights and data: stage 2's G loss is stage 1's plus L_inte.
    assert float(logs2["g_loss"]) > float(logs1["g_loss"])


@pytest.mark.parametrize("stage,z_loss_stage", [(1, 2), (2, 2), (1, 1)])
def test_each_update_trains_exactly_what_its_losses_reach(stage, z_loss_stage):
    m, batch = _tiny(stage=stage)
    m.z_loss_stage = z_loss_stage
    z_head = m.c.get_layer("z").kernel
    before = z_head.numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras warns when a trained variable gets no gradient
        tf.function(m.train_step)(batch)
    # Plain ACGAN (stage 1) has no latent-code loss, so C's z head must stay put; L_z trains it in stage 2,
    # or from stage 1 with --z_loss_stage 1.
    assert np.array_equal(z_head.numpy(), before) == (stage < z_loss_stage)


@pytest.mark.parametrize("weight,from_stage,stage,reads", [
    (0.0, 1, 1, False), (1.0, 1, 1, True),      # the paper's weight 1 trains C on G's labels throughout
    (1.0, 2, 1, False), (1.0, 2, 2, True),      # --fake_label_stage 2: only once the integrated loss joins
])
def test_fake_label_weight_and_stage_decide_whether_generated_labels_train_c(weight, from_stage, stage, reads):
    """When C's update does not read the labels G was asked to draw, two D updates that differ only in c_fake
    end equal; when it does, they differ."""
    ends = []
    for flip in (False, True):
        keras.utils.set_random_seed(3)
        m, (x, c, z, c_fake) = _tiny(stage=stage)
        m.fake_label_weight, m.fake_label_stage = weight, from_stage
        if flip:
            c_fake = 1.0 - c_fake
        fakes = m.g([z, c], training=True)  # the same images in both updates (G's own depend on c_fake)
        m.g = lambda zc, training=False, f=fakes: f
        tf.function(m._d_update)(x, c, z, c_fake)
        ends.append(m.c.get_layer("c_logits").kernel.numpy())
    assert np.array_equal(ends[0], ends[1]) == (not reads)


def test_flip_one_label_flips_one_label_per_face_and_the_same_ones_at_the_same_step():
    c = np.random.default_rng(0).random((256, 5)).astype(np.float32)
    flipped = np.asarray(flip_one_label(c, 7))
    changed = ~np.isclose(flipped, c)
    assert (changed.sum(axis=1) == 1).all()
    rows, cols = np.nonzero(changed)
    np.testing.assert_array_equal(flipped[rows, cols], 1.0 - np.round(c[rows, cols]))
    assert len(set(cols)) == 5                            # every label gets flipped somewhere
    np.testing.assert_array_equal(np.asarray(flip_one_label(c, 7)), flipped)       # resumable: a function of the step
    assert not np.array_equal(np.asarray(flip_one_label(c, 8)), flipped)


@pytest.mark.slow
def test_lambda_edit_trains_the_transformation_of_real_faces_in_stage_two_only():
    """--lambda_edit adds D and C's judgement of G(z~, c') to G's stage-2 loss, and --lambda_change its
    L1 change from the rebuild; with both at 0 (the paper) neither is computed."""
    logs = {}
    for stage, edit, change in ((2, 0.0, 0.0), (2, 1.0, 0.0), (2, 1.0, 2.0), (1, 1.0, 2.0)):
        keras.utils.set_random_seed(3)
        m, (x, c, z, c_fake) = _tiny(stage=stage)
        m.lambda_edit, m.lambda_change = edit, change
        logs[stage, edit, change] = tf.function(m._g_update)(x, c, z, c_fake)
    assert "edit" not in logs[2, 0.0, 0.0] and "edit" not in logs[1, 1.0, 2.0]
    with_edit, with_change = logs[2, 1.0, 0.0], logs[2, 1.0, 2.0]
    assert float(with_edit["edit"]) > 0 and float(with_edit["change"]) > 0
    # Same weights, data and flips: the change term is all that differs.
    np.testing.assert_allclose(float(with_change["g_loss"]) - float(with_edit["g_loss"]),
                               2.0 * float(with_edit["change"]), rtol=1e-4)


@pytest.mark.slow
def test_lambda_id_adds_the_recognisers_distance_of_the_rebuild_to_gs_stage_two_loss(tmp_path):
    """--lambda_id: G's stage-2 loss gains lambda_id (1 - cos(E(x), E(G(z~, c~)))) for the face recogniser E,
    loaded before training from --identity_model; the paper's loss (0) never loads or calls it."""
    from tests.models.tfjs_fixtures import write_model
    from tfface.errors import DataError
    from tfface.models.face_recognizer import IdentityEmbedder

    path, _ = write_model(str(tmp_path), size=16, name="mobileface")
    logs = {}
    for stage, weight in ((2, 0.0), (2, 3.0), (1, 3.0)):
        keras.utils.set_random_seed(3)
        m, (x, c, z, c_fake) = _tiny(stage=stage)
        m.lambda_id = weight
        IterativeMethod().prepare_training(m, Settings(method="iterative", lambda_id=weight, identity_model=path))
        assert isinstance(m.recognizer, IdentityEmbedder) == bool(weight)
        logs[stage, weight] = tf.function(m._g_update)(x, c, z, c_fake)
        if stage == 2 and weight:
            # train_step frames and embeds x once for all of a step's G updates: the same loss
            keras.utils.set_random_seed(3)
            m, (x, c, z, c_fake) = _tiny(stage=stage)
            m.lambda_id = weight
            IterativeMethod().prepare_training(m, Settings(method="iterative", lambda_id=weight, identity_model=path))
            given = tf.function(m._g_update)(x, c, z, c_fake, m._identity_reference(x))
            assert float(given["g_loss"]) == pytest.approx(float(logs[stage, weight]["g_loss"]), rel=1e-6)
    assert "id" not in logs[2, 0.0] and "id" not in logs[1, 3.0]
    ident = float(logs[2, 3.0]["id"])
    assert 0 < ident < 2
    np.testing.assert_allclose(float(logs[2, 3.0]["g_loss"]) - float(logs[2, 0.0]["g_loss"]), 3.0 * ident, rtol=1e-4)
    m.recognizer = None
    with pytest.raises(DataError, match="cannot read the TF.js model .*absent.json"):
        IterativeMethod().prepare_training(m, Settings(method="iterative", lambda_id=1.0,
                                                       identity_model=str(tmp_path / "absent.json")))


@pytest.mark.slow
def test_d_label_weight_sets_the_label_weight_of_ds_update_alone():
    out = {}
    for label_weight, d_label_weight in ((3.0, None), (1.0, 3.0), (1.0, None)):
        for update in ("_d_update", "_g_update"):
            keras.utils.set_random_seed(5)
            m, (x, c, z, c_fake) = _tiny()
            m.label_weight, m.d_label_weight = label_weight, d_label_weight
            logs = tf.function(getattr(m, update))(x, c, z, c_fake)
            out[label_weight, d_label_weight, update] = float(logs["d_loss" if update == "_d_update" else "g_loss"])
    assert out[1.0, 3.0, "_d_update"] == pytest.approx(out[3.0, None, "_d_update"], rel=1e-5)
    assert out[1.0, 3.0, "_g_update"] == pytest.approx(out[1.0, None, "_g_update"], rel=1e-5)
    assert out[1.0, None, "_d_update"] != pytest.approx(out[3.0, None, "_d_update"], rel=1e-3)


def test_label_weight_scales_the_label_loss_in_both_updates():
    """--label_weight n with the mean over n labels trains exactly as --label_loss sum does (weight 1)."""
    from tfface.losses import iterative as L

    logs = {}
    for reduction, weight in (("mean", 3.0), ("sum", 1.0), ("mean", 1.0)):
        keras.utils.set_random_seed(5)
        m, batch = _tiny()
        m.label_loss, m.label_weight = L.LABEL_LOSSES[reduction], weight
        out = tf.function(m.train_step)(batch)
        logs[reduction, weight] = np.array([float(out["d_loss"]), float(out["g_loss"])])
    np.testing.assert_allclose(logs["mean", 3.0], logs["sum", 1.0], rtol=1e-5)
    assert not np.allclose(logs["mean", 1.0], logs["sum", 1.0], rtol=1e-3)


def test_cnn_baseline_trains_without_unused_heads():
    clf = AttributeClassifier(32, 3, width=0.125)
    clf.compile(distribution.make_optimizer(2e-4, 0.5, 0.999))
    _, (x, c, _, _) = _tiny()
    source = clf.d.get_layer("source").kernel.numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = float(tf.function(clf.train_step)((x, c))["label_loss"])
        for _ in range(5):
            last = float(tf.function(clf.train_step)((x, c))["label_loss"])
    assert last < first and np.array_equal(clf.d.get_layer("source").kernel.numpy(), source)


def test_d_width_sets_d_and_c_apart_from_g_and_the_cnn_baseline_follows():
    wide_g = IterativeGAN(image_size=32, z_dim=8, n_labels=3, width=0.25, d_width=0.125)
    same = IterativeGAN(image_size=32, z_dim=8, n_labels=3, width=0.125)
    assert wide_g.g.count_params() > 3 * same.g.count_params()
    assert (wide_g.d.count_params(), wide_g.c.count_params()) == (same.d.count_params(), same.c.count_params())
    assert IterativeGAN.from_config(wide_g.get_config()).g.count_params() == wide_g.g.count_params()
    # The CNN baseline is "the same D trunk" as the run's: D's width, not G's.
    clf = cnn_baseline(Settings(method="iterative", image_size=32, width=0.25, d_width=0.125), 3)
    assert clf.d.count_params() == same.d.count_params()


@pytest.mark.slow
def test_schedule_controls_the_number_of_updates():
    m, batch = _tiny(schedule=(3, 1))
    tf.function(m.train_step)(batch)
    assert int(m.d_optimizer.iterations.numpy()) == 3 and int(m.g_optimizer.iterations.numpy()) == 1
    m, batch = _tiny(schedule=(1, 2))
    tf.function(m.train_step)(batch)
    assert int(m.d_optimizer.iterations.numpy()) == 1 and int(m.g_optimizer.iterations.numpy()) == 2


@pytest.mark.slow
def test_fit_dispatch_follows_the_losses():
    # With update_ratio 1.01 almost any imbalance of the adversarial losses earns one
    # side extra updates, so a dispatch that ignored the losses (a constant (1, 1)
    # schedule) fails here.
    m, batch = _tiny()
    m.update_ratio, m.max_updates = 1.01, 3
    fn = m.make_train_function(force=True)
    seen = []

    def recording(iterator):
        schedule = m.schedule
        logs = fn(iterator)
        seen.append((schedule, float(logs["step_d_adv"]), float(logs["step_g_adv"])))
        return logs

    m.train_function = recording
    m.make_train_function = lambda force=False: recording
    m.fit(tf.data.Dataset.from_tensors(batch).repeat(), epochs=1, steps_per_epoch=4, verbose=0)
    schedules = [s for s, _, _ in seen]
    assert schedules[0] == (1, 1)
    for (_, d, g), nxt in zip(seen, schedules[1:]):
        assert nxt == update_counts(d / 2.0, g, 1.01, 3), seen
    assert any(s != (1, 1) for s in schedules), seen
    d_it, g_it = int(m.d_optimizer.iterations.numpy()), int(m.g_optimizer.iterations.numpy())
    assert (d_it, g_it) == (sum(s[0] for s in schedules), sum(s[1] for s in schedules))


def test_phases_and_defaults():
    s = IterativeMethod().resolve(Settings(method="iterative", steps=100))
    assert s.stage1_steps == 50 and s.baseline_steps == 100
    assert IterativeMethod().phases(s) == [(50, "stage1"), (100, "stage2")]
    m, _ = _tiny()
    IterativeMethod().enter_phase(m, "stage2")
    assert m.stage == 2 and m.train_function is None


def test_cnn_baseline_learns_at_cs_rate_and_decays_like_the_run():
    # C trains at D's learning rate with the run's decay; the baseline it is compared with gets the same.
    s = Settings(method="iterative", image_size=32, width=0.25, steps=1000, learning_rate=2e-4,
                 d_learning_rate=4e-4, decay_after=0.6, baseline_steps=1000)
    for step in (0, 599, 600, 800, 999, 1000, 1200):
        assert baseline_learning_rate(s, step) == s.learning_rates(step)[1], step
    # Its own step count sets where the decay starts; without --d_learning_rate it is --learning_rate.
    half = s.replace(baseline_steps=500, d_learning_rate=None)
    for step, expected in ((299, 2e-4), (400, 1e-4), (500, 0.0)):
        assert baseline_learning_rate(half, step) == pytest.approx(expected, rel=1e-9, abs=1e-15), step
    # Training follows it step by step: the last of 10 steps (decay from step 6) runs at a quarter of the rate.
    short = s.replace(batch_size=4, baseline_steps=10, synthetic_train_size=32, eval_images=4)
    clf = train_cnn_baseline(IterativeMethod().load_data(short), short)
    assert int(clf.opt.iterations) == 10
    assert float(clf.opt.learning_rate) == pytest.approx(4e-4 * 1 / 4, rel=1e-6)
