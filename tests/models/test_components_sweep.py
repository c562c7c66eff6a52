"""Every component the plugin registers in PaddleSeg's manager, swept as timm sweeps its models.

The list comes from the registries themselves: a component added tomorrow is collected here and
fails until it has an example below. Layers are built, run on small inputs (output shapes), trained
one step's worth (a gradient on every parameter) and exported (``paddle.jit.to_static`` / ``save``,
then loaded and run); losses give a finite value and a gradient to the logits; datasets are built on a few generated files and read through a DataLoader.
"""
from collections import namedtuple

import numpy as np
import paddle
import pytest
from paddle.static import InputSpec
from paddleseg.cvlibs import manager
from paddleseg.transforms import Normalize
from PIL import Image

REGISTRIES = ("MODELS", "BACKBONES", "LOSSES", "TRANSFORMS", "DATASETS")

# build() -> the component's arguments; inputs: shapes of forward's arguments (lists for list
# arguments, batch first); outputs: the shapes forward returns in training.
LayerExample = namedtuple("LayerExample", "build inputs outputs")
LAYER_EXAMPLES = {
    "LiteSeg": [LayerExample(lambda: dict(num_classes=3, backbone=manager.BACKBONES["STDC1"](),
                                          decoder=dict(out_channels=[16, 24, 32]), head_mid_channels=8,
                                          context=dict(inter_channels=16, out_channels=32)),
                             [[2, 3, 64, 64]], [[2, 3, 64, 64]] * 3)],
    "UAFM": [LayerExample(lambda attention=attention: dict(low_channels=8, high_channels=16, out_channels=12,
                                                           attention=attention),
                          [[2, 8, 16, 16], [2, 16, 8, 8]], [2, 12, 16, 16])
             for attention in ("spatial", "channel", "none")],
    "SPPM": [LayerExample(lambda: dict(in_channels=16, inter_channels=8, out_channels=12), [[2, 16, 8, 8]],
                          [2, 12, 8, 8])],
    "FLD": [LayerExample(lambda: dict(in_channels=[8, 16, 32], context_channels=24, out_channels=[8, 12, 16]),
                         [[[2, 8, 32, 32], [2, 16, 16, 16], [2, 32, 8, 8]], [2, 24, 4, 4]],
                         [[2, 8, 32, 32], [2, 12, 16, 16], [2, 16, 8, 8]])],
    "LiteSegHead": [LayerExample(lambda: dict(in_channels=8, mid_channels=6, num_classes=3), [[2, 8, 16, 16]],
                                 [2, 3, 16, 16])],
}


# build() -> the loss's arguments; logits: the (N, C, H, W) shape it is computed on, with random labels.
LossExample = namedtuple("LossExample", "build logits")
LOSS_EXAMPLES = {
    "OhemCrossEntropyLoss": [LossExample(lambda: dict(min_kept=50), [2, 4, 8, 8])],
}


def _write_file_list(root, name, count=3, size=(24, 32), num_classes=11, ignore_index=255):
    """``count`` random image/label pairs under ``root`` and the list ``name`` naming them."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(exist_ok=True)
    (root / "labels").mkdir(exist_ok=True)
    lines = []
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(root / "images" / f"{i}.png")
        label = rng.choice([*range(num_classes), ignore_index], size).astype(np.uint8)
        Image.fromarray(label).save(root / "labels" / f"{i}.png")
        lines.append(f"images/{i}.png labels/{i}.png\n")
    (root / name).write_text("".join(lines))


# build(root) -> the dataset's arguments, after writing what it reads into root.
DatasetExample = namedtuple("DatasetExample", "build")
DATASET_EXAMPLES = {
    "CamVid": [DatasetExample(lambda root: (_write_file_list(root, "train.txt"),
                                            dict(transforms=[Normalize()], dataset_root=str(root)))[1])],
}


def _plugin_components():
    """(registry, name, component) for everything ``paddleseg_liteseg`` registered."""
    return [(registry, name, component) for registry in REGISTRIES
            for name, component in sorted(getattr(manager, registry).components_dict.items())
            if component.__module__.startswith("paddleseg_liteseg.")]


def _cases(registries, examples):
    """One case per example of each component in ``registries``; None where it has no example."""
    return [pytest.param(component, example, id=f"{name}-{index}" if len(cases) > 1 else name)
            for registry, name, component in _plugin_components() if registry in registries
            for cases in [examples.get(name) or [None]] for index, example in enumerate(cases)]


def test_every_plugin_component_is_swept():
    """A registered component the sweep cannot exercise fails here, naming it."""
    kinds = {"MODELS": LAYER_EXAMPLES, "BACKBONES": LAYER_EXAMPLES, "LOSSES": LOSS_EXAMPLES,
             "DATASETS": DATASET_EXAMPLES}
    components = _plugin_components()
    assert {name for _, name, _ in components} >= {"LiteSeg", "UAFM", "SPPM", "FLD", "LiteSegHead", "CamVid"}
    missing = [f"{registry}.{name}" for registry, name, _ in components if name not in kinds.get(registry, {})]
    assert not missing, f"add an example to tests/models/test_components_sweep.py for {missing}"


def _tensors(shapes, rng):
    if isinstance(shapes[0], list):
        return [_tensors(shape, rng) for shape in shapes]
    return paddle.to_tensor(rng.standard_normal(shapes).astype("float32"))


def _specs(shapes):
    """Dynamic-size InputSpecs (batch, height and width unknown) for inputs of ``shapes``."""
    if isinstance(shapes[0], list):
        return [_specs(shape) for shape in shapes]
    return InputSpec([None, shapes[1], *[None] * (len(shapes) - 2)], "float32")


def _shapes(output):
    return [_shapes(item) for item in output] if isinstance(output, (list, tuple)) else list(output.shape)


def _flat(output):
    return [t for item in output for t in _flat(item)] if isinstance(output, (list, tuple)) else [output]


def _layer(component, example):
    if example is None:
        pytest.fail(f"{component.__name__} has no example in LAYER_EXAMPLES")
    paddle.seed(0)
    return component(**example.build())


@pytest.mark.parametrize("component, example", _cases(("MODELS", "BACKBONES"), LAYER_EXAMPLES))
def test_builds_runs_and_trains_every_parameter(component, example):
    layer = _layer(component, example)
    layer.train()
    inputs = _tensors(example.inputs, np.random.default_rng(0))
    outputs = layer(*inputs)
    assert _shapes(outputs) == example.outputs
    sum(output.square().mean() for output in _flat(outputs)).backward()
    parameters = [(name, p) for name, p in layer.named_parameters() if not p.stop_gradient]
    assert parameters
    no_gradient = [name for name, p in parameters
                   if p.grad is None or not np.isfinite(p.grad.numpy()).all() or not p.grad.numpy().any()]
    assert not no_gradient, f"no (finite, non-zero) gradient reaches {no_gradient}"


@pytest.mark.parametrize("component, example", _cases(("MODELS", "BACKBONES"), LAYER_EXAMPLES))
def test_exports_to_a_static_graph_that_computes_the_same(component, example, tmp_path):
    layer = _layer(component, example)
    layer.eval()
    inputs = _tensors(example.inputs, np.random.default_rng(0))
    with paddle.no_grad():
        expected = _flat(layer(*inputs))
    path = str(tmp_path / "layer")
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=_specs(example.inputs), full_graph=True), path)
    loaded = paddle.jit.load(path)
    # A static graph takes its list arguments flattened, in order.
    got = _flat(loaded(*_flat(inputs)))
    assert [list(t.shape) for t in got] == [list(t.shape) for t in expected]
    for value, reference in zip(got, expected):
        np.testing.assert_allclose(value.numpy(), reference.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("component, example", _cases(("LOSSES", ), LOSS_EXAMPLES))
def test_loss_is_finite_and_reaches_the_logits(component, example):
    if example is None:
        pytest.fail(f"{component.__name__} has no example in LOSS_EXAMPLES")
    rng = np.random.default_rng(0)
    logits = _tensors(example.logits, rng)
    logits.stop_gradient = False
    batch, classes, height, width = example.logits
    labels = paddle.to_tensor(rng.choice([*range(classes), 255], (batch, height, width)))
    loss = component(**example.build())(logits, labels)
    assert loss.shape == [] and np.isfinite(float(loss)) and float(loss) > 0
    loss.backward()
    assert np.isfinite(logits.grad.numpy()).all() and logits.grad.numpy().any()


@pytest.mark.parametrize("component, example", _cases(("DATASETS", ), DATASET_EXAMPLES))
def test_dataset_builds_and_loads_batches(component, example, tmp_path):
    if example is None:
        pytest.fail(f"{component.__name__} has no example in DATASET_EXAMPLES")
    dataset = component(**example.build(tmp_path))
    assert len(dataset) == 3
    sample = dataset[0]
    image, label = sample["img"], sample["label"]
    assert image.dtype == np.float32 and image.shape[0] == 3
    assert label.shape[-2:] == image.shape[1:]
    assert set(np.unique(label)) <= {*range(dataset.num_classes), dataset.ignore_index}
    batch = next(iter(paddle.io.DataLoader(dataset, batch_size=2)))
    assert list(batch["img"].shape) == [2, *image.shape]
