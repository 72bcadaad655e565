"""Export a trained run as a SavedModel for TF Serving and as TFLite models for mobile.

    python export.py --run_dir runs/residual-Eyeglasses-synthetic-64px
    python export.py --run_dir RUN --out export/ --formats saved_model,tflite --version 3 --overwrite

Writes <out>/<model_name>/<version>/ (a SavedModel; TFLite files and
export_report.json under its assets.extra/).  Nothing is left behind if the
export fails, and an existing version is kept unless --overwrite is given.
Exit codes: 0 done, 1 missing run or checkpoint, 2 bad flags.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import flags  # noqa: E402

F = flags.FLAGS
flags.DEFINE_string("run_dir", None, "Run directory written by train.py.")
flags.DEFINE_string("out", "export", "Export root; the model goes to <out>/<model_name>/<version>/.")
flags.DEFINE_list("formats", ["saved_model", "tflite"], "saved_model, or saved_model,tflite.")
flags.DEFINE_integer("version", None, "Version number (default: one more than the highest existing).")
flags.DEFINE_bool("overwrite", False, "Replace an existing version.")
flags.DEFINE_string("model_name", None, "Model name (default: the run directory's name).")
flags.DEFINE_list("tflite_variants", ["float32", "float16", "dynamic", "int8"], "TFLite variants to build.")
flags.DEFINE_integer("report_images", 32, "Held-out images for the TFLite parity report.")


def main(argv):
    prog = os.path.basename(argv[0])

    def fail(code, msg):
        print(f"{prog}: error: {msg}", file=sys.stderr, flush=True)
        return code

    try:
        F(argv)
    except flags.Error as e:
        return fail(2, e)
    if not F.run_dir:
        return fail(2, "--run_dir is required")
    if F.report_images < 1:
        return fail(2, f"--report_images must be >= 1, got {F.report_images}")

    from tfface.export.exporter import ExportError, export_run
    from tfface.training.settings import SettingsError

    try:
        target = export_run(F.run_dir, F.out, F.formats, F.version, F.overwrite, F.model_name, F.tflite_variants,
                            F.report_images, say=lambda m: print(m, flush=True))
    except (ExportError, SettingsError) as e:
        return fail(2, e)
    except FileNotFoundError as e:
        return fail(1, e)
    print(f"exported: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
