"""Train a face attribute editor: ``python train.py [flags]`` is ``tfface train [flags]``.

    python train.py --method=residual                       # glasses on built-in synthetic faces
    python train.py --method=residual --attribute=Smiling --data=celeba:/data/celeba --image_size=128 --width=1
    python train.py --method=iterative                      # all synthetic labels
    python train.py --help                                  # every flag with its default

Re-running the same command continues from the run directory's last
checkpoint.  Exit codes: 0 done, 1 data or I/O error, 2 bad flags or
settings, 3 training diverged (NaN/Inf loss), 130 interrupted.
"""

import sys

from tfface.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]], prog="train.py", process=True))
