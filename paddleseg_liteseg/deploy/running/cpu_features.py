"""What the CPU at hand can run: its model name and instruction-set flags, from ``/proc/cpuinfo``.

bf16 is offered only where the CPU has bf16 instructions (``avx512_bf16`` or AMX's ``amx_bf16``):
elsewhere runtimes emulate it, slower than fp32. Only AMX's tile units multiply bf16 at several
times the fp32 rate; ``avx512_bf16`` alone has bf16 dot products at about the fp32 rate, where
bf16 mostly saves memory traffic, so whether it wins there is left to measurement (``tune``).
Without VNNI (``avx512_vnni``, ``avx_vnni`` or AMX's ``amx_int8``), int8 kernels sum uint8 x int8
products in saturating 16-bit pairs, exact only for 7-bit weights: ``int8_products_exact``.
The instruction-set flags also key tuning results (``tune.py``), so a model directory copied to
another kind of CPU is re-tuned.

``PADDLESEG_LITESEG_HIDE_CPU_FLAGS`` (flags separated by spaces) hides flags the CPU has, so that
every choice made here (7-bit int8 weights, bf16, the tuning key) is made as on a CPU without them:
an export for an AVX2-only fleet made on a newer machine, or the test suite run as such a CPU runs it.
"""
import os
import platform
from collections import namedtuple

from ...cpu_settings import CPUINFO, cpuinfo_fields

HIDE_FLAGS_ENV = "PADDLESEG_LITESEG_HIDE_CPU_FLAGS"
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
# Flags that decide which kernels a runtime can use; others (bugs, virtualisation) vary between
# hosts of the same CPU and would make every copy look like another machine.
ISA_PREFIXES = ("sse", "ssse", "avx", "amx", "fma", "f16c", "vnni")

CpuInfo = namedtuple("CpuInfo", ["model", "flags"])


def read_cpu_info(path=CPUINFO):
    """The CPU's model name and its instruction-set flags (an empty set where the file is missing),
    less those ``HIDE_FLAGS_ENV`` hides."""
    fields = cpuinfo_fields(path)
    hidden = set(os.environ.get(HIDE_FLAGS_ENV, "").split())
    isa = frozenset(flag for flag in fields.get("flags", "").split()
                    if flag.startswith(ISA_PREFIXES) and flag not in hidden)
    return CpuInfo(fields.get("model name") or platform.processor() or platform.machine(), isa)


def bf16_flags(info=None):
    """The bf16 instruction sets this CPU has, e.g. ``["avx512_bf16"]``."""
    info = info or read_cpu_info()
    return [flag for flag in BF16_FLAGS if flag in info.flags]


def bf16_matrix_units(info=None):
    """Whether the CPU has AMX's bf16 tile units (``amx_bf16``), where bf16 clearly beats fp32."""
    return "amx_bf16" in (info or read_cpu_info()).flags


def bf16_unavailable(info=None):
    """Why bf16 cannot run fast here, or None where the CPU has bf16 instructions."""
    info = info or read_cpu_info()
    if bf16_flags(info):
        return None
    return (f"this CPU ({info.model}) has no bf16 instructions ({' or '.join(BF16_FLAGS)}); "
            "bf16 would be emulated, slower than fp32")


def int8_products_exact(info=None):
    """Whether the CPU's int8 dot products (VNNI or AMX) sum full 8-bit weights without saturating;
    elsewhere (AVX2) int8 weights must keep to 7 bits to stay exact."""
    return any(flag in (info or read_cpu_info()).flags for flag in VNNI_FLAGS)
