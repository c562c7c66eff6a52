"""CPU capabilities from /proc/cpuinfo: the model name, the instruction-set flags, whether bf16 runs."""
import pytest

from paddleseg_liteseg.deploy.running.cpu_features import (HIDE_FLAGS_ENV, bf16_flags, bf16_matrix_units, bf16_unavailable, int8_products_exact, read_cpu_info)

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Example 1234
flags\t\t: fpu sse sse2 ssse3 avx avx2 fma avx512f avx512_vnni {extra} hypervisor arch_perfmon
bugs\t\t: spectre_v1

processor\t: 1
model name\t: Intel(R) Xeon(R) Example 1234
flags\t\t: fpu sse sse2 ssse3 avx avx2 fma avx512f avx512_vnni {extra} hypervisor arch_perfmon
"""


@pytest.fixture(autouse=True)
def all_flags_shown(monkeypatch):
    """These tests read made-up cpuinfo files, whatever flags the suite's run hides."""
    monkeypatch.delenv(HIDE_FLAGS_ENV, raising=False)


def _cpuinfo(tmp_path, extra=""):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra=extra))
    return str(path)


def test_reads_the_model_and_only_instruction_set_flags(tmp_path):
    info = read_cpu_info(_cpuinfo(tmp_path, "avx512_bf16 amx_bf16 amx_int8"))
    assert info.model == "Intel(R) Xeon(R) Example 1234"
    assert {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8", "sse2", "fma"} <= info.flags
    assert not {"hypervisor", "arch_perfmon", "fpu", "spectre_v1"} & info.flags
    assert bf16_flags(info) == ["avx512_bf16", "amx_bf16"] and bf16_unavailable(info) is None
    assert bf16_matrix_units(info)
    without_amx = read_cpu_info(_cpuinfo(tmp_path, "avx512_bf16"))
    assert bf16_flags(without_amx) == ["avx512_bf16"] and not bf16_matrix_units(without_amx)


def test_bf16_is_refused_without_bf16_instructions(tmp_path):
    info = read_cpu_info(_cpuinfo(tmp_path))
    reason = bf16_unavailable(info)
    assert "Example 1234" in reason and "avx512_bf16 or amx_bf16" in reason


def test_a_machine_without_cpuinfo_has_no_flags(tmp_path):
    info = read_cpu_info(str(tmp_path / "missing"))
    assert info.flags == frozenset() and info.model and bf16_unavailable(info)


def test_int8_products_are_exact_with_vnni_or_amx_only(tmp_path):
    """AVX2 alone sums int8 products in saturating 16-bit pairs: 7-bit weights there."""
    assert int8_products_exact(read_cpu_info(_cpuinfo(tmp_path)))  # avx512_vnni
    without_vnni = tmp_path / "avx2"
    without_vnni.write_text(CPUINFO.format(extra="").replace(" avx512_vnni", ""))
    assert not int8_products_exact(read_cpu_info(str(without_vnni)))
    without_vnni.write_text(CPUINFO.format(extra="amx_int8").replace(" avx512_vnni", ""))
    assert int8_products_exact(read_cpu_info(str(without_vnni)))


def test_hidden_flags_make_every_choice_as_a_cpu_without_them(tmp_path, monkeypatch):
    """PADDLESEG_LITESEG_HIDE_CPU_FLAGS: an AVX-512 VNNI + bf16 CPU read as an AVX2-only one."""
    path = _cpuinfo(tmp_path, "avx512_bf16")
    monkeypatch.setenv(HIDE_FLAGS_ENV, "avx512f avx512_vnni avx512_bf16")
    info = read_cpu_info(path)
    assert "avx2" in info.flags and not {"avx512f", "avx512_vnni", "avx512_bf16"} & info.flags
    assert not int8_products_exact(info) and bf16_unavailable(info)
