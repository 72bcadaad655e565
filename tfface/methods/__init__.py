"""The two papers' methods by name (``--method``), and loading a trained run.

Each method implements the contract of :class:`tfface.methods.base.Method`;
training, export and evaluation only call its hooks.
"""

from __future__ import annotations

from dataclasses import dataclass

from tfface.methods.base import Method
from tfface.methods.iterative import IterativeMethod
from tfface.methods.residual import ResidualMethod
from tfface.settings import METHODS, Settings, SettingsError
from tfface.training import distribution
from tfface.training.run import RunDirectory, saved_checkpoints

REGISTRY = {m.name: m for m in (ResidualMethod, IterativeMethod)}
assert tuple(REGISTRY) == METHODS, "tfface.settings.METHODS lists the registered methods"


def get(name) -> Method:
    if name not in REGISTRY:
        raise SettingsError(f"unknown method {name!r}; valid: {', '.join(METHODS)}")
    return REGISTRY[name]()


@dataclass
class TrainedRun:
    """A trained model rebuilt from its run directory."""

    run_dir: str
    settings: Settings
    method: Method
    model: object
    step: int

    def editor(self):
        """The inference object: a :class:`~tfface.inference.ResidualEditor` or an
        :class:`~tfface.inference.Editor` (iterative GAN)."""
        return self.method.editor(self.model, self.settings)


def load_run(run_dir, precision="float32", say=print) -> TrainedRun:
    """Rebuild a trained model from a run directory's settings.json and newest checkpoint that restores.

    Inference runs in ``precision`` whatever the run trained with.
    """
    run = RunDirectory(run_dir)
    settings = run.load_settings()
    method = get(settings.method)
    settings = method.resolve(settings)
    distribution.set_precision(precision)
    model = method.build_model(settings)
    manager, _, step = run.restore(method.checkpoint_objects(model), partial=True, say=say)
    if not saved_checkpoints(manager):
        raise FileNotFoundError(f"no checkpoint in {run.checkpoint_dir}")
    return TrainedRun(run.path, settings, method, model, step)
