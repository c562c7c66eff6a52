"""``paddleseg serve``: an exported model (or a config's) behind HTTP, PaddleX's protocol included."""
import ipaddress

from ...errors import UserError
from . import slide_flags

SERVE_MODULES = ("fastapi", "fastapi_offline", "uvicorn", "prometheus_client", "orjson", "python_multipart")
LOOPBACK_NAMES = ("localhost",)


def add_arguments(parser):
    from ...deploy.running.runtimes import BACKENDS

    parser.add_argument("--model_dir", default=None, help="A directory written by `paddleseg export`.")
    parser.add_argument("--config", default=None,
                        help="Instead of --model_dir: a config (file or shipped name) whose model runs in dygraph.")
    parser.add_argument("--model_path", default=None, help="The checkpoint of --config's model.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="Address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes it).")
    parser.add_argument("--port", type=int, default=8080, help="Port (8080, as PaddleX).")
    parser.add_argument("--backend", default="auto", choices=["auto", *BACKENDS],
                        help="Runtime, as `paddleseg infer` chooses it.")
    parser.add_argument("--device", default=None, choices=["cpu", "gpu"],
                        help="Device (default: gpu when Paddle sees one, else cpu).")
    parser.add_argument("--precision", default=None, choices=["fp32", "fp16", "bf16", "int8"],
                        help="As `paddleseg infer --precision`.")
    parser.add_argument("--cpu_threads", type=int, default=None,
                        help="CPU threads of each worker's runtime (default: the cores shared among the workers).")
    parser.add_argument("--input_shape", nargs=4, type=int, default=None, metavar=("N", "C", "H", "W"),
                        help="The input most requests will have: picks the `paddleseg tune` result measured for it "
                             "and the start-up batching measurement's size.")
    parser.add_argument("--workers", type=int, default=1,
                        help="Worker processes, each with its own model; one that dies is replaced.")
    parser.add_argument("--max_batch_size", default="auto",
                        help="Concurrent requests of one image size run as one batch of at most this many; "
                             "auto (default) batches only where a batch measured faster at start-up; 1: off.")
    parser.add_argument("--batch_timeout_ms", type=float, default=10.0,
                        help="How long a batch waits for requests already on their way.")
    parser.add_argument("--max_body_mb", type=float, default=20.0, help="Largest request body (413 above it).")
    parser.add_argument("--max_megapixels", type=float, default=40.0,
                        help="Largest image, read from its header before decoding (413 above it).")
    parser.add_argument("--api_key", default=None,
                        help="Callers must send this key (X-API-Key or Authorization: Bearer); default: the "
                             "PADDLESEG_SERVE_API_KEY environment variable, else none.")
    parser.add_argument("--allow_url_hosts", nargs="+", default=[],
                        help="Hosts whose image URLs the server may fetch (PaddleX accepts URLs); default: none.")
    parser.add_argument("--url_timeout_s", type=float, default=10.0, help="Time limit of one URL fetch.")
    parser.add_argument("--visualize", default="True", choices=["True", "False"],
                        help="Whether PaddleX requests without `visualize` get the overlay image (PaddleX: True).")
    slide_flags.add_arguments(parser, "one window a run (with --model_dir)")


def run(args):
    import os
    import signal
    import tempfile

    from ...deploy.running.runtimes import default_threads, missing_package
    from ...serving.settings import API_KEY_ENVIRONMENT, ServeSettings
    from ..common.flags import in_flag_terms

    missing = [module for module in SERVE_MODULES if missing_package(module, "serve")]
    if missing:
        raise UserError(f"{', '.join(missing)} not installed: pip install 'paddleseg-liteseg[serve]'")
    if (args.model_dir is None) == (args.config is None):
        raise UserError("give --model_dir (a directory written by `paddleseg export`) or --config with --model_path")
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    max_batch_size = _max_batch_size(args.max_batch_size)
    slide = None  # the Predictor takes deploy.yaml's window
    if args.is_slide or args.no_slide or args.crop_size or args.stride:
        if args.model_dir is None:
            raise UserError("--is_slide and --no_slide apply to --model_dir; a --config's test_config slides its model")
        with in_flag_terms(paths={"--model_dir": args.model_dir}, arguments=slide_flags.ARGUMENTS):
            slide = slide_flags.window(args) or False
    settings = ServeSettings(
        model_dir=args.model_dir, config=args.config, model_path=args.model_path, backend=args.backend,
        device=args.device, precision=args.precision,
        threads=args.cpu_threads or max(1, default_threads() // args.workers),
        input_shape=tuple(args.input_shape) if args.input_shape else None,
        max_batch_size=max_batch_size, batch_timeout_ms=args.batch_timeout_ms,
        max_body_mb=args.max_body_mb, max_megapixels=args.max_megapixels,
        api_key=args.api_key or os.environ.get(API_KEY_ENVIRONMENT) or None,
        allow_url_hosts=tuple(args.allow_url_hosts), url_timeout_s=args.url_timeout_s,
        visualize=args.visualize == "True", slide=slide)
    print(_listening_line(args, settings), flush=True)
    if not _is_loopback(args.host):
        print(f"warning: --host {args.host} makes the server reachable from other machines"
              + ("" if settings.api_key else "; anyone who reaches it can use the model (set --api_key)"), flush=True)

    stopped = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))  # uvicorn hands SIGTERM back here
    if args.workers == 1:
        _serve(settings, args)
    else:
        with tempfile.TemporaryDirectory(prefix="paddleseg-serve-metrics-") as metrics_dir:
            os.environ.update(settings.to_environment(), PROMETHEUS_MULTIPROC_DIR=metrics_dir)
            _serve(settings, args)
    print("Stopped" + (" on SIGTERM, after the requests in flight were answered" if stopped else ""), flush=True)
    return 0


def _serve(settings, args):
    import logging

    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    options = dict(host=args.host, port=args.port, access_log=False, log_config=None)
    if args.workers == 1:
        from ...serving.app import create_app

        uvicorn.run(create_app(settings), **options)
    else:
        uvicorn.run("paddleseg_liteseg.serving.app:create_app_from_environment", factory=True,
                    workers=args.workers, **options)


def _max_batch_size(value):
    if value == "auto":
        return None
    if not value.isdigit() or int(value) < 1:
        raise UserError(f"--max_batch_size: expected auto or a whole number >= 1, got {value!r}")
    return int(value)


def _listening_line(args, settings):
    """One line: where it listens, what runs (backend, precision, why) and how to call it."""
    from ...api import default_device

    base = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}"
    if settings.model_dir:
        from ...deploy.exporting.exported_model import ExportedModel
        from ...deploy.running.runtime_choice import choose_runtime
        from ..common.flags import in_flag_terms

        with in_flag_terms(paths={"--model_dir": settings.model_dir}):
            choice = choose_runtime(ExportedModel.read(settings.model_dir), settings.backend,
                                    settings.device or default_device(), settings.precision, settings.threads,
                                    list(settings.input_shape) if settings.input_shape else None)
        runs = f"{settings.model_dir} on {choice.backend} {choice.precision} ({choice.reason})"
    else:
        runs = f"{settings.config} in dygraph"
    key = " -H 'X-API-Key: ...'" if settings.api_key else ""
    return (f"Serving {runs} at {base} with {args.workers} worker(s), {settings.threads} thread(s) each; "
            f"call: curl{key} -F file=@image.jpg {base}/segment -o labels.png, or PaddleX's POST {base}/semantic-segmentation; "
            f"page {base}/, API {base}/docs")


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in LOOPBACK_NAMES
