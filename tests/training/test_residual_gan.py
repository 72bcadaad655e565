import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfface.losses import penalties
from tfface.losses import residual as L
from tfface.methods.residual import ResidualMethod
from tfface.settings import Settings
from tfface.training import distribution
from tfface.training.residual_gan import ResidualGAN, default_alpha

HERE = os.path.dirname(os.path.abspath(__file__))


def test_paper_presets():
    assert default_alpha("Eyeglasses") == 5e-4 and default_alpha("Male") == 1e-6 and default_alpha("Young") == 1e-6
    s = ResidualMethod().resolve(Settings(attribute="Smiling"))
    assert (s.alpha, s.beta) == (5e-4, pytest.approx(5e-5))
    s = ResidualMethod().resolve(Settings(attribute="Male", alpha=1e-3))
    assert (s.alpha, s.beta) == (1e-3, pytest.approx(1e-4))


@pytest.mark.slow
@pytest.mark.parametrize("config", ["paper", "default"])
def test_mirrored_first_update_matches_single_device(config):
    # Two logical CPUs must be configured before TensorFlow starts: a fresh process.
    proc = subprocess.run([sys.executable, os.path.join(HERE, "mirrored_step.py"), config], capture_output=True, text=True,
                          timeout=300, cwd=os.path.dirname(os.path.dirname(HERE)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    assert r["replicas"] == 2
    assert r["worst_relative_update_difference"] < 1e-3, r
    for k in ("d_loss", "g_loss", "g_pix"):
        assert r["mirrored"][k] == pytest.approx(r["single"][k], rel=1e-4)


@pytest.fixture
def precision():
    yield distribution.set_precision
    distribution.set_precision("float32")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["bfloat16", "float16"])
def test_mixed_precision_step(precision, mode):
    precision(mode)
    m = ResidualGAN(32, 0.125)
    m.compile(distribution.make_optimizer(2e-4, 0.5, 0.999, mode), distribution.make_optimizer(2e-4, 0.5, 0.999, mode))
    m.build_optimizers()
    assert isinstance(m.g_optimizer, keras.optimizers.LossScaleOptimizer) == (mode == "float16")
    assert m.g0.get_layer("block2_conv").compute_dtype == mode
    assert m.g0.get_layer("output_conv").compute_dtype == mode  # the residual too (BENCHMARKS.md)
    assert m.g0.output.dtype == "float32"  # x + r, outputs and losses stay in float32
    x = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
    before = [v.numpy().copy() for v in m.g0.trainable_variables]
    logs = tf.function(m.train_step)((x, x))
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert any(not np.array_equal(a, b.numpy()) for a, b in zip(before, m.g0.trainable_variables))


def test_ablations_change_the_step():
    x = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
    m = ResidualGAN(32, 0.125, dual=False)
    m.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    m.build_optimizers()
    assert float(tf.function(m.train_step)((x, x))["g_dual"]) == 0.0
    m = ResidualGAN(32, 0.125, residual=False)
    assert "x_plus_residual" not in [layer.name for layer in m.g0.layers]


def test_d_width_widens_d_alone_and_survives_the_config():
    m = ResidualGAN(32, 0.25, d_width=0.5)
    same = ResidualGAN(32, 0.25)
    assert m.d.count_params() > 3 * same.d.count_params()
    assert m.g0.count_params() == same.g0.count_params()
    assert ResidualGAN.from_config(m.get_config()).d.count_params() == m.d.count_params()


@pytest.mark.slow
def test_short_run_beats_doing_nothing_on_the_ground_truth(tmp_path):
    # 400 steps at 32 px (about a minute): both directions move the glasses
    # region towards the rendered counterfactual and leave the rest alone.
    from tests.training.cli import run

    rd = tmp_path / "run"
    proc = run("--image_size=32", "--width=0.25", "--steps=400", "--log_every=100", "--sample_every=400",
               "--eval_images=128", "--synthetic_train_size=1024", "--deterministic", f"--run_dir={rd}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((rd / "metrics.json").read_text())
    for direction in ("add", "remove"):
        model, nothing = m[direction]["model"], m[direction]["do_nothing"]
        assert model["psnr_in_mask"] > nothing["psnr_in_mask"] + 0.1, (direction, model, nothing)
        assert model["psnr_outside_mask"] > 33.0, (direction, model)


@pytest.mark.slow
def test_diffaugment_changes_what_d_sees_and_the_step_stays_finite():
    x = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
    steps = {}
    for flag in (False, True):
        keras.utils.set_random_seed(0)
        m = ResidualGAN(32, 0.125)
        m.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), diffaugment=flag)
        m.build_optimizers()
        logs = tf.function(m.train_step)((x, x[::-1]))
        steps[flag] = {k: float(v) for k, v in logs.items()}
        assert all(np.isfinite(v) for v in steps[flag].values())
    assert steps[True]["d_loss"] != steps[False]["d_loss"]
    assert steps[True]["g_pix"] == steps[False]["g_pix"], "the residuals themselves are not augmented"


def test_diffaugment_colour_off_shows_d_the_colours_unchanged():
    """--no_diffaugment_colour: D judges the image translated, colours as they are."""
    from tfface.training.augment import translate

    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32))
    m = ResidualGAN(32, 0.125, d_norm="batch")  # spectral norm's power iteration would move D between calls
    shifted = m.d(translate(x, 1, [0, 0]), training=True)
    for flag in (False, True):
        m.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), diffaugment=True, diffaugment_colour=flag)
        m.build_optimizers()
        seen = m.d_view(x, 1, 0)
        assert np.allclose(seen[0], shifted[0], atol=1e-5) == (not flag), flag


@pytest.mark.slow
def test_r1_flattens_d_around_the_real_images():
    """--r1_gamma: after the same steps, D's verdict on real images moves less under a small
    perturbation (its input gradient on the reals is smaller) than without the penalty."""
    rng = np.random.default_rng(0)
    x0, x1 = (rng.uniform(-1, 1, (8, 32, 32, 3)).astype(np.float32) for _ in range(2))
    x1[:, 12:16] = 0.9  # "the attribute": a bright band
    norms = {}
    for gamma in (0.0, 1000.0):  # a strong penalty, so that 15 steps show it
        keras.utils.set_random_seed(0)
        m = ResidualGAN(32, 0.125)
        m.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5), r1_gamma=gamma)
        m.build_optimizers()
        step = tf.function(m.train_step)
        for _ in range(15):
            logs = step((x0, x1))
        assert all(np.isfinite(float(v)) for v in logs.values())
        assert ("d_r1" in logs) == bool(gamma)
        reals = tf.constant(np.concatenate([x0, x1]))
        with tf.GradientTape() as tape:
            tape.watch(reals)
            logits, _ = m.d(reals, training=False)
            score = -tf.reduce_sum(L.classification_loss(logits, np.repeat([0, 1], 8)))
        norms[gamma] = float(tf.reduce_mean(penalties.r1_penalty(tape.gradient(score, reals))))
    assert norms[1000.0] < 0.5 * norms[0.0], norms


def test_real_class_loss_ignores_the_generated_class():
    """The extra term reads only D's two real classes: a real image that D calls "generated" but
    ranks right among the real classes costs what the 2-class softmax says, whatever its class-2 logit."""
    logits = np.array([[2.0, 0.0, 9.0], [2.0, 0.0, -9.0], [0.0, 3.0, 5.0]], np.float32)
    loss = np.asarray(penalties.real_class_loss(logits, np.array([0, 0, 1])))
    np.testing.assert_allclose(loss, [np.log1p(np.exp(-2.0)), np.log1p(np.exp(-2.0)), np.log1p(np.exp(-3.0))], rtol=1e-5)


@pytest.mark.slow
def test_real_class_weight_adds_the_real_images_term_to_d_loss():
    """--real_class_weight w: D's loss on the first step (same initial weights) is eq. 9's plus w times
    the 2-class loss summed over the 2n real images, averaged over all 4n images D sees."""
    rng = np.random.default_rng(0)
    x0, x1 = (rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32) for _ in range(2))
    x1[:, 12:16] = 0.9
    d_loss, extra = {}, {}
    for weight in (0.0, 3.0):
        keras.utils.set_random_seed(0)
        m = ResidualGAN(32, 0.125)
        m.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5),
                  real_class_weight=weight)
        m.build_optimizers()
        # Before any step: the generators are the identity, D as initialised (the same in both runs).
        logits, _ = m.d(tf.constant(np.concatenate([x0, x1])), training=True)
        extra[weight] = float(tf.reduce_sum(penalties.real_class_loss(logits, np.repeat([0, 1], 4)))) / 16
        logs = tf.function(m.train_step)((x0, x1))
        d_loss[weight] = float(logs["d_loss"])
    assert extra[0.0] == extra[3.0] and extra[0.0] > 0.1
    np.testing.assert_allclose(d_loss[3.0] - d_loss[0.0], 3.0 * extra[0.0], rtol=1e-3)


@pytest.mark.slow
def test_outside_weights_count_each_generators_residual_by_its_own_map():
    """--outside_weight K --remove_outside_weight K1: G0's residual (adding) is weighted by K's map and
    G1's (removing) by K1's; eq. 3's term of the first step is sum w0 |G0(x0) - x0| + sum w1 |G1(x1) - x1|."""
    rng = np.random.default_rng(0)
    x0, x1 = (rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32) for _ in range(2))
    s = Settings(attribute="Smiling", image_size=32, outside_weight=4.0, remove_outside_weight=1.0)
    maps = ResidualMethod().loss_arguments(s)["sparsity_weights"]
    assert maps[1] is None and maps[0].shape == (32, 32, 1) and set(np.unique(maps[0])) == {1.0, 4.0}
    assert ResidualMethod().loss_arguments(s.replace(remove_outside_weight=None))["sparsity_weights"][1] is not None
    pix = {}
    for weights in (maps, (None, None), (None, maps[0])):
        keras.utils.set_random_seed(0)
        m = ResidualGAN(32, 0.125, residual_init="normal")
        m.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), sparsity_weights=weights)
        m.build_optimizers()
        r0 = np.abs(m.g0(x0, training=True).numpy() - x0)  # the step's generators before their update
        r1 = np.abs(m.g1(x1, training=True).numpy() - x1)
        pix[weights[0] is None, weights[1] is None] = float(tf.function(m.train_step)((x0, x1))["g_pix"])
    outside = (maps[0] == 4.0)[None]
    extra = 3 * (np.where(outside, r0, 0).sum() / 4), 3 * (np.where(outside, r1, 0).sum() / 4)
    assert min(extra) > 0.1 * pix[True, True]
    np.testing.assert_allclose(pix[False, True] - pix[True, True], extra[0], rtol=1e-3)
    np.testing.assert_allclose(pix[True, False] - pix[True, True], extra[1], rtol=1e-3)
