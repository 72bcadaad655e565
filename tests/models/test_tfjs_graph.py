import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.models.tfjs_fixtures import reference, write_model
from tfface.errors import DataError
from tfface.models.tfjs_graph import TFJSGraph


def test_runs_the_graph_as_tensorflow_does_and_can_be_differentiated(tmp_path):
    path, w = write_model(str(tmp_path))
    graph = TFJSGraph(path)
    assert graph.input_shape == (-1, 8, 8, 3) and graph.output_name == "out"
    x = tf.constant(np.random.default_rng(1).uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32))
    np.testing.assert_allclose(graph(x).numpy(), reference(x, w).numpy(), rtol=1e-5, atol=1e-6)
    # The fused ops have no gradient in TensorFlow; run as their parts, the graph has the reference's gradient.
    grads = []
    for fn in (graph, lambda t: reference(t, w)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(fn(x) ** 2)
        grads.append(tape.gradient(y, x).numpy())
    assert np.abs(grads[0]).max() > 0
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)
    # And inside a tf.function, as the train step calls it.
    np.testing.assert_allclose(tf.function(graph)(x).numpy(), graph(x).numpy(), rtol=1e-6)


def _rewrite(path, change):
    with open(path) as f:
        spec = json.load(f)
    change(spec)
    with open(path, "w") as f:
        json.dump(spec, f)


@pytest.mark.parametrize("break_it,message", [
    (lambda spec: spec["modelTopology"]["node"].append({"name": "x", "op": "Erf", "input": ["out"]}),
     "unsupported op Erf"),
    (lambda spec: spec["weightsManifest"][0]["weights"].append({"name": "more", "shape": [64], "dtype": "float32"}),
     "its weight shards end before weight more"),
    (lambda spec: spec["weightsManifest"][0]["weights"].pop(), "constant fc_b has no weights"),
    (lambda spec: spec["weightsManifest"][0]["weights"][0].update(dtype="float16"), "conv_w is quantised or float16"),
    (lambda spec: spec.pop("weightsManifest"), "is not a TF.js graph model"),
    (lambda spec: spec["modelTopology"]["node"][9]["attr"].update(padding={"s": "RVhQTElDSVQ="}),  # EXPLICIT
     r"unsupported padding EXPLICIT of node conv \(only SAME and VALID\)"),
    (lambda spec: spec["modelTopology"]["node"][9]["attr"].update(fused_ops={"list": {"s": ["RWx1"]}}),  # Elu
     "unsupported fused op Elu of node conv"),
    (lambda spec: spec["modelTopology"]["node"][9]["attr"].update(data_format={"s": "TkNIVw=="}),  # NCHW
     r"unsupported data format NCHW of node conv \(only NHWC\)"),
])
def test_a_model_it_cannot_run_is_refused_in_one_line_when_loaded(tmp_path, break_it, message):
    path, _ = write_model(str(tmp_path))
    _rewrite(path, break_it)
    with pytest.raises(DataError, match=message) as e:
        TFJSGraph(path)
    assert "\n" not in str(e.value)


def test_missing_or_broken_files_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="cannot read the TF.js model"):
        TFJSGraph(str(tmp_path / "absent.json"))
    path, _ = write_model(str(tmp_path))
    os.remove(os.path.join(tmp_path, "model.bin"))
    with pytest.raises(DataError, match="cannot read a weight shard .*model.bin"):
        TFJSGraph(path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(DataError, match="is not a TF.js model.json"):
        TFJSGraph(path)


def test_intermediate_maps_are_the_nodes_values_on_the_way_to_the_output(tmp_path):
    """maps() gives what the named nodes compute (here the fused conv, and the PReLU after it), and can be
    differentiated; a node the output does not need is refused in one line."""
    path, w = write_model(str(tmp_path))
    graph = TFJSGraph(path)
    x = tf.constant(np.random.default_rng(3).uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32))
    conv, prelu = graph.maps(x, ["conv", "prelu"])
    expected_conv = tf.nn.relu(tf.nn.conv2d(x, w["conv_w"], 1, "SAME") + w["conv_b"])
    np.testing.assert_allclose(conv.numpy(), expected_conv.numpy(), rtol=1e-5, atol=1e-6)
    expected_prelu = expected_conv + w["alpha"] * (expected_conv - tf.abs(expected_conv))
    np.testing.assert_allclose(prelu.numpy(), expected_prelu.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(graph.maps(x, ["out"])[0].numpy(), graph(x).numpy(), rtol=1e-6)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(graph.maps(x, ["prelu"])[0] ** 2)
    assert np.abs(tape.gradient(y, x).numpy()).max() > 0
    for name in ("nowhere", "fc_w"):
        with pytest.raises(DataError, match=f"no node '{name}' on the way to out") as e:
            graph.maps(x, [name])
        assert "\n" not in str(e.value)
