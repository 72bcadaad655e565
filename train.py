"""Train a face attribute editor.

    python train.py --method=residual                       # glasses on built-in synthetic faces
    python train.py --method=residual --attribute=Smiling --data=celeba:/data/celeba --image_size=128 --width=1
    python train.py --method=iterative                      # all synthetic labels

Re-running the same command continues from the run directory's last
checkpoint.  Exit codes: 0 done, 1 data or I/O error, 2 bad flags or
settings, 3 training diverged (NaN/Inf loss), 130 interrupted.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402

from tfface.training.settings import METHODS, Settings  # noqa: E402

_D = Settings()
F = flags.FLAGS
flags.DEFINE_enum("method", _D.method, METHODS, "residual (paper 1) or iterative (paper 2).")
flags.DEFINE_string("attribute", _D.attribute, "Attribute to edit (residual method): a synthetic or CelebA attribute name, or any name for --data=folders.")
flags.DEFINE_string("data", _D.data, "synthetic | celeba:/path/to/celeba | folders:/path/A,/path/B (A lacks the attribute, B has it).")
flags.DEFINE_integer("image_size", _D.image_size, "Image size in pixels (multiple of 16; the papers use 128).")
flags.DEFINE_float("width", _D.width, "Channel-width multiplier (1.0 = the papers' networks).")
flags.DEFINE_integer("batch_size", _D.batch_size, "Global batch size (image pairs for the residual method).")
flags.DEFINE_integer("steps", _D.steps, "Total training steps (a resumed run continues to this step).")
flags.DEFINE_string("run_dir", None, "Run directory (default: runs/<method>-<attribute>-<data>-<size>px).")
flags.DEFINE_integer("seed", _D.seed, "Seed for initialisation and data order.")
flags.DEFINE_bool("deterministic", _D.deterministic, "Deterministic ops: a resumed run ends bitwise equal to an uninterrupted one.")
flags.DEFINE_enum("strategy", _D.strategy, ["default", "mirrored"], "Distribution strategy (mirrored: all GPUs, or --replicas logical CPUs).")
flags.DEFINE_integer("replicas", _D.replicas, "Logical CPU devices for --strategy=mirrored on a machine without GPUs.")
flags.DEFINE_enum("mixed_precision", _D.mixed_precision, ["float32", "bfloat16", "float16"], "Compute precision (float16 uses dynamic loss scaling).")
flags.DEFINE_bool("jit_compile", _D.jit_compile, "XLA-compile the train step (slower on CPU; try it on GPU).")
flags.DEFINE_float("learning_rate", _D.learning_rate, "Adam learning rate (both papers: 2e-4).")
flags.DEFINE_float("beta_1", _D.beta_1, "Adam beta_1.")
flags.DEFINE_float("beta_2", _D.beta_2, "Adam beta_2.")
flags.DEFINE_integer("log_every", _D.log_every, "Steps between progress lines and TensorBoard scalars.")
flags.DEFINE_integer("checkpoint_every", _D.checkpoint_every, "Steps between checkpoints.")
flags.DEFINE_integer("sample_every", _D.sample_every, "Steps between sample grids.")
flags.DEFINE_bool("strict_data", _D.strict_data, "Stop at the first bad image file instead of skipping it.")
flags.DEFINE_integer("eval_images", _D.eval_images, "Test images per domain for the final metrics.")
flags.DEFINE_integer("synthetic_train_size", _D.synthetic_train_size, "Synthetic training identities (per domain for the residual method), rendered once and cached; 0 = a new identity for every image.")
# Residual method
flags.DEFINE_float("alpha", None, "Residual sparsity weight (default: 5e-4 for local attributes, 1e-6 for global ones).")
flags.DEFINE_float("beta", None, "Perceptual loss weight (default: 0.1 * alpha).")
flags.DEFINE_bool("no_residual", False, "Ablation (§6.2): generators output the whole image, not a residual.")
flags.DEFINE_bool("no_dual", False, "Ablation (§6.2): no dual learning G1(G0(x0)), G0(G1(x1)).")
flags.DEFINE_enum("d_norm", _D.d_norm, ["batch", "spectral"], "Discriminator normalisation: spectral (default) or batch (Table 1 exactly).")
flags.DEFINE_enum("residual_init", _D.residual_init, ["normal", "zero"], "Generators' last layer: zero = start as the identity (default); normal = N(0, 0.02) like all layers (§5 exactly).")
# Iterative method
flags.DEFINE_integer("z_dim", _D.z_dim, "Latent code size (paper: 100).")
flags.DEFINE_integer("stage1_steps", None, "Steps of stage 1 (ACGAN only) before the integrated loss joins (default: half).")
flags.DEFINE_float("lambda_per", _D.lambda_per, "Integrated loss: perceptual weight (paper: 2.0).")
flags.DEFINE_float("lambda_pix", _D.lambda_pix, "Integrated loss: per-pixel weight (paper: 0.5).")
flags.DEFINE_float("lambda_z", _D.lambda_z, "Integrated loss: latent-code weight (paper: 1.0).")
flags.DEFINE_float("update_ratio", _D.update_ratio, "Adaptive updates: extra D (G) updates while D's (G's) loss exceeds this multiple of the other's.")
flags.DEFINE_integer("max_updates", _D.max_updates, "Adaptive updates: at most this many D or G updates per step.")
flags.DEFINE_enum("split", _D.split, ["official", "random"], "CelebA split for the iterative method.")
flags.DEFINE_integer("baseline_steps", None, "Steps for the CNN baseline classifier of the final metrics (default: --steps; 0 skips it).")


def settings_from_flags():
    return Settings(
        method=F.method, attribute=F.attribute, data=F.data, image_size=F.image_size, width=F.width,
        batch_size=F.batch_size, steps=F.steps, seed=F.seed, deterministic=F.deterministic,
        strategy=F.strategy, replicas=F.replicas, mixed_precision=F.mixed_precision, jit_compile=F.jit_compile,
        learning_rate=F.learning_rate, beta_1=F.beta_1, beta_2=F.beta_2, log_every=F.log_every,
        checkpoint_every=F.checkpoint_every, sample_every=F.sample_every, strict_data=F.strict_data,
        eval_images=F.eval_images, synthetic_train_size=F.synthetic_train_size, alpha=F.alpha, beta=F.beta, residual=not F.no_residual, dual=not F.no_dual, residual_init=F.residual_init, d_norm=F.d_norm,
        z_dim=F.z_dim, stage1_steps=F.stage1_steps, lambda_per=F.lambda_per, lambda_pix=F.lambda_pix,
        lambda_z=F.lambda_z, update_ratio=F.update_ratio, max_updates=F.max_updates, split=F.split,
        baseline_steps=F.baseline_steps,
    )


def main(argv):
    prog = os.path.basename(argv[0])

    def fail(code, msg):
        print(f"{prog}: error: {msg}", file=sys.stderr, flush=True)
        return code

    try:
        F(argv)
    except flags.Error as e:
        return fail(2, e)
    from tfface.data.images import BadImageError
    from tfface.training.settings import SettingsError, default_run_dir

    settings = settings_from_flags()
    try:
        settings.validate()
    except SettingsError as e:
        return fail(2, e)
    run_dir = F.run_dir or default_run_dir(settings)

    import tensorflow as tf

    from tfface.training import loop, methods

    try:
        loop.train(settings, run_dir, methods.get(settings.method))
    except (SettingsError, ValueError) as e:
        return fail(2, e) if not os.environ.get("TFFACE_DEBUG") else _reraise()
    except (FileNotFoundError, BadImageError, PermissionError) as e:
        return fail(1, e) if not os.environ.get("TFFACE_DEBUG") else _reraise()
    except loop.TrainingDiverged as e:
        return fail(3, e)
    except tf.errors.OpError as e:
        # Errors raised inside the input pipeline (e.g. --strict_data) arrive wrapped.
        first = next((ln.strip() for ln in str(e.message).splitlines() if "BadImageError" in ln), None)
        if first:
            return fail(1, first.split("BadImageError:", 1)[-1].strip())
        raise
    except KeyboardInterrupt:
        return fail(130, f"interrupted; re-run the same command to resume {run_dir} from its last checkpoint")
    return 0


def _reraise():
    raise


if __name__ == "__main__":
    sys.exit(main(sys.argv))
