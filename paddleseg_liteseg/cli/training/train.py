"""``paddleseg train``: PaddleSeg's ``tools/train.py`` with the plugin loaded."""
import argparse

from ..common.config_flags import add_config_argument, add_device_argument, load, set_device
from .val import add_report_arguments

DATA_CHECK_SAMPLES = 200  # read before training; paddleseg check-data reads them all


def add_arguments(parser):
    add_config_argument(parser)
    add_device_argument(parser)
    parser.add_argument("--save_dir", default="./output", help="Directory for checkpoints and logs.")
    parser.add_argument("--num_workers", type=int, default=0, help="Data loader worker processes.")
    parser.add_argument("--cpu_threads", type=positive_int, default=None,
                        help="Paddle's intra-op CPU threads (default: OMP_NUM_THREADS if set, else the CPUs this "
                             "process may use, shared among a launcher's local processes, less one per "
                             "--num_workers).")
    parser.add_argument("--do_eval", action="store_true",
                        help="Evaluate at every save_interval, with a report in save_dir/eval/iter_N/ "
                             "(the best in save_dir/eval/best/).")
    parser.add_argument("--use_vdl", action="store_true",
                        help="Write a VisualDL log to save_dir (with --do_eval, evaluation pictures to "
                             "save_dir/eval/vdl).")
    parser.add_argument("--use_ema", action="store_true", help="Keep an exponential moving average of the weights.")
    parser.add_argument("--resume_model", default=None,
                        help="Checkpoint directory (save_dir/iter_N) to continue training from, or "
                             "'auto' for the newest complete checkpoint in --save_dir (if any).")
    parser.add_argument("--iters", type=int, default=None, help="Training iterations (overrides the config).")
    parser.add_argument("--batch_size", type=int, default=None, help="Batch size per device (overrides the config).")
    parser.add_argument("--learning_rate", type=float, default=None, help="Learning rate (overrides the config).")
    parser.add_argument("--save_interval", type=int, default=1000, help="Iterations between checkpoints.")
    parser.add_argument("--log_iters", type=int, default=10, help="Iterations between log lines.")
    parser.add_argument("--keep_checkpoint_max", type=int, default=5, help="Checkpoints to keep.")
    parser.add_argument("--seed", type=int, default=None, help="Random seed.")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "fp16"], help="fp16 trains with AMP.")
    parser.add_argument("--amp_level", default="O1", choices=["O1", "O2"], help="AMP level for fp16.")
    parser.add_argument("--profiler_options", default=None, help="PaddleSeg train profiler options.")
    parser.add_argument("--repeats", type=int, default=1, help="Repeat the training samples per epoch.")
    parser.add_argument("--skip_data_check", action="store_true",
                        help=f"Do not read {DATA_CHECK_SAMPLES} random training samples before training.")
    add_report_arguments(parser)


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run(args):
    import paddle
    # Parameter names (and so optimizer checkpoint keys) restart from zero in every run, so that
    # --resume_model also works when training is started twice in one process.
    with paddle.utils.unique_name.guard():
        _train(args)


def _train(args):
    from paddleseg.core import train
    from paddleseg.utils import logger, utils

    from ...weights.training_checkpoints import resolve_resume
    from ...checks import check_dataset, wrap_dataset
    from ...compat import atomic_saves
    from ...cpu_settings import apply_training_settings
    from ...errors import DatasetError

    # First: MKL reads its kernel choice at its first call, which building the model may make.
    logger.info(apply_training_settings(args.cpu_threads, args.num_workers))
    sections = ("train_dataset", "val_dataset") if args.do_eval else ("train_dataset",)
    config, builder = load(args, sections, learning_rate=args.learning_rate, iters=args.iters,
                           batch_size=args.batch_size)
    utils.show_env_info()
    utils.show_cfg_info(config)
    utils.set_seed(args.seed)
    set_device(args)
    utils.set_cv2_num_threads(args.num_workers)

    resume_model = resolve_resume(args.resume_model, args.save_dir)
    if args.resume_model == "auto":
        logger.info(f"--resume_model auto: {resume_model or 'no complete checkpoint in ' + args.save_dir}")
    model = utils.convert_sync_batchnorm(builder.model, args.device)
    train_dataset = builder.train_dataset
    if not args.skip_data_check:
        report = check_dataset(train_dataset, max_samples=DATA_CHECK_SAMPLES)
        if not report.ok:
            raise DatasetError(f"{args.config}: train_dataset: {report}\n(paddleseg check-data reads every "
                               "file; --skip_data_check trains anyway)")
    if args.repeats > 1:
        train_dataset.file_list *= args.repeats
    with atomic_saves(), _evaluation_reports(args, config, model, resume_model):
        train(model, wrap_dataset(train_dataset),
              val_dataset=wrap_dataset(builder.val_dataset) if args.do_eval else None,
              optimizer=builder.optimizer, save_dir=args.save_dir, iters=config.iters,
              batch_size=config.batch_size, resume_model=resume_model,
              save_interval=args.save_interval, log_iters=args.log_iters, num_workers=args.num_workers,
              use_vdl=args.use_vdl, use_ema=args.use_ema, losses=builder.loss,
              keep_checkpoint_max=args.keep_checkpoint_max, test_config=config.test_config,
              precision=args.precision, amp_level=args.amp_level,
              profiler_options=args.profiler_options, to_static_training=config.to_static_training)
    write_best_model_safetensors(args.save_dir)


def _evaluation_reports(args, config, model, resume_model):
    """With --do_eval, a report of each evaluation in save_dir/eval (a no-op block without)."""
    import contextlib
    import os

    from ...weights.training_checkpoints import CHECKPOINT_DIR
    from ...evaluation import RunInfo, evaluation_iterations, training_reports

    if not args.do_eval:
        return contextlib.nullcontext()
    start_iter = int(CHECKPOINT_DIR.match(os.path.basename(os.path.normpath(resume_model))).group(1)) \
        if resume_model else 0
    run = RunInfo(config=args.config, opts=args.opts, precision=args.precision, config_values=config.dic)
    return training_reports(args.save_dir, model, evaluation_iterations(start_iter, config.iters, args.save_interval),
                            args.worst_k, args.use_vdl, run)


def write_best_model_safetensors(save_dir):
    """Also write PaddleSeg's ``best_model/model.pdparams`` as ``model.safetensors`` (a format
    that holds no code), where evaluation picked a best model."""
    import os

    from paddleseg.utils import logger

    from ...weights.layouts import read_checkpoint, write_checkpoint
    best = os.path.join(save_dir, "best_model", "model.pdparams")
    if os.path.isfile(best):
        target = os.path.join(save_dir, "best_model", "model.safetensors")
        write_checkpoint(read_checkpoint(best, convert=False), target)
        logger.info(f"Wrote {target}")
