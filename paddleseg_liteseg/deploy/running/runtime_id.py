"""Which runtime a measurement or a choice is about: a backend at a precision, and a variant of its
settings (Paddle Inference with oneDNN off). A typed value, so tables, JSON and rates are keyed by it
instead of by strings built and parsed back."""
import dataclasses


@dataclasses.dataclass(frozen=True, order=True)
class RuntimeId:
    backend: str
    precision: str
    variant: str = ""

    def __str__(self):
        return " ".join(part for part in (self.backend, self.precision, self.variant) if part)
