"""``ExportedModel``: a directory written by ``paddleseg export``, read once and handed to everything
that runs it (runtimes, the runtime choice, ``tune``, the int8 file choice, ``bench``, the Predictor).

It knows its ``deploy.yaml`` (``model_files`` names the keys), the file a backend runs at a
precision, the input shape it was fixed to (if any), and its preprocessing, built once (resizing
to a fixed shape: ``fixed_shape``); the labels of a runtime's output are brought back to the
image's size by ``labels_from_output``.
"""
import copy
import functools
import os

import numpy as np
import yaml

from ...errors import UserError
from .fixed_shape import fitted_transforms, fixed_batch
from .model_files import (DEPLOY_FILE, DEPLOY_SECTION, INPUT_SHAPE_KEY, ONNX_INT8_KEY, ONNX_KEY, REQUIRED_KEYS, TRANSFORMS_KEY)

DEFAULT_TRANSFORMS = [{"type": "Normalize"}]  # PaddleSeg's default preprocessing: a model without a config


class BackendUnavailable(UserError):
    """A backend that is not installed or cannot run this model, device or precision."""


class MissingExportFile(BackendUnavailable):
    """An exported model without the file a backend or precision needs; ``needs`` names the export
    options that write it (``("onnx",)`` or ``("onnx", "int8")``)."""

    def __init__(self, model_dir, key, needs):
        how = ", ".join(f"{option}=True" for option in needs)
        super().__init__(f"{model_dir} has no {key} model: export it with {how}", path=model_dir)
        self.model_dir, self.key, self.needs = model_dir, key, needs


class ExportedModel:
    """An exported model's directory and its ``deploy.yaml``.

    Args:
        directory (str): The directory.
        deploy (dict): Its ``Deploy`` section (``read`` reads and checks it).
    """

    def __init__(self, directory, deploy):
        self.directory, self.deploy = os.fspath(directory), dict(deploy)

    @classmethod
    def read(cls, directory):
        """The model in ``directory``, its ``deploy.yaml`` checked for the keys inference needs."""
        directory = os.fspath(directory)
        path = os.path.join(directory, DEPLOY_FILE)
        if not os.path.isfile(path):
            raise UserError(f"{directory}: {DEPLOY_FILE} not found; not a directory written by `paddleseg export`",
                            path=directory)
        with open(path) as file:
            deploy = (yaml.safe_load(file) or {}).get(DEPLOY_SECTION)
        if not isinstance(deploy, dict):
            raise UserError(f"{path} has no {DEPLOY_SECTION} section", path=path)
        missing = [key for key in REQUIRED_KEYS if key not in deploy]
        if missing:
            raise UserError(f"{path}: {DEPLOY_SECTION} has no {', '.join(missing)}", path=path)
        return cls(directory, deploy)

    def write(self):
        """Write ``deploy.yaml`` from ``deploy``."""
        with open(os.path.join(self.directory, DEPLOY_FILE), "w") as file:
            yaml.safe_dump({DEPLOY_SECTION: self.deploy}, file, sort_keys=False)
        return self

    def updated(self, **entries):
        """The same directory with ``entries`` set in its deploy section (not written yet)."""
        return ExportedModel(self.directory, {**self.deploy, **entries})

    def path(self, key):
        """The file ``deploy.yaml``'s ``key`` names, in the model's directory."""
        return os.path.join(self.directory, self.deploy[key])

    def file(self, name):
        """A file of the model's directory, by name."""
        return os.path.join(self.directory, name)

    def get(self, key, default=None):
        return self.deploy.get(key, default)

    def __contains__(self, key):
        return key in self.deploy

    @property
    def transforms(self):
        """The deployed preprocessing (config entries), ending with the resize to a fixed input
        shape's H x W (``fixed_shape``), also for models exported before it was written down."""
        return fitted_transforms(self.deploy[TRANSFORMS_KEY], self.deploy.get(INPUT_SHAPE_KEY))

    @property
    def fixed_shape(self):
        """The N C H W the model was exported for, or None where any size stays dynamic."""
        shape = self.deploy.get(INPUT_SHAPE_KEY) or []
        return list(shape) if shape and all(isinstance(size, int) and size > 0 for size in shape) else None

    @property
    def fixed_batch(self):
        """The batch size the model was exported for, or None where it is dynamic."""
        return fixed_batch(self.deploy.get(INPUT_SHAPE_KEY))

    def onnx_file(self, precision, int8_key=ONNX_INT8_KEY):
        """The ONNX model a backend runs at ``precision`` (int8: ``int8_key``'s, else onnxruntime's);
        raises MissingExportFile where export did not write it."""
        if precision == "int8" and int8_key in self.deploy:
            return self.path(int8_key)
        key = ONNX_INT8_KEY if precision == "int8" else ONNX_KEY
        if key not in self.deploy:
            raise MissingExportFile(self.directory, key, ("onnx", "int8") if precision == "int8" else ("onnx",))
        return self.path(key)

    @functools.cached_property
    def compose(self):
        """The deployed preprocessing (PaddleSeg's ``Compose``), built once."""
        return preprocessing(self.transforms)

    def preprocess(self, image):
        """(C, H, W float32 model input, trans_info) of a BGR uint8 image."""
        data = self.compose({"img": image.astype("float32")})
        return data["img"], data["trans_info"]

    def input_shape_of(self, image, batch_size=1):
        """The N C H W input ``image`` (BGR) becomes in batches of ``batch_size`` (or of the batch
        the model was exported for): what tuning is keyed by."""
        return [self.fixed_batch or batch_size, *self.preprocess(image)[0].shape]


def preprocessing(transforms):
    """PaddleSeg's ``Compose`` of ``transforms`` (config entries), as PaddleSeg's deploy reader builds it."""
    from paddleseg.deploy.infer import DeployConfig

    return DeployConfig.load_transforms(copy.deepcopy(transforms))


def labels_from_output(output, trans_info):
    """Labels from one image's runtime output (labels, or logits/probabilities), at the image's size."""
    labels = output if output.ndim == 2 else output.argmax(axis=0)
    if trans_info:
        import paddle
        from paddleseg.core.infer import reverse_transform

        labels = reverse_transform(paddle.to_tensor(labels[np.newaxis, np.newaxis].astype("int32")),
                                   trans_info, mode="nearest").numpy()[0, 0]
    return labels.astype("uint8")
