"""One entry of ``tuning.json``: what ``paddleseg tune`` measured for one machine, thread count and
input shape, the runtime it chose and why. ``tune`` writes it and ``infer`` reads it through these
types; fields an older ``tune`` did not write read as None and are not written back."""
import dataclasses

from .runtime_id import RuntimeId


@dataclasses.dataclass
class TunedRow:
    """One runtime's row of the table, filled in as ``tune`` measures: its labels against Paddle
    Inference fp32's (``agreement``, and ``miou`` where the images have labels), whether it is within
    the limits (``why_not`` where not), and its times in ms over ``runs`` timed rounds (min, median,
    max, and the median's 95% interval as [low, high])."""

    backend: str
    precision: str
    agreement: float
    miou: float | None = None
    eligible: bool | None = None
    why_not: str | None = None
    min_ms: float | None = None
    median_ms: float | None = None
    max_ms: float | None = None
    median_interval_ms: list | None = None
    runs: int | None = None

    @property
    def runtime(self):
        return RuntimeId(self.backend, self.precision)

    def to_dict(self):
        """The row as ``tuning.json`` holds it: ``why_not`` always, other fields where measured."""
        return {name: value for name, value in dataclasses.asdict(self).items()
                if value is not None or name == "why_not"}

    @classmethod
    def from_dict(cls, stored):
        return cls(**stored)


@dataclasses.dataclass(frozen=True)
class TuningEntry:
    """The entry of one tuning key (``tuning_file.tuning_key``: device, CPU model and flags, threads,
    input shape): the runtime chosen and why, the limits it was chosen within (``max_miou_drop`` a
    fraction), the images, the timed rounds ({"min", "max", "max_seconds", "timed"}), the UTC date,
    the table's rows and the runtimes that could not run ({"backend precision": why})."""

    key: dict
    choice: RuntimeId
    date: str
    rows: list
    skipped: dict
    why: str | None = None
    min_agreement: float | None = None
    max_miou_drop: float | None = None
    min_lossy_gain: float | None = None
    images: int | None = None
    labelled: bool | None = None
    rounds: dict | None = None

    def to_dict(self):
        """The entry as ``tuning.json`` holds it, leaving out the fields it does not have."""
        stored = {"key": self.key, "choice": {"backend": self.choice.backend, "precision": self.choice.precision},
                  "why": self.why, "min_agreement": self.min_agreement, "max_miou_drop": self.max_miou_drop,
                  "min_lossy_gain": self.min_lossy_gain, "images": self.images, "labelled": self.labelled,
                  "rounds": self.rounds, "date": self.date, "rows": [row.to_dict() for row in self.rows],
                  "skipped": self.skipped}
        return {name: value for name, value in stored.items() if value is not None}

    @classmethod
    def from_dict(cls, stored):
        fields = dict(stored, choice=RuntimeId(stored["choice"]["backend"], stored["choice"]["precision"]),
                      rows=[TunedRow.from_dict(row) for row in stored["rows"]])
        return cls(**fields)
