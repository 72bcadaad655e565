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


@pytest.mark.skipif(not ENTRIES, reason="no bundled editor")
def test_calls_from_several_threads_each_get_their_own_result():
    """The web demo edits two requests at once with one runner per editor."""
    from concurrent.futures import ThreadPoolExecutor

    runner = litert.Runner(pretrained.tflite_file(ENTRIES[0], "float16", pretrained.HERE), "add_tensor")
    size = runner.input_shape("images")[1]
    rng = np.random.default_rng(0)
    batches = [rng.random((n, size, size, 3)).astype(np.float32) for n in (1, 3)]
    want = [runner(images=x, strength=np.ones([len(x)]))["edited"] for x in batches]

    def one(i):
        x = batches[i % 2]
        return runner(images=x, strength=np.ones([len(x)]))["edited"]

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(one, range(40)))
    for i, edited in enumerate(got):
        np.testing.assert_allclose(edited, want[i % 2], atol=1e-6, err_msg=f"call {i}")
