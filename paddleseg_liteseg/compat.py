"""PaddleSeg 2.8 on Paddle 3.

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

``apply()`` installs one small monkeypatch per breakage.  A fix is installed
only on Paddle >= 3 with PaddleSeg 2.8.x *and* when a cheap probe shows that
PaddleSeg's own code still misbehaves, so on a fixed PaddleSeg or an old Paddle
nothing is patched.  Patches are installed where PaddleSeg looks the names up
(module attributes / class methods), the replaced callables are kept in
``ORIGINALS`` and ``applied()`` lists the installed fixes.  Call ``apply()``
before anything does ``from paddleseg... import <patched name>``.
"""
import importlib
import inspect
import threading
import traceback
import warnings

import paddle
import paddle.nn.functional as F

__all__ = ['apply', 'applied', 'is_affected', 'ORIGINALS', 'FIXES']

ORIGINALS = {}  # 'module.attr' -> the PaddleSeg callable that was replaced
_APPLIED = []
_DONE = False
_MARK = '__paddleseg_liteseg_compat__'


def is_affected():
    """True for the broken combination: Paddle >= 3 (or a develop build) with PaddleSeg 2.8.x."""
    import paddleseg
    ver = paddle.__version__
    major = int(ver.split('.')[0]) if ver.split('.')[0].isdigit() else 0
    return (major >= 3 or ver.startswith('0.0.0')) and paddleseg.__version__.startswith('2.8.')


def _patch(key, owner, attr, new):
    """Replace owner.attr by new, remembering the original under ORIGINALS[key]."""
    old = getattr(owner, attr)
    if getattr(old, _MARK, False):  # already patched (e.g. module imported twice)
        return
    ORIGINALS.setdefault(key, old)
    setattr(new, _MARK, True)
    setattr(owner, attr, new)


def _fails(fn, exc=Exception):
    try:
        fn()
    except exc:
        return True
    return False


# ---------------------------------------------------------------------------
# metrics.calculate_area: paddle.concat of per-class 0-d sums fails -> every evaluation fails.
def _probe_calculate_area():
    from paddleseg.utils import metrics
    return _fails(lambda: metrics.calculate_area(
        paddle.zeros([1, 1, 2], 'int32'), paddle.zeros([1, 1, 2], 'int64'), 2))


def _fix_calculate_area():
    from paddleseg.utils import metrics

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
def _probe_train_loss_shape():
    train_mod = importlib.import_module('paddleseg.core.train')
    try:
        uses_index = 'l[0]' in inspect.getsource(train_mod.train)
    except (OSError, TypeError):  # no source available: trust the behaviour probe alone
        uses_index = True
    return uses_index and paddle.mean(paddle.ones([2])).ndim == 0


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
def _probe_ce():
    from paddleseg.models.losses import CrossEntropyLoss
    return _fails(lambda: CrossEntropyLoss()(paddle.zeros([1, 2, 1, 1]), paddle.zeros([1, 1, 1], 'int64')),
                  TypeError)


def _fix_ce():
    from paddleseg.models.losses.cross_entropy_loss import CrossEntropyLoss

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
            _one_hot = F.one_hot(label * mask.astype(label.dtype), logit.shape[-1])  # was label * mask
            coef = paddle.sum(_one_hot * self.weight, axis=-1)
        else:
            coef = paddle.ones_like(label, dtype=mask.dtype)  # was int64 ones_like(label)
        if self.top_k_percent_pixels == 1.0:
            return paddle.mean(loss) / (paddle.mean(mask * coef) + self.EPS)
        loss, indices = paddle.topk(loss.reshape((-1, )), int(self.top_k_percent_pixels * loss.numel()))
        coef = paddle.gather(coef.reshape((-1, )), indices)
        coef.stop_gradient = True
        return loss.mean() / (paddle.mean(coef.astype('float32')) + self.EPS)

    _patch('paddleseg.models.losses.CrossEntropyLoss._post_process_loss', CrossEntropyLoss,
           '_post_process_loss', _post_process_loss)


# ---------------------------------------------------------------------------
# OhemCrossEntropyLoss: `prob + (1 - valid_mask)` (float32 + int64) raises TypeError
# whenever min_kept < number of valid pixels (i.e. in every real training batch).
def _probe_ohem():
    from paddleseg.models.losses import OhemCrossEntropyLoss
    return _fails(lambda: OhemCrossEntropyLoss(min_kept=1)(paddle.zeros([1, 2, 1, 2]),
                                                           paddle.zeros([1, 1, 2], 'int64')), TypeError)


def _fix_ohem():
    from paddleseg.models.losses.ohem_cross_entropy_loss import OhemCrossEntropyLoss

    def forward(self, logit, label):
        """PaddleSeg's OHEM forward with the float cast (and F.cross_entropy instead of the
        deprecated, identical F.softmax_with_cross_entropy)."""
        if len(label.shape) != len(logit.shape):
            label = paddle.unsqueeze(label, 1)
        n, c, h, w = logit.shape
        label = label.reshape((-1, )).astype('int64')
        valid_mask = (label != self.ignore_index).astype('int64')
        num_valid = valid_mask.sum()
        label = label * valid_mask
        prob = F.softmax(logit, axis=1).transpose((1, 0, 2, 3)).reshape((c, -1))
        if self.min_kept < num_valid and num_valid > 0:
            prob = prob + (1 - valid_mask).astype(prob.dtype)  # ignored pixels get prob > 1
            prob = paddle.sum(prob * F.one_hot(label, c).transpose((1, 0)), axis=0)
            threshold = self.thresh
            if self.min_kept > 0:
                index = prob.argsort()
                threshold_index = int(index[min(len(index), self.min_kept) - 1])
                if prob[threshold_index] > self.thresh:
                    threshold = prob[threshold_index]
                kept_mask = (prob < threshold).astype('int64')
                label = label * kept_mask
                valid_mask = valid_mask * kept_mask
        label = (label + (1 - valid_mask) * self.ignore_index).reshape((n, 1, h, w))
        valid_mask = valid_mask.reshape((n, 1, h, w)).astype('float32')
        loss = F.cross_entropy(logit, label, ignore_index=self.ignore_index, reduction='none', axis=1)
        label.stop_gradient = True
        valid_mask.stop_gradient = True
        return paddle.mean(loss * valid_mask) / (paddle.mean(valid_mask) + self.EPS)

    _patch('paddleseg.models.losses.OhemCrossEntropyLoss.forward', OhemCrossEntropyLoss, 'forward', forward)


# ---------------------------------------------------------------------------
# RMILoss: float32 tensors multiplied by a bool mask raise TypeError.
def _probe_rmi():
    from paddleseg.models.losses import RMILoss
    return _fails(lambda: RMILoss(num_classes=2)(paddle.zeros([1, 2, 8, 8]),
                                                 paddle.zeros([1, 8, 8], 'int64')), TypeError)


def _fix_rmi():
    from paddleseg.models.losses.rmi_loss import RMILoss, _CLIP_MIN

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
def _probe_dice():
    from paddleseg.models.losses import DiceLoss
    labels = paddle.to_tensor([[[0, 255]]], dtype='int64')
    DiceLoss()(paddle.zeros([1, 2, 1, 2]), labels)
    return int(labels[0, 0, 1]) != 255


def _fix_dice():
    from paddleseg.models.losses.dice_loss import DiceLoss
    orig = DiceLoss.forward

    def forward(self, logits, labels):
        """PaddleSeg's DiceLoss on a copy of labels (it zeroes ignored pixels in place)."""
        return orig(self, logits, labels.clone())

    _patch('paddleseg.models.losses.DiceLoss.forward', DiceLoss, 'forward', forward)


# ---------------------------------------------------------------------------
# utils.set_device('mlu'): AttributeError, Paddle 3 removed paddle.is_compiled_with_mlu.
def _probe_set_device():
    return not hasattr(paddle, 'is_compiled_with_mlu')


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
    setattr(importlib.import_module('paddleseg.utils'), 'set_device', set_device)


# ---------------------------------------------------------------------------
# DataLoader: an error in a dataset's __getitem__ ends Paddle's reader thread. With num_workers=0
# the training loop then waits forever; with workers it gets a bare "Blocking queue is killed"
# SystemError, and the error that names the sample is only printed by the dying thread.
def _probe_loader_errors():
    class Failing(paddle.io.Dataset):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            raise ValueError('probe')

    hook, threading.excepthook = threading.excepthook, lambda args: None  # the probe's thread error
    try:
        iterator = iter(paddle.io.DataLoader(Failing(), batch_size=1))
        iterator._thread.join()
        waits_forever = not iterator._thread_done_event.is_set()  # __next__ was never told
    finally:
        threading.excepthook = hook
    iterator._try_shutdown_all()
    return waits_forever


def _fix_loader_errors():
    from paddle.io.dataloader import dataloader_iter

    # The reader thread's error is kept as (type, text), as Paddle passes worker errors: its
    # traceback holds the iterator, and an iterator freed by the garbage collector waits forever
    # for its workers. Re-raised worker errors already hold the worker's traceback as text.
    for iterator_class, describe in ((dataloader_iter._DataLoaderIterSingleProcess, _traceback_text),
                                     (dataloader_iter._DataLoaderIterMultiProcess, str)):
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
            + ''.join(traceback.format_exception(error)))


def _rebuilt(error_type, message):
    """``error_type(message)``, or a RuntimeError where that type takes other arguments."""
    try:
        return error_type(message)
    except Exception:
        return RuntimeError(message)


# ---------------------------------------------------------------------------
# Warnings that are pure noise on Paddle 3 (only these two are silenced).
def _silence_noise():
    # Paddle 3's BatchNorm warns on *every* training forward that it tracks running stats --
    # informational only, and exactly what PaddleSeg wants.
    warnings.filterwarnings('ignore', message=r'When training, we now always track global mean and variance',
                            category=UserWarning)
    # numpy >= 1.25 deprecation raised inside Paddle's own Tensor.__float__/__int__ for shape-[1]
    # tensors (float(loss) in the train loop, paddle.flops at its end); harmless with numpy < 2.
    warnings.filterwarnings('ignore', message=r'Conversion of an array with ndim > 0 to a scalar',
                            category=DeprecationWarning, module=r'paddle\.base\.dygraph\.math_op_patch')


# name -> (one-line reason, probe, install); probes run against PaddleSeg's unpatched code.
FIXES = {
    'metrics.calculate_area': ('concat of 0-d per-class areas fails; stack them', _probe_calculate_area,
                               _fix_calculate_area),
    'train.loss_computation': ("train logging does l[0] on 0-d losses; return shape-[1] losses",
                               _probe_train_loss_shape, _fix_train_loss_shape),
    'CrossEntropyLoss': ('float32*int64 TypeError in _post_process_loss; cast explicitly', _probe_ce,
                         _fix_ce),
    'OhemCrossEntropyLoss': ('float32+int64 TypeError in forward; cast explicitly', _probe_ohem, _fix_ohem),
    'RMILoss': ('float32*bool TypeError in forward_sigmoid; cast mask', _probe_rmi, _fix_rmi),
    'DiceLoss': ('in-place write into shared labels breaks backward of other losses; use a copy',
                 _probe_dice, _fix_dice),
    'utils.set_device': ('paddle.is_compiled_with_mlu removed; use custom-device check', _probe_set_device,
                         _fix_set_device),
    'DataLoader': ("a dataset error ends the reader thread: hangs (num_workers=0) or a bare SystemError; "
                   "raise it in the loop", _probe_loader_errors, _fix_loader_errors),
    'warnings': ('silence two Paddle 3 noise warnings (BatchNorm info, numpy scalar deprecation)',
                 lambda: True, _silence_noise),
}


def apply():
    """Install every needed fix once; returns the names of the installed fixes."""
    global _DONE
    if _DONE:
        return applied()
    _DONE = True
    _secure_weights_loading()
    if not is_affected():
        return applied()
    for name, (_why, probe, install) in FIXES.items():
        if probe():
            install()
            _APPLIED.append(name)
    return applied()


def applied():
    """Names of the fixes installed by apply() (see FIXES[name][0] for the reason)."""
    return list(_APPLIED)


# ---------------------------------------------------------------------------
# Weights loading (not a Paddle 3 fix: installed on every version). paddle.load unpickles any
# object, so a shared .pdparams could run code in PaddleSeg's load_pretrained_model, load_entire_model
# and resume (--resume_model). Every paddle.load goes through safe_load, and the weights references
# PaddleSeg's loader gets (official names, URLs) are resolved through the plugin's verified cache.
def _secure_weights_loading():
    from paddleseg.utils import utils

    from . import safe_load
    from .official_weights import resolve

    _patch('paddle.load', paddle, 'load', safe_load.load)
    original = utils.load_pretrained_model

    def load_pretrained_model(model, pretrained_model):
        """PaddleSeg's load_pretrained_model, given the local file of a name or URL."""
        return original(model, resolve(pretrained_model) if pretrained_model else pretrained_model)

    _patch('paddleseg.utils.utils.load_pretrained_model', utils, 'load_pretrained_model',
           load_pretrained_model)
