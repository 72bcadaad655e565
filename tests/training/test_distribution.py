"""Which precision this machine computes natively, and the warning for emulated bfloat16."""

import pytest
import tensorflow as tf

from tfface.training import distribution

EPYC = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\nbogomips\t: 4800\n"
INTEL_AMX = "flags\t\t: fpu avx512f amx_bf16 amx_tile amx_int8\n"
OLDER = "flags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"

no_gpu = pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="a GPU decides precision itself")


@pytest.mark.parametrize("text,native", [(EPYC, True), (INTEL_AMX, True), (OLDER, False), ("processor\t: 0\n", None)])
def test_native_bfloat16_reads_the_cpu_flags(tmp_path, text, native):
    info = tmp_path / "cpuinfo"
    info.write_text(text)
    assert distribution.native_bfloat16(str(info)) is native


def test_native_bfloat16_is_unknown_without_cpuinfo(tmp_path):
    assert distribution.native_bfloat16(str(tmp_path / "missing")) is None


@no_gpu
def test_bfloat16_on_a_cpu_that_emulates_it_gets_one_warning_line(tmp_path):
    older, epyc = tmp_path / "older", tmp_path / "epyc"
    older.write_text(OLDER)
    epyc.write_text(EPYC)
    warning = distribution.precision_warning("bfloat16", str(older))
    assert warning.startswith("warning: this CPU has no native bfloat16") and "\n" not in warning
    assert distribution.precision_warning("bfloat16", str(epyc)) is None
    assert distribution.precision_warning("float32", str(older)) is None
    assert distribution.precision_warning("bfloat16", str(tmp_path / "missing")) is None  # unknown: no claim
