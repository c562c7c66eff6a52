"""Training's CPU settings: the thread-count policy and MKL's kernel choice, on fake machines."""
import pytest

from paddleseg_liteseg.cpu_settings import (ThreadSettingError, cpuinfo_fields, training_threads, use_mkl_avx2_kernels)


@pytest.mark.parametrize("cpus, workers, environ, threads", [
    (8, 0, {}, 8),
    (8, 2, {}, 6),
    (2, 4, {}, 1),  # never below one
    (8, 0, {"PADDLE_LOCAL_SIZE": "4"}, 2),  # launcher: each local process gets its share
    (8, 1, {"PADDLE_LOCAL_SIZE": "2"}, 3),
    (3, 0, {"PADDLE_LOCAL_SIZE": "4"}, 1),
    (8, 0, {"OMP_NUM_THREADS": "3"}, 3),  # the user's setting wins over the policy
    (8, 2, {"OMP_NUM_THREADS": "3", "PADDLE_LOCAL_SIZE": "4"}, 3),
])
def test_threads_are_this_process_share_less_the_workers(cpus, workers, environ, threads):
    assert training_threads(num_workers=workers, environ=environ, cpus=cpus).threads == threads


def test_a_requested_count_wins_over_everything():
    count = training_threads(5, num_workers=3, environ={"OMP_NUM_THREADS": "2"}, cpus=2)
    assert count == (5, "requested")


def test_the_reason_says_where_the_count_came_from():
    assert training_threads(environ={"OMP_NUM_THREADS": "3"}, cpus=8).reason == "from OMP_NUM_THREADS"
    reason = training_threads(num_workers=1, environ={"PADDLE_LOCAL_SIZE": "2"}, cpus=8).reason
    assert reason == "8 usable CPUs / 2 local processes - 1 DataLoader workers"


def test_the_affinity_mask_is_the_default_cpu_count(monkeypatch):
    from paddleseg_liteseg import cpu_settings
    monkeypatch.setattr(cpu_settings.os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert training_threads(environ={}).threads == 3


@pytest.mark.parametrize("requested, environ", [(0, {}), (None, {"OMP_NUM_THREADS": "two"}),
                                                (None, {"OMP_NUM_THREADS": "0"}),
                                                (None, {"PADDLE_LOCAL_SIZE": "-1"})])
def test_bad_counts_are_refused(requested, environ):
    with pytest.raises(ThreadSettingError):
        training_threads(requested, environ=environ, cpus=4)


def _cpuinfo(tmp_path, vendor, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nvendor_id\t: {vendor}\nflags\t\t: {flags}\n\n"
                    f"processor\t: 1\nvendor_id\t: {vendor}\nflags\t\t: {flags}\n")
    return str(path)


@pytest.mark.parametrize("vendor, flags, environ, set_it", [
    ("AuthenticAMD", "fpu sse avx avx2 fma", {}, True),
    ("AuthenticAMD", "fpu sse avx", {}, False),  # no AVX2: MKL's AVX2 kernels would not run
    ("GenuineIntel", "fpu sse avx avx2 fma", {}, False),  # MKL dispatches Intel CPUs itself
    ("AuthenticAMD", "avx2", {"MKL_DEBUG_CPU_TYPE": "4"}, False),  # the user's setting stays
])
def test_mkl_gets_its_avx2_kernels_on_amd_cpus_only(tmp_path, vendor, flags, environ, set_it):
    before = dict(environ)
    assert use_mkl_avx2_kernels(environ, _cpuinfo(tmp_path, vendor, flags)) is set_it
    assert environ == ({**before, "MKL_DEBUG_CPU_TYPE": "5"} if set_it else before)


def test_cpuinfo_fields_are_the_first_cpus(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2\n"
                    "power management:\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\nflags\t\t: fpu\n")
    fields = cpuinfo_fields(str(path))
    assert (fields["processor"], fields["vendor_id"], fields["model name"], fields["flags"]) == \
        ("0", "AuthenticAMD", "AMD EPYC", "fpu avx2")
    assert "power management" not in fields  # a field without a value is left out


def test_a_machine_without_cpuinfo_is_left_alone(tmp_path):
    assert cpuinfo_fields(str(tmp_path / "missing")) == {}
    environ = {}
    assert not use_mkl_avx2_kernels(environ, str(tmp_path / "missing")) and environ == {}
