"""PP-LiteSeg-T learns the toy task through PaddleSeg's own trainer and evaluator."""
import numpy as np
from paddleseg.core import evaluate
from paddleseg.cvlibs import Config, SegBuilder

from paddleseg_liteseg.weights.layouts import load_pretrained

# Required: twice the mIoU of predicting the majority class everywhere, which a model that has not
# learned to tell the classes apart cannot reach (tests/conftest.py trains it).
BASELINE_FACTOR = 2.0


def majority_class_miou(dataset, num_classes):
    """mIoU of predicting the most frequent class for every pixel: the floor to beat."""
    labels = np.concatenate([dataset[i]["label"].ravel() for i in range(len(dataset))])
    labels = labels[labels != 255]
    majority = np.bincount(labels, minlength=num_classes).argmax()
    return (labels == majority).mean() / num_classes  # IoU of the majority class; 0 for the others


def test_trained_model_beats_the_majority_baseline(toy_trained):
    builder = SegBuilder(Config(toy_trained.config))
    model = builder.model
    load_pretrained(model, toy_trained.checkpoint)
    miou, *_ = evaluate(model, builder.val_dataset, print_detail=False)
    baseline = majority_class_miou(builder.val_dataset, model.num_classes)
    print(f"mIoU after training: {miou:.3f}; majority-class baseline: {baseline:.3f}")
    assert miou >= BASELINE_FACTOR * baseline
