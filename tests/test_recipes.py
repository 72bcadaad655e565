"""Recipes: settings files that `tfface train --recipe` starts from; flags given replace them."""

import json

import pytest

from tfface import recipes
from tfface.cli import build_parser, main, settings_from_args
from tfface.settings import DEFAULTS, FIELDS, SettingsError


def write_recipe(tmp_path, settings, name="mine"):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "description": "a test recipe", "settings": settings}))
    return str(path)


def parsed(*argv):
    return build_parser().parse_args(["train", *argv])


def test_recipe_replaces_defaults_and_flags_replace_the_recipe(tmp_path):
    path = write_recipe(tmp_path, {"width": 0.5, "steps": 5000, "dual": False, "learning_rate": 1e-4})
    name, base = recipes.load(path)
    s = settings_from_args(parsed("--recipe", path, "--steps=7", "--dual"), base)
    assert name == "mine"
    assert (s.width, s.learning_rate) == (0.5, 1e-4), "from the recipe"
    assert (s.steps, s.dual) == (7, True), "flags given win over the recipe"
    assert s.batch_size == DEFAULTS.batch_size, "neither: the default"
    # Without a recipe, flags not given are the defaults.
    assert settings_from_args(parsed()) == DEFAULTS


@pytest.mark.parametrize("content,message", [
    ({"name": "x", "settings": {"wings": 2}}, "unknown setting(s) wings"),
    ({"name": "x"}, "is not a recipe"),
    ({"name": "x", "settings": [1]}, "must be an object"),
])
def test_malformed_recipes_are_refused_with_one_line(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        recipes.load(str(path))


def test_unknown_recipe_is_a_usage_error_naming_the_shipped_ones(tmp_path, capsys):
    code = main(["train", "--recipe", "no-such-recipe", f"--run_dir={tmp_path}/r"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("tfface train: error: no recipe 'no-such-recipe'")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("name", recipes.names())
def test_shipped_recipes_are_complete_and_valid(name):
    _, settings = recipes.load(name)
    s = settings_from_args(parsed(), settings).validate()
    assert set(settings) == set(FIELDS), "a recipe lists every setting"
    # A recipe trains on CelebA and is judged while it trains, or on the built-in synthetic faces (which have
    # ground truth instead of a judge: iterative_synthetic).
    assert (s.data.startswith("celeba:") and s.judge_every > 0) or s.data == "synthetic"
