import numpy as np
import pytest

from tfface.data.sources import load_labeled
from tfface.evaluation.iterative import transformation_scores


class _Oracle:
    """An editor that rebuilds faces exactly and, when asked to flip labels, draws the renderer's counterfactual
    (``perfect``) or changes nothing."""

    def __init__(self, data, idx, perfect):
        self.data, self.idx, self.perfect = data, idx, perfect

    def transform(self, x, changes):
        (name, _), = changes.items()
        return self.data.test.counterfactual(self.idx, name)[1] if self.perfect else x.copy()


@pytest.fixture(scope="module")
def faces():
    data = load_labeled("synthetic", 32, synthetic_test_size=24)
    idx = np.arange(24)
    x, c = data.test.load_batch(idx)
    return data, idx, x, c


@pytest.mark.parametrize("perfect", [True, False])
def test_transformation_scores_in_both_directions(faces, perfect):
    data, idx, x, c = faces
    t = transformation_scores(_Oracle(data, idx, perfect), data, idx, x, c, rebuilt=x)
    for k, name in enumerate(data.attribute_names):
        s = t[name]
        n_set = int((c[:, k] < 0.5).sum())
        assert s["n_set"] == n_set
        # The two directions make up the whole.
        parts = [(s["accuracy_set"], n_set), (s["accuracy_clear"], len(x) - n_set)]
        assert s["accuracy"] == pytest.approx(sum(a * n for a, n in parts if n) / len(x))
        if perfect:
            # The counterfactual itself: closer in every face where the attribute changes any pixel, and
            # exactly the counterfactual's change.
            assert s["change_ratio"] == pytest.approx(1.0) and s["accuracy"] > 0.9, (name, s)
        else:
            assert s["change_ratio"] == 0 and s["accuracy"] == 0, (name, s)
    assert t["mean_accuracy_set"] is not None and (t["mean_accuracy"] > 0.9) == perfect


@pytest.mark.parametrize("shared_layer,z_head", [("fc", "shared"), ("flatten", "shared"), ("fc", "conv")])
def test_the_cnn_baseline_has_the_trunk_that_c_reads(shared_layer, z_head):
    """The baseline C is compared with is D's trunk and C's label head as the run builds them, with either
    reading of the shared layer (``--shared_layer``) and wherever z~ is read, so the comparison tests sharing the
    trunk and nothing else."""
    from tfface.evaluation.iterative import cnn_baseline
    from tfface.settings import Settings
    from tfface.training.iterative_gan import IterativeGAN

    s = Settings(method="iterative", image_size=32, width=0.125, z_dim=8, shared_layer=shared_layer, z_head=z_head)
    run = IterativeGAN(**s.pick(IterativeGAN.settings_keys), n_labels=8)
    baseline = cnn_baseline(s, 8)
    for ours, theirs in ((baseline.d, run.d), (baseline.c, run.c)):
        assert [w.shape for w in ours.weights if "z/" not in w.path] == \
            [w.shape for w in theirs.weights if "z/" not in w.path]
    assert ("shared" in [layer.name for layer in baseline.d.layers]) == (shared_layer == "fc")
