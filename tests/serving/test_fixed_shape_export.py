"""``paddleseg serve`` of a model exported with a fixed ``--input_shape``: images of other sizes
are answered at their own size, with the label map ``Predictor`` (and so ``infer``) gives."""
import base64

import cv2
import numpy as np

from paddleseg_liteseg import Predictor
from paddleseg_liteseg.serving.settings import ServeSettings
from serving.conftest import app_client


def test_serve_answers_images_of_other_sizes_at_their_size(fixed_export, other_size_images):
    predictor = Predictor(fixed_export, backend="onnxruntime", precision="fp32")
    settings = ServeSettings(model_dir=fixed_export, backend="onnxruntime", precision="fp32")
    with app_client(settings) as client:
        for image in other_size_images:
            encoded = base64.b64encode(cv2.imencode(".png", image)[1].tobytes()).decode("ascii")
            response = client.post("/semantic-segmentation", json={"image": encoded})
            assert response.status_code == 200, response.text
            result = response.json()["result"]
            assert result["size"] == list(image.shape[:2])
            labels = np.array(result["labelMap"], dtype=np.uint8).reshape(image.shape[:2])
            assert (labels == predictor.predict(image)).all()
