"""Which backend and precision ``infer`` runs, and why: forced, tuned on this machine, or by CPU capability.

1. A backend given: that backend, at the precision given (fp32 when none is).
2. Backend "auto" and no precision given: the choice ``paddleseg tune`` measured for this CPU,
   thread count and input shape (``tuning.json``); an entry for another machine, thread count or
   shape is not used, and the reason says so.
3. Otherwise by capability: bf16 on OpenVINO where the CPU has AMX's bf16 units and OpenVINO is
   installed, else fp32 on the first installed backend of the fallback order (``runtimes``). With
   ``avx512_bf16`` alone bf16 runs, but is not reliably faster than fp32 (``cpu_features``), so
   only tuning chooses it there.
"""
from collections import namedtuple

from .cpu_features import bf16_flags, bf16_matrix_units, bf16_unavailable
from .runtimes import BACKENDS, choose_backend, default_threads
from .tuning_file import tuned_choice, tuning_key

Choice = namedtuple("Choice", ["backend", "precision", "reason"])


def choose_runtime(model, backend="auto", device="cpu", precision=None, threads=None, input_shape=None):
    """The ``Choice`` (backend, precision, reason in words) for ``model`` (an ExportedModel), this
    machine and the input shape."""
    if backend != "auto":
        return Choice(backend, precision or "fp32", "backend given")
    if precision is not None:
        return Choice(choose_backend(model, device, precision), precision,
                      "precision given; the first installed backend that runs it")
    input_shape = input_shape or model.fixed_shape
    not_tuned = "input shape unknown, tuning not consulted"
    if input_shape is not None:
        key = tuning_key(device, threads or default_threads(), input_shape)
        tuned, not_tuned = tuned_choice(model.directory, key)
        if tuned:
            cannot = BACKENDS[tuned.backend].unavailable(model, device, tuned.precision)
            if not cannot:
                return Choice(tuned.backend, tuned.precision, not_tuned)
            not_tuned = f"the tuned {tuned} cannot run now ({cannot})"
    if device == "cpu" and bf16_matrix_units() and not bf16_unavailable():
        if not BACKENDS["openvino"].unavailable(model, device, "bf16"):
            return Choice("openvino", "bf16", f"CPU capability: {' and '.join(bf16_flags())}; {not_tuned}")
        why_fp32 = f"CPU capability: bf16 needs openvino here, which cannot run it; {not_tuned}"
    elif device == "cpu" and not bf16_unavailable():
        why_fp32 = (f"CPU capability: {' and '.join(bf16_flags())} without AMX, where bf16 is not reliably "
                    f"faster than fp32 (tuning measures it); {not_tuned}")
    elif device == "cpu":
        why_fp32 = f"CPU capability: no bf16 instructions; {not_tuned}"
    else:
        why_fp32 = f"GPU; {not_tuned}"
    return Choice(choose_backend(model, device, "fp32"), "fp32", why_fp32)

