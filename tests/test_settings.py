import inspect
import json
import re

import pytest

from tfface.settings import DEFAULTS, FIELDS, MODEL_FIELDS, Settings, SettingsError
from tfface.training.iterative_gan import IterativeGAN
from tfface.training.residual_gan import ResidualGAN


@pytest.mark.parametrize("changes,message", [
    (dict(method="gan"), "--method must be one of residual, iterative, got 'gan'"),
    (dict(strategy="tpu"), "--strategy must be one of default, mirrored"),
    (dict(d_norm="layer"), "--d_norm must be one of spectral, batch"),
    (dict(method="iterative", split="by_age"), "--split must be one of official, random"),
    (dict(steps=0), "--steps must be >= 1, got 0"),
    (dict(synthetic_train_size=-1), "--synthetic_train_size must be >= 0, got -1"),
    (dict(alpha=-1.0), "--alpha must be >= 0, got -1.0"),
    (dict(method="iterative", update_ratio=0.5), "--update_ratio must be >= 1, got 0.5"),
    (dict(method="iterative", fake_label_stage=3), "--fake_label_stage must be one of 1, 2, got 3"),
    (dict(image_size=40), "--image_size must be a multiple of 16 and >= 16, got 40"),
    (dict(width=0.0), "--width must be in (0, 4], got 0.0"),
    (dict(beta_1=1.0), "--beta_1 and --beta_2 must be in [0, 1)"),
    (dict(method="iterative", stage1_steps=901), "--stage1_steps must be between 0 and --steps (900), got 901"),
    (dict(method="iterative", lambda_change=1.0), "--lambda_change weighs the change of the transformations that "
                                                   "--lambda_edit trains: set --lambda_edit > 0"),
    (dict(method="iterative", lambda_id=1.0), "--lambda_id needs --identity_model, the face recogniser it "
                                               "compares faces with"),
    (dict(method="iterative", identity_shift=0.05), "--identity_shift and --identity_scale frame the faces of the "
                                                    "identity loss: set --lambda_id > 0"),
    (dict(strategy="mirrored", batch_size=5), "--batch_size (5) must be divisible by --replicas (2)"),
    (dict(data="imagenet"), "--data must be one of: synthetic, celeba:"),
    (dict(data="folders:/only-one"), "--data=folders needs two comma-separated directories"),
    (dict(labels="Smiling"), "--labels applies to --method=iterative only"),
    (dict(attribute="Male", outside_weight=4.0), "--outside_weight needs a local attribute (Eyeglasses, Smiling, "),
    (dict(outside_weight=0.5), "--outside_weight must be >= 1, got 0.5"),
    (dict(attribute="Male", remove_outside_weight=2.0), "--remove_outside_weight needs a local attribute"),
    (dict(remove_outside_weight=0.0), "--remove_outside_weight must be >= 1, got 0.0"),
    (dict(method="iterative", labels="Smiling"), "--labels selects CelebA attributes; --data=synthetic has a fixed"),
    (dict(method="iterative", data="celeba:/c", labels="Smiling, Glasses"), "unknown CelebA attribute(s) Glasses"),
    (dict(method="iterative", data="celeba:/c", labels="Smiling,Male,Smiling"), "names an attribute twice"),
])
def test_validate_names_the_flag_at_fault(changes, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings(**changes).validate()


def test_labels_are_a_list_of_names_in_the_order_given():
    s = Settings(method="iterative", data="celeba:/c", labels=" Smiling,Eyeglasses ,Male").validate()
    assert s.label_names == ("Smiling", "Eyeglasses", "Male")
    assert DEFAULTS.label_names == ()


def test_defaults_are_valid_and_data_is_parsed_once():
    assert DEFAULTS.validate() is DEFAULTS
    s = Settings(data="folders:/a,/b").validate()
    assert s.data_spec.kind == "folders" and s.data_spec.paths == ("/a", "/b")
    assert s.data_spec is s.data_spec
    assert s.replace(data="celeba:/c").data_spec.paths == ("/c",)


def test_every_setting_is_declared_with_help_and_group():
    for name, f in FIELDS.items():
        assert f.metadata["help"] and f.metadata["group"], name
        if f.metadata["choices"]:
            assert f.default in f.metadata["choices"], name


def test_json_round_trip_and_bad_files():
    s = Settings(method="iterative", steps=5, alpha=1e-3, dual=False)
    assert Settings.from_json(s.to_json()) == s
    assert Settings.from_json('{"steps": 7, "from_a_newer_version": 1}').steps == 7
    for text, message in (("[1, 2, 3]", "expected a JSON object of settings, got list"),
                          ("null", "expected a JSON object of settings, got NoneType"), ("{", "not valid JSON")):
        with pytest.raises(SettingsError, match=re.escape(message)):
            Settings.from_json(text)


def test_saved_runs_get_the_values_they_were_made_with_for_settings_added_since(tmp_path):
    """A run saved before --g_layers existed was made with separate layers; an iterative run (bundled
    iterative_celeba) lacks that residual-only setting too and must still load and validate."""
    for method, expected in (("residual", "separate"), ("iterative", DEFAULTS.g_layers)):
        raw = json.loads(Settings(method=method).to_json())
        del raw["g_layers"]
        path = tmp_path / f"{method}.json"
        path.write_text(json.dumps(raw))
        loaded = Settings.load_saved(path)
        assert loaded.g_layers == expected
        loaded.validate()


def test_resume_refuses_another_model_but_accepts_more_steps():
    Settings(steps=2000, log_every=10).check_resumable_from(Settings(), "runs/r")
    with pytest.raises(SettingsError, match=re.escape("runs/r holds a run with different settings: width=0.25 (now 0.5)")):
        Settings(width=0.5).check_resumable_from(Settings(), "runs/r")
    assert {"method", "data", "image_size", "width", "z_dim"} <= set(MODEL_FIELDS) and "steps" not in MODEL_FIELDS


@pytest.mark.parametrize("cls", [ResidualGAN, IterativeGAN])
def test_model_constructors_default_to_the_settings(cls):
    params = inspect.signature(cls.__init__).parameters
    for name in cls.settings_keys:
        assert params[name].default == getattr(DEFAULTS, name), name


@pytest.mark.parametrize("changes,message", [
    (dict(method="iterative", dual=False), "--dual applies to --method=residual only (this run uses --method=iterative)"),
    (dict(method="iterative", alpha=1e-3), "--alpha applies to --method=residual only"),
    (dict(method="residual", lambda_z=3.0), "--lambda_z applies to --method=iterative only"),
    (dict(method="residual", stage1_steps=10), "--stage1_steps applies to --method=iterative only"),
])
def test_the_other_methods_settings_are_refused_not_ignored(changes, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings(**changes).validate()
    Settings(**{**changes, "method": "residual" if changes["method"] == "iterative" else "iterative"}).validate()


def test_learning_rates_are_constant_then_decay_linearly_to_zero():
    s = Settings(steps=100, learning_rate=2e-4, decay_after=0.5, d_learning_rate=4e-4)
    assert s.learning_rates(0) == s.learning_rates(49) == (2e-4, 4e-4)
    assert s.learning_rates(75) == pytest.approx((1e-4, 2e-4))
    assert s.learning_rates(100) == (0.0, 0.0)
    assert Settings(steps=100).learning_rates(99) == (2e-4, 2e-4), "the papers' constant rate by default"
    with pytest.raises(SettingsError, match="--decay_after must be in"):
        Settings(decay_after=1.5).validate()


def test_model_choices_declared_in_settings_match_the_models():
    """settings.py repeats a few choice lists so that `--help` need not import Keras; they must not drift from
    the models that act on them (a choice the flag accepts but the model refuses fails only at build time)."""
    from tfface import settings
    from tfface.models import iterative, padding
    assert settings.Z_HEADS == iterative.Z_HEADS
    assert settings.SHARED_LAYERS == iterative.SHARED_LAYERS
    assert settings.G_PADDINGS == padding.PADDINGS
