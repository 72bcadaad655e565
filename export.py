"""Export a trained run: ``python export.py [flags]`` is ``tfface export [flags]``.

    python export.py --run_dir runs/residual-Eyeglasses-synthetic-64px
    python export.py --run_dir RUN --out export/ --formats saved_model,tflite --version 3 --overwrite

Writes <out>/<model_name>/<version>/ (a SavedModel; TFLite files and
export_report.json under its assets.extra/).  Nothing is left behind if the
export fails, and an existing version is kept unless --overwrite is given.
Exit codes: 0 done, 1 missing run or checkpoint, 2 bad flags.
"""

import sys

from tfface.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]], prog="export.py"))
