import numpy as np
import pytest

from tfface.export.folding import Folded, fold_batch_norm
from tfface.models.normalization import BatchNormalization
from tfface.models.residual import transformation_network


@pytest.mark.parametrize("skips", [False, True])
def test_folded_generator_computes_the_same_edit_without_batch_norm(skips):
    g = transformation_network(32, 0.25, skips=skips)
    rng = np.random.default_rng(0)
    for layer in g.layers:  # trained-looking statistics and a non-zero residual layer
        if isinstance(layer, BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.3, layer.moving_mean.shape).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.3, 2.0, layer.moving_variance.shape).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.1, layer.beta.shape).astype("float32"))
        if layer.name == "output_conv":
            layer.set_weights([rng.normal(0, 0.05, w.shape).astype("float32") for w in layer.get_weights()])
    before = [w.copy() for w in g.get_weights()]
    f = fold_batch_norm(g)
    x = rng.uniform(-1, 1, (3, 32, 32, 3)).astype("float32")
    want, got = np.asarray(g(x, training=False)), np.asarray(f(x, training=False))
    assert np.abs(want - x).max() > 0.05, "the edit is not the identity, so the comparison means something"
    assert np.abs(got - want).max() < 1e-5
    assert not any(isinstance(layer, BatchNormalization) for layer in f.layers)
    assert sum(isinstance(layer, Folded) for layer in f.layers) == 5  # Table 1's five conv + BN blocks
    assert all(np.array_equal(a, b) for a, b in zip(before, g.get_weights())), "the source model is unchanged"
