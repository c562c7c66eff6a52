"""What a server is told: the model, how to run it, and the limits on what callers may send.

``paddleseg serve`` builds one ``ServeSettings``; with ``--workers N`` each worker process reads it
back from the environment (uvicorn starts workers from an import string, so the settings cannot be
handed over as an object).
"""
import dataclasses
import json
import os

ENVIRONMENT_KEY = "PADDLESEG_SERVE_SETTINGS"
API_KEY_ENVIRONMENT = "PADDLESEG_SERVE_API_KEY"


@dataclasses.dataclass(frozen=True)
class ServeSettings:
    """One server's model, runtime and limits.

    Args:
        model_dir (str | None): A directory written by ``paddleseg export``.
        config (str | None): A config (file or shipped name) whose model runs in dygraph, with
            ``model_path``; used where ``model_dir`` is None.
        model_path (str | None): The checkpoint of ``config``'s model.
        backend, device, precision, threads, input_shape: As ``Predictor`` takes them.
        max_batch_size (int | None): Requests run together at most; None measures at start-up
            whether batches are faster here and batches only if they are; 1 turns batching off.
        batch_timeout_ms (float): How long the first request of a batch waits for others.
        max_body_mb (float): Largest request body accepted (413 above it).
        max_megapixels (float): Largest decoded image accepted, read from its header before
            decoding (422 above it).
        api_key (str | None): Callers must send it (``X-API-Key`` or ``Authorization: Bearer``).
        allow_url_hosts (tuple[str]): Hosts whose URLs the server may fetch an image from.
        url_timeout_s (float): Time limit of one URL fetch.
        visualize (bool): PaddleX's default for ``visualize`` when a request leaves it out.
        slide (SlideWindow | bool | None): An exported model's sliding window, as ``Predictor``
            takes it (None: as its deploy.yaml says; False: never). PaddleX's ``targetSize``
            resizes the image first, as ever.
    """

    model_dir: str | None = None
    config: str | None = None
    model_path: str | None = None
    backend: str = "auto"
    device: str | None = None
    precision: str | None = None
    threads: int | None = None
    input_shape: tuple | None = None
    max_batch_size: int | None = None
    batch_timeout_ms: float = 10.0
    max_body_mb: float = 20.0
    max_megapixels: float = 40.0
    api_key: str | None = None
    allow_url_hosts: tuple = ()
    url_timeout_s: float = 10.0
    visualize: bool = True
    slide: object = None

    def __post_init__(self):
        if (self.model_dir is None) == (self.config is None):
            raise ValueError("ServeSettings: give model_dir (an exported model) or config (with model_path)")
        for name in ("max_body_mb", "max_megapixels", "url_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"ServeSettings.{name} must be > 0, got {getattr(self, name)}")
        if self.max_batch_size is not None and self.max_batch_size < 1:
            raise ValueError(f"ServeSettings.max_batch_size must be >= 1 or None, got {self.max_batch_size}")
        if self.batch_timeout_ms < 0:
            raise ValueError(f"ServeSettings.batch_timeout_ms must be >= 0, got {self.batch_timeout_ms}")

    @property
    def max_body_bytes(self):
        """``max_body_mb`` in bytes: the limit on a request's body, an upload and a URL's image."""
        return int(self.max_body_mb * 1e6)

    def to_environment(self):
        """The settings as the environment variable a worker process reads (the API key apart)."""
        fields = dataclasses.asdict(self)
        api_key = fields.pop("api_key")
        environment = {ENVIRONMENT_KEY: json.dumps(fields)}
        if api_key:
            environment[API_KEY_ENVIRONMENT] = api_key
        return environment

    @classmethod
    def from_environment(cls, environment=None):
        environment = os.environ if environment is None else environment
        if ENVIRONMENT_KEY not in environment:
            raise ValueError(f"{ENVIRONMENT_KEY} is not set: start the server with `paddleseg serve`")
        fields = json.loads(environment[ENVIRONMENT_KEY])
        for name in ("input_shape", "allow_url_hosts"):
            if fields[name] is not None:
                fields[name] = tuple(fields[name])
        if isinstance(fields.get("slide"), dict):  # a SlideWindow, written as its fields
            from ..deploy.running.sliding_window import SlideWindow
            fields["slide"] = SlideWindow(**fields["slide"])
        return cls(**fields, api_key=environment.get(API_KEY_ENVIRONMENT) or None)
