"""Training settings: one dataclass, saved with every run and reloaded by export and evaluation."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

METHODS = ("residual", "iterative")

# Settings that define what is being trained; a run directory refuses to
# resume with different values (the rest, e.g. steps or intervals, may change).
IDENTITY_FIELDS = ("method", "attribute", "data", "image_size", "width", "batch_size", "seed",
                   "residual", "dual", "residual_init", "d_norm", "z_dim", "synthetic_train_size")


class SettingsError(ValueError):
    """An invalid or incompatible setting; the message is one line for the user."""


@dataclass
class Settings:
    method: str = "residual"
    attribute: str = "Eyeglasses"
    data: str = "synthetic"
    image_size: int = 64
    width: float = 0.25
    batch_size: int = 16
    steps: int = 900
    seed: int = 0
    deterministic: bool = False
    strategy: str = "default"
    replicas: int = 2
    mixed_precision: str = "float32"
    jit_compile: bool = False
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    log_every: int = 50
    checkpoint_every: int = 100
    sample_every: int = 300
    strict_data: bool = False
    eval_images: int = 256
    synthetic_train_size: int = 4096  # identities per domain (residual) or in all (iterative); 0 = unbounded
    # Residual method (paper 1)
    alpha: float | None = None  # None: the paper's preset for the attribute
    beta: float | None = None  # None: 0.1 * alpha
    residual: bool = True
    dual: bool = True
    # Two stabilisers replace Table 1 / §5 by default (measured in README "Deviations"):
    d_norm: str = "spectral"  # "spectral": spectral normalisation in D; "batch": batchnorm as in Table 1
    residual_init: str = "zero"  # "zero": G starts as the identity; "normal": N(0, 0.02) like every layer (§5)
    # Iterative method (paper 2)
    z_dim: int = 100
    stage1_steps: int | None = None  # None: half of the steps
    lambda_per: float = 2.0
    lambda_pix: float = 0.5
    lambda_z: float = 1.0
    update_ratio: float = 2.0
    max_updates: int = 3
    split: str = "official"
    baseline_steps: int | None = None  # None: as many as --steps; 0: skip the CNN baseline

    def validate(self):
        def need(cond, msg):
            if not cond:
                raise SettingsError(msg)

        need(self.method in METHODS, f"--method must be one of {', '.join(METHODS)}, got {self.method!r}")
        need(self.image_size >= 16 and self.image_size % 16 == 0, f"--image_size must be a multiple of 16 and >= 16, got {self.image_size}")
        need(0 < self.width <= 4, f"--width must be in (0, 4], got {self.width}")
        for name in ("batch_size", "steps", "log_every", "checkpoint_every", "sample_every", "eval_images", "replicas", "z_dim", "max_updates"):
            need(getattr(self, name) >= 1, f"--{name} must be >= 1, got {getattr(self, name)}")
        need(self.synthetic_train_size >= 0, f"--synthetic_train_size must be >= 0, got {self.synthetic_train_size}")
        need(self.learning_rate > 0, f"--learning_rate must be > 0, got {self.learning_rate}")
        need(0 <= self.beta_1 < 1 and 0 <= self.beta_2 < 1, "--beta_1 and --beta_2 must be in [0, 1)")
        for name in ("alpha", "beta"):
            v = getattr(self, name)
            need(v is None or v >= 0, f"--{name} must be >= 0, got {v}")
        for name in ("lambda_per", "lambda_pix", "lambda_z"):
            need(getattr(self, name) >= 0, f"--{name} must be >= 0 (the paper's lambdas are a conic combination)")
        need(self.update_ratio >= 1, f"--update_ratio must be >= 1, got {self.update_ratio}")
        need(self.stage1_steps is None or 0 <= self.stage1_steps <= self.steps,
             f"--stage1_steps must be between 0 and --steps ({self.steps}), got {self.stage1_steps}")
        need(self.baseline_steps is None or self.baseline_steps >= 0, f"--baseline_steps must be >= 0, got {self.baseline_steps}")
        need(self.d_norm in ("batch", "spectral"), f"--d_norm must be batch or spectral, got {self.d_norm!r}")
        need(self.residual_init in ("normal", "zero"), f"--residual_init must be normal or zero, got {self.residual_init!r}")
        need(self.split in ("official", "random"), f"--split must be official or random, got {self.split!r}")
        if self.strategy == "mirrored":
            need(self.batch_size % self.replicas == 0,
                 f"--batch_size ({self.batch_size}) must be divisible by --replicas ({self.replicas}) under --strategy=mirrored")
        return self

    def check_resumable_from(self, saved: "Settings", run_dir):
        diffs = [f"{k}={getattr(saved, k)!r} (now {getattr(self, k)!r})" for k in IDENTITY_FIELDS
                 if getattr(saved, k) != getattr(self, k)]
        if diffs:
            raise SettingsError(f"{run_dir} holds a run with different settings: {', '.join(diffs)}; "
                                f"use the same settings to resume, or another --run_dir")

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        raw = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    @classmethod
    def load(cls, path):
        with open(path) as f:
            return cls.from_json(f.read())


def write_atomic(path, text):
    """Write a file so that readers see the old or the new content, never a mix."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def default_run_dir(s: Settings):
    tag = s.data.split(":", 1)[0]
    return os.path.join("runs", f"{s.method}-{s.attribute if s.method == 'residual' else 'all'}-{tag}-{s.image_size}px")
