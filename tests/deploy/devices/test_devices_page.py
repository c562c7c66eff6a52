"""The "On devices" page's Python (docs/devices.md), run as written on the toy export: with only
the formats' own runtimes and deploy.yaml, it gives the labels of the plugin's backends."""
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from paddleseg_liteseg.deploy.exporting.exported_model import ExportedModel
from paddleseg_liteseg.deploy.running.runtimes import create_runtime

PAGE = Path(__file__).resolve().parents[3] / "docs" / "devices.md"


def snippet(name):
    """The code of the page's ``name`` snippet (between pymdownx.snippets' markers)."""
    text = PAGE.read_text()
    block = re.search(rf"<!-- --8<-- \[start:{name}\] -->\n```python\n(.*?)```\n<!-- --8<-- \[end:{name}\] -->",
                      text, re.DOTALL)
    assert block, f"{PAGE} has no {name} snippet"
    return block.group(1)


@pytest.mark.slow
@pytest.mark.parametrize("format", ["ncnn", "tflite"])
def test_the_pages_python_gives_the_backends_labels(device_export, toy_model, format):
    image_path = sorted((toy_model.root / "leftImg8bit" / "val").rglob("*.png"))[0]
    code = snippet(f"{format}-python")
    assert code.startswith('model_dir = "output/inference_model"\nimage_path = "street.png"\n')
    code = code.replace('"output/inference_model"', repr(device_export["dir"]), 1).replace('"street.png"',
                                                                                         repr(str(image_path)), 1)
    namespace = {}
    exec(compile(code, f"{PAGE}:{format}-python", "exec"), namespace)
    model = ExportedModel.read(device_export["dir"])
    data, _ = model.preprocess(cv2.imread(str(image_path)))
    expected = create_runtime(model, format, precision="fp32")(data[np.newaxis])[0]
    assert namespace["labels"].shape == expected.shape
    assert (namespace["labels"] == expected).mean() >= 0.999  # resized then normalized, here the other way round
