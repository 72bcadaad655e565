"""tfface.litert: .tflite models on ai_edge_litert, without TensorFlow."""

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from tfface import litert, pretrained  # noqa: E402

ENTRIES = pretrained.entries(pretrained.HERE)


@pytest.mark.skipif(not ENTRIES, reason="no bundled editor")
def test_runner_uses_every_usable_cpu_by_default_and_threads_do_not_change_the_edit():
    path = pretrained.tflite_file(ENTRIES[0], "float16", pretrained.HERE)
    default, single = litert.Runner(path, "add_tensor"), litert.Runner(path, "add_tensor", num_threads=1)
    assert default.num_threads == litert.usable_cpus() >= 1
    size = default.input_shape("images")[1]
    x = np.random.default_rng(0).random((2, size, size, 3)).astype(np.float32)
    a = default(images=x, strength=np.ones([2]))["edited"]
    b = single(images=x, strength=np.ones([2]))["edited"]
    assert a.shape == (2, size, size, 3) and np.isfinite(a).all()
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert np.abs(a - x).max() > 1e-3, "the editor changed the faces"


@pytest.mark.skipif(not ENTRIES, reason="no bundled editor")
def test_runner_rejects_a_thread_count_below_one():
    path = pretrained.tflite_file(ENTRIES[0], "float16", pretrained.HERE)
    with pytest.raises(ValueError):
        litert.Runner(path, "add_tensor", num_threads=0)
