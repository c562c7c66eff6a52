"""How a process uses its CPU: the CPUs it may use, training's intra-op threads, MKL's kernels on AMD CPUs.

Threads: Paddle starts every process with one intra-op thread (``FLAGS_paddle_num_threads``), so
a training step leaves all cores but one idle. ``training_threads`` gives the process its share of
the CPUs it may run on (its affinity mask, so a container's or ``taskset``'s limit is respected;
under Paddle's launcher, one share per local process), less one CPU per DataLoader worker, which
decode and augment images at the same time. A count the user asked for (an argument, else
``OMP_NUM_THREADS``) wins. Importing Paddle sets ``OMP_NUM_THREADS=1`` where it is unset, so the
user's value is the one this module saw when imported: the package imports it before Paddle.

MKL: Paddle's CPU convolutions and matrix products are GEMMs of the MKL it ships (mklml 2019),
whose dispatcher gives CPUs of other vendors than Intel its generic kernels, several times slower
than its AVX2 ones. ``MKL_DEBUG_CPU_TYPE=5`` selects the AVX2 kernels, which any CPU with AVX2
runs; MKL reads it at its first call, and newer MKLs ignore it. ``use_mkl_avx2_kernels`` sets it
on AMD CPUs with AVX2 unless the user has set it.

``usable_cpus`` (a deployed runtime's threads by default too) and ``cpuinfo_fields`` (what
``deploy.running.cpu_features`` reads the instruction sets from) are the package's one count of
CPUs and one reader of ``/proc/cpuinfo``.
"""
import os
from collections import namedtuple

from .errors import UserError

LOCAL_PROCESSES_VARIABLE = "PADDLE_LOCAL_SIZE"  # set by paddle.distributed.launch: processes on this node
USER_VARIABLE = "OMP_NUM_THREADS"
USER_SETTING = os.environ.get(USER_VARIABLE, "")  # before Paddle's import overwrites an unset one
MKL_VARIABLE, MKL_AVX2 = "MKL_DEBUG_CPU_TYPE", "5"
CPUINFO = "/proc/cpuinfo"

ThreadCount = namedtuple("ThreadCount", "threads reason")


class ThreadSettingError(UserError, ValueError):
    """A thread count (an argument or an environment variable) that is not a positive integer."""


def usable_cpus():
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def training_threads(requested=None, num_workers=0, environ=None, cpus=None):
    """The intra-op thread count for one training process, with the reason for it.

    Args:
        requested (int, optional): A count the caller asked for; used as given.
        num_workers (int): DataLoader worker processes; each is left one CPU.
        environ (dict, optional): The environment (by default ``os.environ`` with the
            ``OMP_NUM_THREADS`` of before Paddle's import): ``OMP_NUM_THREADS`` is used when no
            count is requested, ``PADDLE_LOCAL_SIZE`` splits the CPUs.
        cpus (int, optional): CPUs the process may run on (``usable_cpus()`` by default).
    Returns:
        ThreadCount: ``threads`` (>= 1) and ``reason`` (a few words for the log).
    """
    environ = {**os.environ, USER_VARIABLE: USER_SETTING} if environ is None else environ
    if requested is not None:
        if requested < 1:
            raise ThreadSettingError(f"requested threads must be at least 1, got {requested}")
        return ThreadCount(requested, "requested")
    user_threads = _positive_integer(environ, USER_VARIABLE)
    if user_threads is not None:
        return ThreadCount(user_threads, f"from {USER_VARIABLE}")
    if num_workers < 0:
        raise ThreadSettingError(f"num_workers must be >= 0, got {num_workers}")
    cpus = usable_cpus() if cpus is None else cpus
    processes = _positive_integer(environ, LOCAL_PROCESSES_VARIABLE) or 1
    share = cpus // processes
    threads = max(1, share - num_workers)
    reason = f"{cpus} usable CPUs" + (f" / {processes} local processes" if processes > 1 else "")
    if num_workers:
        reason += f" - {num_workers} DataLoader workers"
    return ThreadCount(threads, reason)


def _positive_integer(environ, name):
    """The positive integer in ``environ[name]``, or None where it is unset or empty."""
    value = environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ThreadSettingError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def set_threads(threads):
    """Give Paddle's CPU kernels (OpenMP, MKL, oneDNN) ``threads`` intra-op threads in this process."""
    from paddle.base import core
    core.set_num_threads(threads)


def use_mkl_avx2_kernels(environ=None, cpuinfo=CPUINFO):
    """Set ``MKL_DEBUG_CPU_TYPE=5`` in ``environ`` (``os.environ``) on an AMD CPU with AVX2, unless set.

    Call it before Paddle's first computation: MKL reads the variable once. Returns True where it
    set the variable.
    """
    environ = os.environ if environ is None else environ
    fields = cpuinfo_fields(cpuinfo)
    if (MKL_VARIABLE in environ or fields.get("vendor_id") != "AuthenticAMD"
            or "avx2" not in fields.get("flags", "").split()):
        return False
    environ[MKL_VARIABLE] = MKL_AVX2
    return True


def cpuinfo_fields(cpuinfo=CPUINFO):
    """The fields of ``/proc/cpuinfo`` ("vendor_id", "model name", "flags", ...), each as the first
    CPU listing it gives it; {} where the file is missing (not Linux).

    The one reader of the file: MKL's kernel choice here, the instruction sets that deployment's
    choices depend on (``deploy.running.cpu_features``).
    """
    fields = {}
    try:
        with open(cpuinfo) as file:
            for line in file:
                key, separator, value = line.partition(":")
                if separator and value.strip():
                    fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def apply_training_settings(requested_threads=None, num_workers=0, environ=None):
    """Set up this process's CPU for training (threads, MKL's kernels); one log line saying how."""
    count = training_threads(requested_threads, num_workers, environ)
    mkl = use_mkl_avx2_kernels()
    set_threads(count.threads)
    return (f"CPU threads: {count.threads} ({count.reason})"
            + (f"; {MKL_VARIABLE}={MKL_AVX2} (MKL's AVX2 kernels on this AMD CPU)" if mkl else ""))
