import subprocess
import sys
import textwrap

import pytest


@pytest.mark.slow
def test_uncaught_error_with_a_live_pipeline_exits_instead_of_hanging():
    # A traceback that keeps a tf.data iterator (with Python calls in flight)
    # alive used to deadlock interpreter shutdown; tfface.data.pipeline frees
    # iterators at exit.
    code = textwrap.dedent(
        """
        from tfface.data.sources import load_domains
        def main():
            it = iter(load_domains("synthetic", "Eyeglasses", 128).train_dataset(32))
            next(it)
            raise RuntimeError("boom")
        main()
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "RuntimeError: boom" in proc.stderr
