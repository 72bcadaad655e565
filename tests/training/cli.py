"""Helpers to run train.py in a subprocess and read its checkpoints."""

import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN = os.path.join(ROOT, "train.py")
# A model small enough for a few seconds of training.
TINY = ["--image_size=32", "--width=0.125", "--batch_size=4", "--log_every=2", "--checkpoint_every=2",
        "--sample_every=4", "--eval_images=8"]


def command(*args):
    return [sys.executable, TRAIN, *args]


def run(*args, timeout=600):
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def error_lines(stderr):
    return [ln for ln in stderr.splitlines() if "error:" in ln]


def checkpoint_tensors(run_dir):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")))
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if "save_counter" not in k}


def assert_same_tensors(a, b):
    assert a.keys() == b.keys()
    different = [k for k in a if not np.array_equal(a[k], b[k])]
    assert not different, f"{len(different)} of {len(a)} variables differ, e.g. {different[:3]}"
