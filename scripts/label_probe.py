"""Is C's label head or D's shared trunk what makes C recognise worse than its CNN baseline?  Linear probes.

    python scripts/label_probe.py --run_dir ~/runs/iterative_synthetic [--images 2048] [--train 4096] [--layer shared]
                                  [--real_statistics [--statistics_batch 32]]

C reads the labels from D's shared layer; the run's CNN baseline (``cnn_baseline.npz``, the same trunk and head
trained on the labels alone) reads them from its own.  For each of the two, this prints the test Hamming loss and
per-label accuracy of

* its own label head (what ``tfface evaluate`` scores), and
* a linear probe: one logistic regression per label fitted on the frozen shared layer of the first ``--train``
  training images (standardised features, L2 1e-4, Adam, 60 epochs).  ``--layer h4`` (or h3, h2, h1) fits the
  probes on a convolution's flattened output instead, to find where in the trunk the labels are lost.

``--real_statistics`` first re-estimates every batch norm's moving statistics (D's and C's, and the baseline's)
on the same training images, in batches of ``--statistics_batch``, as the exact average over the batches: D and C
gather theirs in training on batches that are half G's images, the baseline on real images alone.

If the probe on D's layer did as well as the baseline, the information would be in the trunk and C's head would
be what loses it; if not, the trunk holds less of the labels.  The test images are the first ``--images`` of the
run's test set (the synthetic set grows with ``--images``; its first 256 are ``metrics.json``'s).  The README's
issue-18 notes quote it.
"""

import argparse
import dataclasses
import os
import sys

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tfface.data.pipeline import to_float  # noqa: E402
from tfface.evaluation import iterative as ev  # noqa: E402
from tfface.inference import batched  # noqa: E402
import synthetic_run  # noqa: E402


LAYERS = ("shared", "h4", "h3", "h2", "h1")


def features(d, c, x, layer="shared"):
    """(D's ``layer``, flattened, and C's label logits) of uint8 images ``x``."""
    def one(b):
        _, h, hidden = d(to_float(b), training=False)
        # the shared layer: the part of D's second output that C's label head reads (all of it unless --z_head conv)
        f = h[:, :c.get_layer("fc").kernel.shape[0]] if layer == "shared" else hidden[int(layer[1]) - 1]
        return np.asarray(f).reshape(len(f), -1), c(h, training=False)[1]
    return batched(one, x)


def reestimate_statistics(d, c, x, batch):
    """Set the moving mean and variance of every batch norm in ``d`` and ``c`` to the average, over batches of
    ``batch`` of uint8 images ``x``, of the batch statistics the layers see in training."""
    norms = [layer for net in (d, c) for layer in net.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momentum = [layer.momentum for layer in norms]
    for k, start in enumerate(range(0, len(x), batch), 1):
        for layer in norms:
            layer.momentum = (k - 1) / k   # moving = the running mean of the k batches' statistics
        _, shared, _ = d(to_float(x[start:start + batch]), training=True)
        c(shared, training=True)
    for layer, m in zip(norms, momentum):
        layer.momentum = m


def probe_accuracy(f_train, y_train, f_test, y_test, seed=0):
    """Per-label test accuracy of logistic regressions fitted on ``f_train``."""
    mu, sd = f_train.mean(0), f_train.std(0) + 1e-6
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((f_train.shape[1],)),
                              keras.layers.Dense(y_train.shape[1], kernel_regularizer=keras.regularizers.l2(1e-4))])
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit((f_train - mu) / sd, y_train, epochs=60, batch_size=256, verbose=0)
    return ((np.asarray(model((f_test - mu) / sd)) >= 0) == (y_test >= 0.5)).mean(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run_dir", required=True, help="an iterative run with its cnn_baseline.npz")
    ap.add_argument("--images", type=int, default=2048, help="test images")
    ap.add_argument("--train", type=int, default=4096, help="training images the probes are fitted on")
    ap.add_argument("--layer", choices=LAYERS, default="shared", help="the layer the probes read (flattened)")
    ap.add_argument("--real_statistics", action="store_true",
                    help="re-estimate the batch norms' statistics on the training images first")
    ap.add_argument("--statistics_batch", type=int, default=32, help="batch size for --real_statistics")
    args = ap.parse_args()
    run = synthetic_run.load_iterative(args.run_dir)
    s = run.settings
    baseline_path = os.path.join(args.run_dir, ev.CNN_BASELINE_WEIGHTS)
    if not os.path.exists(baseline_path):
        sys.exit(f"{baseline_path} is missing: the run was trained with --baseline_steps 0")
    data = run.method.load_data(dataclasses.replace(s, eval_images=args.images))
    names = list(data.attribute_names)
    baseline = ev.load_cnn_baseline(s, len(names), baseline_path)
    n_train = args.train if data.train.size is None else min(args.train, data.train.size)
    x_train, c_train = data.train.load_batch(np.arange(n_train))
    x_test, c_test = data.test.load_batch(np.arange(min(args.images, data.test.size)))
    print(f"{args.run_dir}: probes on the {args.layer} layer fitted on {len(x_train)} training images, "
          f"scored on {len(x_test)} test images"
          + (f"; batch-norm statistics re-estimated on them in batches of {args.statistics_batch}"
             if args.real_statistics else ""))
    for name, (d, c) in {"C, D's trunk": (run.model.d, run.model.c),
                         "CNN baseline": (baseline.d, baseline.c)}.items():
        if args.real_statistics:
            reestimate_statistics(d, c, x_train, args.statistics_batch)
        f_train, _ = features(d, c, x_train, args.layer)
        f_test, logits = features(d, c, x_test, args.layer)
        head = ((logits >= 0) == (c_test >= 0.5)).mean(0)
        probe = probe_accuracy(f_train, c_train, f_test, c_test)
        print(f"{name}: Hamming loss, own head {1 - head.mean():.4f}, linear probe {1 - probe.mean():.4f}")
        for label, row in (("own head", head), ("probe", probe)):
            print(f"  {label:9s}" + "  ".join(f"{n} {v:.3f}" for n, v in zip(names, row)))


if __name__ == "__main__":
    main()
