"""PaddleSeg 2.8 on Paddle 3: the fixes that make its train and evaluate paths run.

PaddleSeg 2.8.0 (the newest release on PyPI) was written against Paddle 2.x.
These Paddle 3 changes break its train / evaluate paths:

* reductions such as ``paddle.mean``/``paddle.sum`` return 0-d tensors
  (Paddle 2 returned shape ``[1]``);
* binary ops between float and integer tensors raise ``TypeError`` instead of
  silently casting the right operand to the left one's dtype;
* ``Tensor.astype`` to the same dtype returns the tensor itself (no copy), so
  an in-place write into a loss' ``labels`` now corrupts other losses' autograd
  graphs;
* ``paddle.is_compiled_with_mlu`` is gone;
* an error in a dataset's ``__getitem__`` ends the DataLoader's reader thread, so
  training waits forever (num_workers=0) or stops on a bare SystemError.

PaddleSeg's ``OhemCrossEntropyLoss`` (float + int in its forward) is not fixed here: configs build the
plugin's loss in its place (``losses``), which computes it without that sum.

``apply()`` (run when ``paddleseg_liteseg`` is imported) installs one small monkeypatch per
breakage, grouped below by the code it patches (PaddleSeg, then Paddle). Whether a fix is needed is
decided from versions and from the statements of the function it replaces (read with ``inspect``
and ``ast``; where no source is installed the versions alone decide): nothing is run, so an
import cannot fail on a probe, and on a fixed PaddleSeg or another Paddle nothing is patched.
Each install is exception-safe: one that raises warns once (``CompatWarning``) and leaves the
code it patches as it was. ``PADDLESEG_LITESEG_NO_COMPAT=1`` in the environment installs nothing.
The replaced callables are kept in ``ORIGINALS`` and ``applied()`` lists the installed fixes.
Call ``apply()`` before anything does ``from paddleseg... import <patched name>``.

``patched()`` installs a patch for the duration of a block only: ``atomic_saves()`` (``paddle.save``
writes whole files or none during a training run) and the evaluation reports' hooks use it.
"""
import ast
import contextlib
import importlib
import inspect
import os
import textwrap
import traceback
import warnings
from collections import namedtuple

import paddle
import paddle.nn.functional as F

from .files.atomic import atomic_path

__all__ = ['apply', 'applied', 'is_affected', 'atomic_saves', 'patched', 'ORIGINALS', 'FIXES', 'DISABLE_ENV',
           'CompatWarning']

DISABLE_ENV = 'PADDLESEG_LITESEG_NO_COMPAT'
ORIGINALS = {}  # 'module.attr' -> the callable that was replaced
_APPLIED = []
_DONE = False
_MARK = '__paddleseg_liteseg_compat__'
_installing = []  # (owner, attr, old, key, key was new) of the install in progress, to undo if it fails


class CompatWarning(RuntimeWarning):
    """A fix could not be installed; the code it would patch is left unchanged."""


Fix = namedtuple('Fix', 'why needed install')  # needed() decides without running the patched code


def _paddle_major():
    """Paddle's major version; a develop build ('0.0.0') counts as 3, the newest release line."""
    head = paddle.__version__.split('.')[0]
    return 3 if paddle.__version__.startswith('0.0.0') or not head.isdigit() else int(head)


def is_affected():
    """True for the broken combination: Paddle >= 3 (or a develop build) with PaddleSeg 2.8.x."""
    import paddleseg
    return _paddle_major() >= 3 and paddleseg.__version__.startswith('2.8.')


def _runs(function, code):
    """Whether ``function``'s source holds the statement or expression ``code`` (compared as
    parsed code, so layout and comments do not matter). True where no source is installed:
    the version guard alone then decides."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return True
    wanted = ast.parse(code).body[0]
    wanted = wanted.value if isinstance(wanted, ast.Expr) else wanted
    text = ast.unparse(wanted)
    return any(ast.unparse(node) == text for node in ast.walk(tree) if type(node) is type(wanted))


def _patch(key, owner, attr, new):
    """Replace owner.attr by new, remembering the original under ORIGINALS[key]."""
    old = getattr(owner, attr)
    if getattr(old, _MARK, False):  # already patched (e.g. module imported twice)
        return
    _installing.append((owner, attr, old, key, key not in ORIGINALS))
    ORIGINALS.setdefault(key, old)
    setattr(new, _MARK, True)
    setattr(owner, attr, new)


# =========================================================================== PaddleSeg
def _paddleseg_fix_needed(function, code):
    return is_affected() and _runs(function, code)


# ---------------------------------------------------------------------------
# metrics.calculate_area: paddle.concat of per-class 0-d sums fails -> every evaluation fails.
def _needs_calculate_area():
    from paddleseg.utils import metrics
    return _paddleseg_fix_needed(metrics.calculate_area, 'pred_area = paddle.concat(pred_area)')


def _fix_calculate_area():
    from paddleseg.utils import metrics

    # A copy: the concat to replace sits inside the function, which has no hook to wrap.
    def calculate_area(pred, label, num_classes, ignore_index=255):
        """PaddleSeg's calculate_area, with paddle.stack for the 0-d per-class sums."""
        pred = paddle.squeeze(pred, axis=1) if len(pred.shape) == 4 else pred
        label = paddle.squeeze(label, axis=1) if len(label.shape) == 4 else label
        if not pred.shape == label.shape:
            raise ValueError('Shape of `pred` and `label should be equal, '
                             'but there are {} and {}.'.format(pred.shape, label.shape))
        mask = label != ignore_index
        areas = ([], [], [])  # intersect, pred, label
        for i in range(num_classes):
            pred_i = paddle.logical_and(pred == i, mask)
            label_i = label == i
            for area, m in zip(areas, (paddle.logical_and(pred_i, label_i), pred_i, label_i)):
                area.append(paddle.sum(paddle.cast(m, 'int64')))
        return tuple(paddle.stack(a) for a in areas)

    # val.evaluate calls metrics.calculate_area through the module, so this is where it is looked up.
    _patch('paddleseg.utils.metrics.calculate_area', metrics, 'calculate_area', calculate_area)


# ---------------------------------------------------------------------------
# core.train: the log step does `l[0]` on `loss.numpy()`, an IndexError for 0-d losses.
def _needs_train_loss_shape():
    train_mod = importlib.import_module('paddleseg.core.train')
    return _paddleseg_fix_needed(train_mod.train, 'avg_loss_list = [l[0] / log_iters for l in avg_loss_list]')


def _fix_train_loss_shape():
    # `paddleseg.core.train` the attribute is the train() function; the module is in sys.modules.
    train_mod = importlib.import_module('paddleseg.core.train')
    orig = train_mod.loss_computation

    def loss_computation(*args, **kwargs):
        """PaddleSeg's loss_computation, returning shape-[1] losses as on Paddle 2."""
        return [loss.reshape([1]) for loss in orig(*args, **kwargs)]

    _patch('paddleseg.core.train.loss_computation', train_mod, 'loss_computation', loss_computation)


# ---------------------------------------------------------------------------
# CrossEntropyLoss: `mask * coef` (float32 * int64) and `label * mask` raise TypeError.
def _needs_ce():
    from paddleseg.models.losses.cross_entropy_loss import CrossEntropyLoss
    return _paddleseg_fix_needed(CrossEntropyLoss._post_process_loss, 'coef = paddle.ones_like(label)')


def _fix_ce():
    from paddleseg.models.losses.cross_entropy_loss import CrossEntropyLoss

    # A copy: the two casts sit inside the function's arithmetic, which has no hook to wrap.
    def _post_process_loss(self, logit, label, semantic_weights, loss):
        """PaddleSeg's version with explicit casts where Paddle 2 cast implicitly."""
        if self.avg_non_ignore:
            mask = paddle.cast(label != self.ignore_index, dtype='float32')
        else:
            mask = paddle.ones(label.shape, dtype='float32')
        mask.stop_gradient = True
        label.stop_gradient = True
        if loss.ndim > mask.ndim:
            loss = paddle.squeeze(loss, axis=-1)
        loss = loss * mask
        if semantic_weights is not None:
            loss = loss * semantic_weights
        if self.weight is not None:
            _one_hot = F.one_hot(label * mask.astype(label.dtype), logit.shape[-1])  # was: times the float mask
            coef = paddle.sum(_one_hot * self.weight, axis=-1)
        else:
            coef = paddle.ones_like(label, dtype=mask.dtype)  # was: int64 ones
        if self.top_k_percent_pixels == 1.0:
            return paddle.mean(loss) / (paddle.mean(mask * coef) + self.EPS)
        loss, indices = paddle.topk(loss.reshape((-1, )), int(self.top_k_percent_pixels * loss.numel()))
        coef = paddle.gather(coef.reshape((-1, )), indices)
        coef.stop_gradient = True
        return loss.mean() / (paddle.mean(coef.astype('float32')) + self.EPS)

    _patch('paddleseg.models.losses.CrossEntropyLoss._post_process_loss', CrossEntropyLoss,
           '_post_process_loss', _post_process_loss)


# ---------------------------------------------------------------------------
# RMILoss: float32 tensors multiplied by a bool mask raise TypeError.
def _needs_rmi():
    from paddleseg.models.losses.rmi_loss import RMILoss
    return _paddleseg_fix_needed(RMILoss.forward_sigmoid,
                                 'probs_4D = F.sigmoid(logits_4D) * paddle.unsqueeze(label_mask_3D, axis=1)'
                                 ' + _CLIP_MIN')


def _fix_rmi():
    from paddleseg.models.losses.rmi_loss import RMILoss, _CLIP_MIN

    # A copy: the cast sits inside the function's arithmetic, which has no hook to wrap.
    def forward_sigmoid(self, logits_4D, labels_4D, do_rmi=False):
        """PaddleSeg's forward_sigmoid with the bool mask cast to float32."""
        mask = (labels_4D != self.ignore_index).astype('float32')
        onehot = F.one_hot(labels_4D.astype('int64') * mask.astype('int64'), num_classes=self.num_classes)
        onehot = (onehot.astype('float32') * mask.unsqueeze(3)).transpose([0, 3, 1, 2])
        onehot.stop_gradient = True
        probs_4D = F.sigmoid(logits_4D) * mask.unsqueeze(1) + _CLIP_MIN
        return self.rmi_lower_bound(onehot, probs_4D)

    _patch('paddleseg.models.losses.RMILoss.forward_sigmoid', RMILoss, 'forward_sigmoid', forward_sigmoid)


# ---------------------------------------------------------------------------
# DiceLoss: `labels[labels == ignore] = 0` writes into the shared labels tensor; on Paddle 3
# (astype without copy) CE saved that tensor for backward -> "modified by an inplace operation",
# and any loss after Dice silently sees ignored pixels as class 0.
def _needs_dice():
    from paddleseg.models.losses.dice_loss import DiceLoss
    return _paddleseg_fix_needed(DiceLoss.forward, 'labels[labels == self.ignore_index] = 0')


def _fix_dice():
    from paddleseg.models.losses.dice_loss import DiceLoss
    orig = DiceLoss.forward

    def forward(self, logits, labels):
        """PaddleSeg's DiceLoss on a copy of labels (it zeroes ignored pixels in place)."""
        return orig(self, logits, labels.clone())

    _patch('paddleseg.models.losses.DiceLoss.forward', DiceLoss, 'forward', forward)


# ---------------------------------------------------------------------------
# utils.set_device('mlu'): AttributeError, Paddle 3 removed paddle.is_compiled_with_mlu.
def _needs_set_device():
    utils_mod = importlib.import_module('paddleseg.utils.utils')
    return (not hasattr(paddle, 'is_compiled_with_mlu')
            and _paddleseg_fix_needed(utils_mod.set_device, 'paddle.is_compiled_with_mlu()'))


def _fix_set_device():
    utils_mod = importlib.import_module('paddleseg.utils.utils')
    orig = utils_mod.set_device

    def set_device(device):
        """PaddleSeg's set_device; 'mlu' is a custom-device plugin on Paddle 3, else CPU."""
        if device == 'mlu':
            if 'mlu' in paddle.device.get_all_custom_device_type():
                paddle.set_device('mlu')
                utils_mod.logger.info('Set device: mlu')
                return
            device = 'cpu'
        return orig(device)

    _patch('paddleseg.utils.utils.set_device', utils_mod, 'set_device', set_device)
    # `from .utils import *` re-exports it; tools call paddleseg.utils.set_device.
    _patch('paddleseg.utils.set_device', importlib.import_module('paddleseg.utils'), 'set_device', set_device)


# =========================================================================== Paddle
# ---------------------------------------------------------------------------
# DataLoader: an error in a dataset's __getitem__ ends Paddle's reader thread. With num_workers=0
# the training loop then waits forever; with workers it gets a bare "Blocking queue is killed"
# SystemError, and the error that names the sample is only printed by the dying thread.
def _loader_iterator_classes():
    from paddle.io.dataloader import dataloader_iter
    return dataloader_iter._DataLoaderIterSingleProcess, dataloader_iter._DataLoaderIterMultiProcess


def _needs_loader_errors():
    """Paddle 3.x, whose iterators have the private methods the fix wraps and calls."""
    members = ('_thread_loop', '__next__', '_exit_thread_unexpectedly', '_try_shutdown_all')
    return _paddle_major() == 3 and all(
        hasattr(iterator_class, member) for iterator_class in _loader_iterator_classes() for member in members)


def _fix_loader_errors():
    single_process, multi_process = _loader_iterator_classes()
    # The reader thread's error is kept as (type, text), as Paddle passes worker errors: its
    # traceback holds the iterator, and an iterator freed by the garbage collector waits forever
    # for its workers. Re-raised worker errors already hold the worker's traceback as text.
    for iterator_class, describe in ((single_process, _traceback_text), (multi_process, str)):
        thread_loop, next_batch = iterator_class._thread_loop, iterator_class.__next__

        def _thread_loop(self, *args, _thread_loop=thread_loop, _describe=describe):
            """Paddle's reader thread, handing its error to __next__ instead of dying with it."""
            try:
                _thread_loop(self, *args)
            except Exception as error:
                self._reader_error = (type(error), _describe(error))
                self._exit_thread_unexpectedly()  # kills the queue __next__ waits on

        def __next__(self, _next_batch=next_batch):
            """Paddle's __next__, raising the reader thread's error instead of "queue is killed"."""
            try:
                return _next_batch(self)
            except Exception:
                reader_error, self._reader_error = getattr(self, '_reader_error', None), None
                if reader_error is None:
                    raise
                # Stop the workers now: one garbage-collected later waits forever for them.
                self._try_shutdown_all()
            raise _rebuilt(*reader_error) from None

        name = f'paddle.io.dataloader.dataloader_iter.{iterator_class.__name__}'
        _patch(f'{name}._thread_loop', iterator_class, '_thread_loop', _thread_loop)
        _patch(f'{name}.__next__', iterator_class, '__next__', __next__)


def _traceback_text(error):
    return (f'DataLoader reader thread caught {type(error).__name__} with message:\n'
            + ''.join(traceback.format_exception(type(error), error, error.__traceback__)))


def _rebuilt(error_type, message):
    """``error_type(message)``, or a RuntimeError where that type takes other arguments."""
    try:
        return error_type(message)
    except Exception:
        return RuntimeError(message)


# ---------------------------------------------------------------------------
# Warnings that are pure noise on Paddle 3 (only these two are silenced).
def _needs_silence_noise():
    return _paddle_major() >= 3


def _silence_noise():
    # Paddle 3's BatchNorm warns on *every* training forward that it tracks running stats --
    # informational only, and exactly what PaddleSeg wants.
    warnings.filterwarnings('ignore', message=r'When training, we now always track global mean and variance',
                            category=UserWarning)
    # numpy >= 1.25 deprecation raised inside Paddle's own Tensor.__float__/__int__ for shape-[1]
    # tensors (float(loss) in the train loop, paddle.flops at its end); harmless with numpy < 2.
    warnings.filterwarnings('ignore', message=r'Conversion of an array with ndim > 0 to a scalar',
                            category=DeprecationWarning, module=r'paddle\.base\.dygraph\.math_op_patch')


# ---------------------------------------------------------------------------
# Scoped patches: in place only within a block. The plugin's features that hook into PaddleSeg's
# trainer and evaluator (atomic checkpoints here, evaluation reports in ``evaluation``) go through it.
@contextlib.contextmanager
def patched(owner, attr, replacement):
    """Within the block, ``owner.attr`` is ``replacement``; the original is put back after it."""
    original = getattr(owner, attr)
    setattr(owner, attr, replacement)
    try:
        yield original
    finally:
        setattr(owner, attr, original)


# paddle.save during training: PaddleSeg writes checkpoints in place, so a job killed mid-write
# leaves a truncated file that resuming then fails on (scoped: see checkpoints.py).
def atomic_saves():
    """Within the block, ``paddle.save(obj, path)`` writes ``path.partial`` and renames it to
    ``path`` (atomic on POSIX): a file either exists whole or not at all."""
    save = paddle.save

    def atomic_save(obj, path, *args, **kwargs):
        if not isinstance(path, (str, os.PathLike)):
            return save(obj, path, *args, **kwargs)
        with atomic_path(path) as partial:
            save(obj, partial, *args, **kwargs)

    return patched(paddle, 'save', atomic_save)


# name -> Fix(one-line reason, needed(), install()); needed() reads versions and PaddleSeg's unpatched code.
FIXES = {
    # PaddleSeg
    'metrics.calculate_area': Fix('concat of 0-d per-class areas fails; stack them', _needs_calculate_area,
                                  _fix_calculate_area),
    'train.loss_computation': Fix("train logging does l[0] on 0-d losses; return shape-[1] losses",
                                  _needs_train_loss_shape, _fix_train_loss_shape),
    'CrossEntropyLoss': Fix('float32*int64 TypeError in _post_process_loss; cast explicitly', _needs_ce, _fix_ce),
    'RMILoss': Fix('float32*bool TypeError in forward_sigmoid; cast mask', _needs_rmi, _fix_rmi),
    'DiceLoss': Fix('in-place write into shared labels breaks backward of other losses; use a copy',
                    _needs_dice, _fix_dice),
    'utils.set_device': Fix('paddle.is_compiled_with_mlu removed; use custom-device check', _needs_set_device,
                            _fix_set_device),
    # Paddle
    'DataLoader': Fix("a dataset error ends the reader thread: hangs (num_workers=0) or a bare SystemError; "
                      "raise it in the loop", _needs_loader_errors, _fix_loader_errors),
    'warnings': Fix('silence two Paddle 3 noise warnings (BatchNorm info, numpy scalar deprecation)',
                    _needs_silence_noise, _silence_noise),
}


def _install(name, fix):
    """Install one fix if needed; True when installed. A fix that raises is undone and warned about."""
    _installing.clear()
    try:
        if not fix.needed():
            return False
        fix.install()
        return True
    except Exception as error:
        for owner, attr, old, key, added in reversed(_installing):
            setattr(owner, attr, old)
            if added:
                del ORIGINALS[key]
        warnings.warn(f"paddleseg_liteseg: the compat fix {name!r} ({fix.why}) could not be installed "
                      f"({type(error).__name__}: {error}); the code it patches is left unchanged",
                      CompatWarning, stacklevel=2)
        return False
    finally:
        _installing.clear()


def apply():
    """Install every needed fix once (none where PADDLESEG_LITESEG_NO_COMPAT is set to a value other
    than 0); returns the names of the installed fixes."""
    global _DONE
    if _DONE:
        return applied()
    _DONE = True
    if os.environ.get(DISABLE_ENV, '0') not in ('', '0'):
        return applied()
    for name, fix in FIXES.items():
        if _install(name, fix):
            _APPLIED.append(name)
    return applied()


def applied():
    """Names of the fixes installed by apply() (see FIXES[name].why for the reason)."""
    return list(_APPLIED)
