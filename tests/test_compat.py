"""paddleseg_liteseg.compat: each PaddleSeg 2.8 breakage on Paddle 3 is real and fixed.

Every fix test first calls the saved original (``compat.ORIGINALS``) and shows it fails on this
Paddle, then checks the patched code against numpy or a hand-computed example. Importing the
plugin only reads versions and source to decide, installs each fix exception-safely, and installs
none under ``PADDLESEG_LITESEG_NO_COMPAT=1``.
"""
import importlib
import json
import os
import subprocess
import sys
import threading
import types
import warnings

import cv2
import numpy as np
import paddle
import paddle.nn.functional as F
import paddleseg
import pytest
from paddleseg.models import losses as L
from PIL import Image

from paddleseg_liteseg import compat
from paddleseg_liteseg.losses import OhemCrossEntropyLoss  # what configs build in place of PaddleSeg's

compat.apply()
ORIG = compat.ORIGINALS
# pytest resets warning filters per test; hide the two Paddle noise warnings compat.apply() silences
# (test_only_noise_warnings_are_silenced checks that silencing itself).
pytestmark = [pytest.mark.filterwarnings('ignore:When training, we now always track global mean:UserWarning'),
              pytest.mark.filterwarnings('ignore:Conversion of an array with ndim > 0:DeprecationWarning')]


def _needs(name=None):
    """Skip off the broken Paddle 3 + PaddleSeg 2.8 combination; on it, the fix must be installed."""
    if not compat.is_affected():
        pytest.skip('paddle %s / paddleseg %s needs no compat fixes'
                    % (paddle.__version__, paddleseg.__version__))
    assert name is None or name in compat.applied(), '%s: its check found PaddleSeg working here' % name


def _python(code, **env):
    """Run ``code`` in a fresh interpreter (with ``env`` added to the environment); its result."""
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env={**os.environ, **env})


def _logit(shape, seed=0):
    t = paddle.to_tensor(np.random.RandomState(seed).randn(*shape).astype('float32'))
    t.stop_gradient = False
    return t


def _labels(shape, num_classes=3, seed=1):
    lab = np.random.RandomState(seed).randint(0, num_classes, shape).astype('int64')
    lab[..., :2, :3] = 255  # some ignored pixels
    return lab


def _np_log_softmax(logit):
    z = logit - logit.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


# --------------------------------------------------------------------------- apply / guards
def test_apply_is_idempotent_and_installs_every_fix_here():
    _needs()
    assert compat.applied() == ['metrics.calculate_area', 'train.loss_computation', 'CrossEntropyLoss',
                                'RMILoss', 'DiceLoss', 'utils.set_device', 'DataLoader', 'warnings']
    assert list(compat.FIXES) == compat.applied()
    metrics = importlib.import_module('paddleseg.utils.metrics')
    before = (metrics.calculate_area, L.CrossEntropyLoss._post_process_loss, dict(ORIG))
    assert compat.apply() == compat.applied()
    compat._fix_ce()  # even a direct re-install does not wrap twice
    assert (metrics.calculate_area, L.CrossEntropyLoss._post_process_loss, dict(ORIG)) == before
    assert len(ORIG) == 11 and metrics.calculate_area is not ORIG['paddleseg.utils.metrics.calculate_area']


def test_version_guard(monkeypatch):
    monkeypatch.setattr(paddle, '__version__', '2.6.2')
    assert not compat.is_affected()
    monkeypatch.setattr(paddle, '__version__', '0.0.0')  # develop build counts as new Paddle
    assert compat.is_affected()
    monkeypatch.setattr(paddleseg, '__version__', '2.9.0')
    assert not compat.is_affected()


@pytest.mark.parametrize('version, needed', [('2.6.2', False), ('3.0.0', True), ('3.3.1', True),
                                             ('0.0.0', True), ('4.0.0', False)])
def test_the_paddle_fix_is_guarded_by_paddles_version(monkeypatch, version, needed):
    monkeypatch.setattr(paddle, '__version__', version)
    assert compat.FIXES['DataLoader'].needed() is needed


def _owner(key):
    """The module or class holding ORIGINALS[key], and the attribute's name."""
    *path, attr = key.split('.')
    for split in range(len(path), 0, -1):
        try:
            owner = importlib.import_module('.'.join(path[:split]))
        except ImportError:
            continue
        for name in path[split:]:
            owner = getattr(owner, name)
        return owner, attr
    raise LookupError(key)


# fix -> the ORIGINALS key of the PaddleSeg function whose statements show the breakage
READS_THE_SOURCE = {'metrics.calculate_area': 'paddleseg.utils.metrics.calculate_area',
                    'CrossEntropyLoss': 'paddleseg.models.losses.CrossEntropyLoss._post_process_loss',
                    'RMILoss': 'paddleseg.models.losses.RMILoss.forward_sigmoid',
                    'DiceLoss': 'paddleseg.models.losses.DiceLoss.forward',
                    'utils.set_device': 'paddleseg.utils.utils.set_device'}


@pytest.mark.parametrize('name, key', READS_THE_SOURCE.items())
def test_a_fix_is_needed_exactly_where_the_code_holds_the_broken_statement(monkeypatch, name, key):
    _needs(name)
    needed = compat.FIXES[name].needed
    assert not needed()  # the installed replacement no longer holds it
    owner, attr = _owner(key)
    monkeypatch.setattr(owner, attr, ORIG[key])
    assert needed()


def test_without_source_the_versions_decide(monkeypatch):
    def no_source(function):
        raise OSError('could not get source code')

    monkeypatch.setattr(compat.inspect, 'getsource', no_source)
    assert compat.FIXES['CrossEntropyLoss'].needed()
    monkeypatch.setattr(paddle, '__version__', '2.6.2')
    assert not compat.FIXES['CrossEntropyLoss'].needed()


def test_a_failing_install_warns_once_and_leaves_the_code_unchanged():
    owner = types.SimpleNamespace(first=lambda: 'first', second=lambda: 'second')
    before = dict(vars(owner))

    def install():
        compat._patch('test.first', owner, 'first', lambda: 'patched')
        compat._patch('test.second', owner, 'second', lambda: 'patched')
        raise RuntimeError('the patched module changed')

    with pytest.warns(compat.CompatWarning) as record:
        assert compat._install('test', compat.Fix('a test fix', lambda: True, install)) is False
    assert len(record) == 1
    assert str(record[0].message) == ("paddleseg_liteseg: the compat fix 'test' (a test fix) could not be "
                                      "installed (RuntimeError: the patched module changed); the code it "
                                      "patches is left unchanged")
    assert vars(owner) == before and not any(key.startswith('test.') for key in ORIG)


def test_a_failing_check_warns_and_installs_nothing():
    def check():
        raise AttributeError('no such function')

    with pytest.warns(compat.CompatWarning, match="'test'.*AttributeError: no such function"):
        assert compat._install('test', compat.Fix('a test fix', check, lambda: None)) is False


def test_the_import_survives_a_fix_that_cannot_be_installed():
    _needs()
    result = _python("import warnings; warnings.simplefilter('always'); "
                     "from paddleseg.models.losses import rmi_loss; del rmi_loss._CLIP_MIN; "
                     "original = rmi_loss.RMILoss.forward_sigmoid; "
                     "import json, paddleseg_liteseg; from paddleseg_liteseg import compat; "
                     "print(json.dumps([rmi_loss.RMILoss.forward_sigmoid is original, compat.applied()]))")
    assert result.returncode == 0, result.stderr
    unchanged, installed = json.loads(result.stdout.strip().splitlines()[-1])
    assert unchanged is True
    assert installed == [name for name in compat.applied() if name != 'RMILoss']
    assert result.stderr.count('CompatWarning') == 1
    assert "the compat fix 'RMILoss'" in result.stderr and '_CLIP_MIN' in result.stderr


def test_the_environment_variable_turns_the_fixes_off_but_not_safe_loading():
    _needs()
    result = _python("import paddleseg_liteseg; from paddleseg_liteseg import compat; "
                     "from paddleseg_liteseg.weights import paddle_load_guard; from paddleseg.utils import metrics; "
                     "print(compat.applied(), sorted(compat.ORIGINALS), sorted(paddle_load_guard.ORIGINALS), "
                     "metrics.calculate_area.__module__)",
                     **{compat.DISABLE_ENV: '1'})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "[] [] ['paddle.load', 'paddleseg.utils.utils.load_pretrained_model'] paddleseg.utils.metrics")


# The plugin's import watched from inside: every Python function it calls, and every thread started.
WATCH_THE_IMPORT = """
import json, sys, threading
import paddle, paddleseg.core, paddleseg.models  # what the plugin builds on: their import is theirs
from paddleseg.utils import metrics
watched = {paddle.nn.Layer.__call__.__code__: 'a layer or loss forward',
           paddle.io.DataLoader.__init__.__code__: 'a DataLoader',
           metrics.calculate_area.__code__: 'calculate_area'}
seen, threads = set(), []
start = threading.Thread.start
threading.Thread.start = lambda thread: (threads.append(thread.name), start(thread))[1]
sys.setprofile(lambda frame, event, arg: event == 'call' and seen.add(frame.f_code))
import paddleseg_liteseg
sys.setprofile(None)
print(json.dumps({'ran': sorted({what for code, what in watched.items() if code in seen}),
                  'forwards': sorted({code.co_filename for code in seen if code.co_name == 'forward'}),
                  'threads': threads, 'calls': len(seen)}))
"""


def test_the_import_runs_no_probe():
    result = _python(WATCH_THE_IMPORT)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['calls'] > 100  # the watch saw the import's own work
    assert report['ran'] == [] and report['forwards'] == [] and report['threads'] == []


# --------------------------------------------------------------------------- metrics
def test_calculate_area_and_metrics_hand_computed():
    _needs('metrics.calculate_area')
    from paddleseg.utils import metrics
    pred = paddle.to_tensor([[[[0, 1, 1], [2, 2, 0]]]], dtype='int32')  # N,1,H,W as evaluate passes it
    label = paddle.to_tensor([[[[0, 1, 2], [2, 255, 1]]]], dtype='int64')
    with pytest.raises(ValueError):  # paddle.concat of 0-d tensors
        ORIG['paddleseg.utils.metrics.calculate_area'](pred, label, 3, ignore_index=255)

    inter, pred_area, label_area = metrics.calculate_area(pred, label, 3, ignore_index=255)
    assert inter.numpy().tolist() == [1, 1, 1]
    assert pred_area.numpy().tolist() == [2, 2, 1]  # the ignored pixel's prediction does not count
    assert label_area.numpy().tolist() == [1, 2, 2]
    class_iou, miou = metrics.mean_iou(inter, pred_area, label_area)
    np.testing.assert_allclose(class_iou, [1 / 2, 1 / 3, 1 / 2])
    assert miou == pytest.approx(4 / 9)
    acc, precision, recall = metrics.class_measurement(inter, pred_area, label_area)
    assert acc == pytest.approx(3 / 5)
    np.testing.assert_allclose(precision, [1 / 2, 1 / 2, 1])
    np.testing.assert_allclose(recall, [1, 1 / 2, 1 / 2])
    assert metrics.kappa(inter, pred_area, label_area) == pytest.approx((0.6 - 8 / 25) / (1 - 8 / 25))
    class_dice, mdice = metrics.dice(inter, pred_area, label_area)
    np.testing.assert_allclose(class_dice, [2 / 3, 1 / 2, 2 / 3])
    assert mdice == pytest.approx(11 / 18)


def test_calculate_area_matches_numpy():
    _needs('metrics.calculate_area')
    from paddleseg.utils import metrics
    rng = np.random.RandomState(0)
    pred, label = rng.randint(0, 4, (2, 9, 7)), _labels((2, 9, 7), 4)
    areas = metrics.calculate_area(paddle.to_tensor(pred, 'int32'), paddle.to_tensor(label), 4)
    valid = label != 255
    expected = ([((pred == c) & (label == c) & valid).sum() for c in range(4)],
                [((pred == c) & valid).sum() for c in range(4)], [(label == c).sum() for c in range(4)])
    for got, exp in zip(areas, expected):
        assert got.dtype == paddle.int64 and got.numpy().tolist() == exp


# --------------------------------------------------------------------------- train loop
def test_train_loss_computation_returns_paddle2_shaped_losses():
    _needs('train.loss_computation')
    train_mod = importlib.import_module('paddleseg.core.train')
    logits = [_logit([2, 3, 4, 4]), _logit([2, 3, 4, 4], seed=1)]
    labels = paddle.to_tensor(_labels((2, 4, 4)))
    losses = {'types': [L.CrossEntropyLoss(), L.MixedLoss([L.CrossEntropyLoss(), L.DiceLoss()], [1, 2])],
              'coef': [1, 0.5]}
    old = ORIG['paddleseg.core.train.loss_computation'](logits, labels, None, losses)
    with pytest.raises(IndexError):  # train(): avg_loss_list = [l[0] / log_iters for l in ...numpy()]
        [l.numpy()[0] for l in old]
    new = train_mod.loss_computation(logits, labels, None, losses)
    assert [tuple(l.shape) for l in new] == [(1, )] * 3
    np.testing.assert_allclose([l.numpy()[0] for l in new], [float(l) for l in old], rtol=1e-6)
    sum(new).backward()
    assert logits[0].grad is not None and logits[1].grad is not None


# --------------------------------------------------------------------------- losses
def _np_ce(logit, label, weight=None, avg_non_ignore=True, ignore=255):
    valid = label != ignore
    lab0 = np.where(valid, label, 0)
    nll = -np.take_along_axis(_np_log_softmax(logit), lab0[:, None], 1)[:, 0]
    w = np.ones_like(nll) if weight is None else np.asarray(weight, 'float64')[lab0]
    if not avg_non_ignore:
        return (nll * w * valid).mean()
    return (nll * w * valid).mean() / ((w * valid).mean() + 1e-8)


@pytest.mark.parametrize('kwargs', [{}, {'weight': [1.0, 2.0, 0.5]}, {'avg_non_ignore': False}])
def test_cross_entropy_loss(kwargs):
    _needs('CrossEntropyLoss')
    logit, label = _logit([2, 3, 6, 5]), _labels((2, 6, 5))
    loss_fn = L.CrossEntropyLoss(**kwargs)
    nll = F.cross_entropy(logit.transpose([0, 2, 3, 1]), paddle.to_tensor(label), ignore_index=255,
                          reduction='none', weight=loss_fn.weight)
    with pytest.raises(TypeError, match='Type promotion'):  # float32 mask * int64 coef / label * mask
        ORIG['paddleseg.models.losses.CrossEntropyLoss._post_process_loss'](
            loss_fn, logit.transpose([0, 2, 3, 1]), paddle.to_tensor(label), None, nll)
    loss = loss_fn(logit, paddle.to_tensor(label))
    assert loss.shape == []
    np.testing.assert_allclose(float(loss), _np_ce(logit.numpy(), label, **kwargs), rtol=1e-5)
    loss.backward()
    assert np.isfinite(logit.grad.numpy()).all()


def test_rmi_loss():
    _needs('RMILoss')
    from paddleseg.models.losses.rmi_loss import _CLIP_MIN
    logit, label = _logit([2, 3, 12, 12]), _labels((2, 12, 12))
    loss_fn = L.RMILoss(num_classes=3)
    with pytest.raises(TypeError, match='Type promotion'):  # float32 * bool mask
        ORIG['paddleseg.models.losses.RMILoss.forward_sigmoid'](
            loss_fn, logit, paddle.to_tensor(label, 'float32'))
    loss = loss_fn(logit, paddle.to_tensor(label))
    valid = label != 255
    onehot = (np.eye(3)[np.where(valid, label, 0)] * valid[..., None]).transpose(0, 3, 1, 2)
    probs = 1 / (1 + np.exp(-logit.numpy())) * valid[:, None] + _CLIP_MIN
    expected = loss_fn.rmi_lower_bound(paddle.to_tensor(onehot, 'float32'),
                                       paddle.to_tensor(probs, 'float32'))
    np.testing.assert_allclose(float(loss), float(expected), rtol=1e-5)
    loss.backward()
    assert np.isfinite(logit.grad.numpy()).all()


def test_dice_loss_leaves_shared_labels_alone():
    _needs('DiceLoss')
    label_np = _labels((2, 6, 6))
    logit, labels = _logit([2, 3, 6, 6]), paddle.to_tensor(label_np)
    dice, ce = L.DiceLoss(), L.CrossEntropyLoss()
    loss = ce(logit, labels) + ORIG['paddleseg.models.losses.DiceLoss.forward'](dice, logit, labels)
    assert not (labels.numpy() == 255).any()  # the original zeroed the ignored pixels in place ...
    with pytest.raises(RuntimeError, match='inplace'):  # ... under CE's saved (uncopied) labels
        loss.backward()

    logit, labels = _logit([2, 3, 6, 6]), paddle.to_tensor(label_np)
    dice_value = dice(logit, labels)
    loss = ce(logit, labels) + dice_value
    np.testing.assert_array_equal(labels.numpy(), label_np)
    loss.backward()
    assert np.isfinite(logit.grad.numpy()).all()
    expected = ORIG['paddleseg.models.losses.DiceLoss.forward'](dice, logit, paddle.to_tensor(label_np))
    assert float(dice_value) == pytest.approx(float(expected), rel=1e-6)


# --------------------------------------------------------------------------- utils
def test_set_device_mlu_falls_back_to_cpu():
    _needs('utils.set_device')
    import paddleseg.utils
    device = paddle.get_device()
    try:
        with pytest.raises(AttributeError, match='is_compiled_with_mlu'):
            ORIG['paddleseg.utils.utils.set_device']('mlu')
        assert paddleseg.utils.set_device is importlib.import_module('paddleseg.utils.utils').set_device
        paddleseg.utils.set_device('mlu')
        assert paddle.get_device() == 'cpu'
    finally:
        paddle.set_device(device)


def test_only_noise_warnings_are_silenced():
    _needs('warnings')
    bn = paddle.nn.BatchNorm2D(2)
    bn.train()
    x = paddle.randn([2, 2, 3, 3])

    def noisy():
        bn(x)
        float(paddle.ones([1]))  # Paddle's Tensor.__float__ on a shape-[1] tensor
        warnings.warn('an unrelated warning', UserWarning)

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter('always')
        noisy()
    assert len(rec) == 3, [str(w.message) for w in rec]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter('always')
        compat._silence_noise()
        noisy()
    assert [str(w.message) for w in rec] == ['an unrelated warning']


# --------------------------------------------------------------------------- DataLoader
class _FailingSample(paddle.io.Dataset):
    """Eight samples; the fourth cannot be read."""

    def __len__(self):
        return 8

    def __getitem__(self, index):
        if index == 3:
            raise ValueError('sample 3 is broken')
        return np.float32([index])


def _loop_waits_forever_on_a_reader_error():
    """Whether a DataLoader's reader thread dies of a dataset error without telling ``__next__``."""
    class Failing(paddle.io.Dataset):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            raise ValueError('probe')

    hook, threading.excepthook = threading.excepthook, lambda args: None  # the dying thread's report
    try:
        iterator = iter(paddle.io.DataLoader(Failing(), batch_size=1))
        iterator._thread.join()
        waits_forever = not iterator._thread_done_event.is_set()  # __next__ was never told
    finally:
        threading.excepthook = hook
    iterator._try_shutdown_all()
    return waits_forever


def test_the_unfixed_reader_thread_dies_without_telling_the_loop():
    _needs('DataLoader')
    from paddle.io.dataloader import dataloader_iter
    patched = dataloader_iter._DataLoaderIterSingleProcess._thread_loop
    dataloader_iter._DataLoaderIterSingleProcess._thread_loop = ORIG[
        'paddle.io.dataloader.dataloader_iter._DataLoaderIterSingleProcess._thread_loop']
    try:
        assert _loop_waits_forever_on_a_reader_error()  # with Paddle's own thread, __next__ would wait forever
    finally:
        dataloader_iter._DataLoaderIterSingleProcess._thread_loop = patched
    assert not _loop_waits_forever_on_a_reader_error()


@pytest.mark.parametrize('num_workers', [0, 2])
def test_a_dataset_error_reaches_the_loop(num_workers):
    _needs('DataLoader')
    loader = paddle.io.DataLoader(_FailingSample(), batch_size=2, num_workers=num_workers)
    with pytest.raises(ValueError, match='sample 3 is broken') as error:
        for _ in loader:
            pass
    assert 'Blocking queue is killed' not in str(error.value)


# --------------------------------------------------------------------------- end to end
NUM_CLASSES = 3


@pytest.fixture(scope='module')
def toy_dataset(tmp_path_factory):
    """4 tiny 64x64 image/label pairs in PaddleSeg's generic file-list layout."""
    root = tmp_path_factory.mktemp('toy_seg')
    rng = np.random.RandomState(0)
    (root / 'img').mkdir()
    (root / 'lab').mkdir()
    lines = []
    for i in range(4):
        lab = np.zeros((64, 64), np.uint8)
        lab[:, 32:] = 1
        lab[40:, :] = 2
        lab[:3, :3] = 255
        img = rng.randint(0, 60, (64, 64, 3)).astype(np.uint8) + (lab[..., None] % 255 * 80).astype(np.uint8)
        cv2.imwrite(str(root / 'img' / ('%d.png' % i)), img)
        cv2.imwrite(str(root / 'lab' / ('%d.png' % i)), lab)
        lines.append('img/%d.png lab/%d.png' % (i, i))
    (root / 'list.txt').write_text('\n'.join(lines) + '\n')
    return root


def _datasets(root):
    import paddleseg.transforms as T
    from paddleseg.datasets import Dataset
    common = dict(dataset_root=str(root), num_classes=NUM_CLASSES)
    train = Dataset(mode='train', train_path=str(root / 'list.txt'),
                    transforms=[T.RandomHorizontalFlip(), T.Normalize()], **common)
    val = Dataset(mode='val', val_path=str(root / 'list.txt'), transforms=[T.Normalize()], **common)
    return train, val


def _model_and_optimizer():
    from paddleseg.models import PPLiteSeg
    from paddleseg.models.backbones import STDC1
    model = PPLiteSeg(num_classes=NUM_CLASSES, backbone=STDC1(), arm_out_chs=[32, 64, 128],
                      seg_head_inter_chs=[32, 64, 64])
    lr = paddle.optimizer.lr.PolynomialDecay(0.01, decay_steps=10, end_lr=0.0)
    return model, paddle.optimizer.Momentum(lr, momentum=0.9, parameters=model.parameters(),
                                            weight_decay=4e-5)


def _losses():
    return {'types': [OhemCrossEntropyLoss(min_kept=500), L.CrossEntropyLoss(),
                      L.MixedLoss([L.CrossEntropyLoss(), L.DiceLoss()], [0.5, 0.5])],
            'coef': [1, 1, 1]}


def _vdl_scalars(save_dir, tag):
    from visualdl import LogReader
    out = {}
    for name in sorted(f for f in os.listdir(save_dir) if f.startswith('vdlrecords')):
        reader = LogReader(file_path=os.path.join(save_dir, name))
        if tag in reader.get_tags().get('scalar', []):
            out.update({r.id: r.value for r in reader.get_data('scalar', tag)})
    return out


def _numpy_miou(model, val_dataset):
    model.eval()
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    with paddle.no_grad():
        for i in range(len(val_dataset)):
            sample = val_dataset[i]
            pred = model(paddle.to_tensor(sample['img'][None]))[0].numpy().argmax(1)[0]
            label = sample['label'][0]
            valid = label != 255
            np.add.at(confusion, (label[valid], pred[valid]), 1)
    inter = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - inter
    return np.mean(np.where(union > 0, inter / np.maximum(union, 1), 0))


@pytest.mark.slow
def test_train_evaluate_resume_end_to_end(tmp_path, toy_dataset):
    from paddleseg.core import evaluate, predict, train
    from paddleseg.utils import resume
    train_ds, val_ds = _datasets(toy_dataset)
    save_dir = str(tmp_path / 'out')
    paddle.seed(0)
    # Optimizer checkpoints are keyed by generated parameter names: the guard gives every run the
    # names a fresh process would, as PaddleSeg's train/resume expects.
    with paddle.utils.unique_name.guard():
        model, optimizer = _model_and_optimizer()
        train(model, train_ds, val_dataset=val_ds, optimizer=optimizer, save_dir=save_dir, iters=4,
              batch_size=2, save_interval=2, log_iters=1, use_vdl=True, losses=_losses(),
              keep_checkpoint_max=1,
              test_config={'aug_eval': True, 'scales': [0.75, 1.0], 'flip_horizontal': True})
    files = set(os.listdir(save_dir))
    assert {'iter_4', 'best_model'} <= files and 'iter_2' not in files  # keep_checkpoint_max=1
    losses = _vdl_scalars(save_dir, 'Train/loss')
    assert sorted(losses) == [1, 2, 3, 4] and np.isfinite(list(losses.values())).all()
    assert sorted(_vdl_scalars(save_dir, 'Train/loss_3')) == [1, 2, 3, 4]  # MixedLoss adds one entry
    assert sorted(_vdl_scalars(save_dir, 'Evaluate/mIoU')) == [2, 4]

    # evaluate: plain mIoU equals a numpy recomputation; flip/multi-scale and sliding window run
    miou, acc, class_iou, _, kappa = evaluate(model, val_ds, print_detail=False)
    assert miou == pytest.approx(_numpy_miou(model, val_ds), abs=1e-6)
    assert class_iou.shape == (NUM_CLASSES, ) and 0 <= acc <= 1 and -1 <= kappa <= 1
    for kwargs in ({'aug_eval': True, 'scales': [0.75, 1.0, 1.25], 'flip_horizontal': True,
                    'flip_vertical': True},
                   {'is_slide': True, 'crop_size': (48, 48), 'stride': (32, 32)},
                   {'aug_eval': True, 'scales': [1.0, 1.25], 'flip_horizontal': True,
                    'is_slide': True, 'crop_size': (48, 48), 'stride': (32, 32)}):
        assert 0 <= evaluate(model, val_ds, print_detail=False, **kwargs)[0] <= 1

    # resume restores the weights, the optimizer/LR state and the iteration counter
    checkpoint = os.path.join(save_dir, 'iter_4')
    with paddle.utils.unique_name.guard():
        restored, restored_opt = _model_and_optimizer()
    assert resume(restored, restored_opt, checkpoint) == 4
    saved = paddle.load(os.path.join(checkpoint, 'model.pdparams'))
    for name, value in restored.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), saved[name].numpy())
    assert restored_opt._learning_rate.last_epoch == 4

    # predict with flip + multi-scale + sliding window writes one label PNG per image
    images = [str(toy_dataset / 'img' / ('%d.png' % i)) for i in range(2)]
    predict(restored, os.path.join(save_dir, 'iter_4', 'model.pdparams'), val_ds.transforms, images,
            save_dir=str(tmp_path / 'pred'), aug_pred=True, scales=[1.0, 1.25], flip_horizontal=True,
            is_slide=True, crop_size=(48, 48), stride=(32, 32))
    pred = np.asarray(Image.open(tmp_path / 'pred' / 'pseudo_color_prediction' / '0.png'))  # palette ids
    assert pred.shape == (64, 64) and set(np.unique(pred)) <= set(range(NUM_CLASSES))

    # training resumed from iter_4 continues at iter 5 (with a worker process loading data)
    with paddle.utils.unique_name.guard():
        model2, optimizer2 = _model_and_optimizer()
        train(model2, train_ds, val_dataset=val_ds, optimizer=optimizer2, save_dir=save_dir, iters=6,
              batch_size=2, resume_model=checkpoint, save_interval=2, log_iters=1, use_vdl=True,
              losses=_losses(), num_workers=1, keep_checkpoint_max=1)
    assert os.path.isfile(os.path.join(save_dir, 'iter_6', 'model.pdparams'))
    assert sorted(_vdl_scalars(save_dir, 'Train/loss')) == [1, 2, 3, 4, 5, 6]
    assert _vdl_scalars(save_dir, 'Train/lr')[5] == pytest.approx(0.01 * (1 - 4 / 10))  # LR state resumed
    assert sorted(_vdl_scalars(save_dir, 'Evaluate/mIoU')) == [2, 4, 6]
