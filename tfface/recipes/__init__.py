"""Training recipes: small checked-in files that list every setting of a shipped model (or of a measured
configuration, such as iterative_synthetic).

    tfface train --recipe eyeglasses                       # the bundled Eyeglasses editor, reproduced
    tfface train --recipe eyeglasses --data celeba:/data/celeba --run_dir runs/mine
    tfface train --recipe my_recipe.json                   # a recipe file of your own

A recipe is ``tfface/recipes/<name>.json``: ``{"name", "description", "settings": {...}}``.  Its settings
replace the defaults; flags given on the command line replace the recipe's (e.g. ``--data`` for where your
CelebA is, ``--steps`` to train longer).  The run directory defaults to ``runs/<recipe name>``.
"""

from __future__ import annotations

import json
import os

from tfface.settings import FIELDS, SettingsError

HERE = os.path.dirname(os.path.abspath(__file__))


def names():
    """The recipes shipped in the package."""
    return sorted(f[:-5] for f in os.listdir(HERE) if f.endswith(".json"))


def path_of(name_or_path):
    """A shipped recipe's file, or the path itself when it names a file; SettingsError naming the shipped ones."""
    if os.path.isfile(name_or_path):
        return name_or_path
    path = os.path.join(HERE, f"{name_or_path}.json")
    if not os.path.isfile(path):
        raise SettingsError(f"no recipe {name_or_path!r}: not a file, and the shipped recipes are "
                            f"{', '.join(names()) or 'none'}")
    return path


def load(name_or_path):
    """(name, settings dict) of a recipe; SettingsError for a malformed file or unknown settings."""
    path = path_of(name_or_path)
    try:
        with open(path) as f:
            recipe = json.load(f)
        settings = recipe["settings"]
        name = recipe.get("name") or os.path.splitext(os.path.basename(path))[0]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SettingsError(f"{path} is not a recipe ({{\"name\", \"settings\": {{...}}}}): {e}") from None
    if not isinstance(settings, dict):
        raise SettingsError(f"{path}: \"settings\" must be an object of settings")
    unknown = sorted(set(settings) - set(FIELDS))
    if unknown:
        raise SettingsError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    return name, settings
