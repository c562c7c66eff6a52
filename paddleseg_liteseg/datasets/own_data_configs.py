"""Ready-to-train PP-LiteSeg configs for a dataset ``prepare_dataset`` wrote.

Each config inherits the shipped T or B model config by absolute path and names the dataset by
absolute paths, so ``paddleseg train --config OUTPUT/pp_liteseg_t.yml`` works from any working
directory. The crop is the median image size (a multiple of PP-LiteSeg's stride of 32, at most
1024), and OHEM keeps a sixteenth of each batch's pixels, as the shipped Cityscapes and CamVid
configs do.
"""
import os

import yaml

from ..shipped_configs import config_root

MODEL_CONFIGS = {"pp_liteseg_t.yml": "PP-LiteSeg-T (STDC1)", "pp_liteseg_b.yml": "PP-LiteSeg-B (STDC2)"}
LITESEG_STRIDE = 32  # PP-LiteSeg's deepest features, which SPPM pools, are 1/32 of the input
MAX_CROP = 1024
BATCH_SIZE = 4
ITERS = 10000
OHEM_SHARE = 16  # min_kept = batch pixels // 16


def crop_size(image_sizes):
    """[width, height] to train on: the median image size, rounded down to a multiple of 32 in [32, 1024]."""
    widths = sorted(width for width, _ in image_sizes)
    heights = sorted(height for _, height in image_sizes)
    return [min(MAX_CROP, max(LITESEG_STRIDE, side // LITESEG_STRIDE * LITESEG_STRIDE)) for side in (widths[len(widths) // 2],
                                                                        heights[len(heights) // 2])]


def training_config(output_dir, model_config, num_classes, crop, ignore_index=255):
    """The config dict for one model over the dataset in ``output_dir`` (absolute)."""
    dataset = {"type": "Dataset", "dataset_root": output_dir, "num_classes": num_classes,
               "ignore_index": ignore_index}
    train_transforms = [
        {"type": "ResizeStepScaling", "min_scale_factor": 0.5, "max_scale_factor": 2.0, "scale_step_size": 0.25},
        {"type": "RandomPaddingCrop", "crop_size": crop},
        {"type": "RandomHorizontalFlip"},
        {"type": "RandomDistort", "brightness_range": 0.4, "contrast_range": 0.4, "saturation_range": 0.4},
        {"type": "Normalize"}]
    return {
        "_base_": os.path.join(config_root(), "_base_", model_config),
        "batch_size": BATCH_SIZE,
        "iters": ITERS,
        "train_dataset": dict(dataset, train_path=os.path.join(output_dir, "train.txt"), mode="train",
                              transforms=train_transforms),
        "val_dataset": dict(dataset, val_path=os.path.join(output_dir, "val.txt"), mode="val",
                            transforms=[{"type": "Normalize"}]),
        "optimizer": {"type": "SGD", "momentum": 0.9, "weight_decay": 5.0e-4},
        "lr_scheduler": {"type": "PolynomialDecay", "learning_rate": 0.01, "end_lr": 0, "power": 0.9,
                         "warmup_iters": 200, "warmup_start_lr": 1.0e-5},
        "loss": {"types": [{"type": "OhemCrossEntropyLoss",
                            "min_kept": BATCH_SIZE * crop[0] * crop[1] // OHEM_SHARE}],
                 "coef": [1, 1, 1]},
        "model": {"num_classes": num_classes},
    }


def write_configs(folder, output_dir, num_classes, image_sizes, class_names):
    """Write ``pp_liteseg_t.yml`` and ``pp_liteseg_b.yml`` into ``folder`` for the dataset that will
    live in ``output_dir``; returns their names."""
    crop = crop_size(image_sizes)
    classes = ", ".join(f"{index} {name}" for index, name in enumerate(class_names))
    for name, model in MODEL_CONFIGS.items():
        header = (f"# {model} on the dataset in {output_dir}, written by paddleseg prepare-dataset.\n"
                  f"# Classes: {classes}; 255 is ignored. Class names: class_names.txt next to this file.\n"
                  f"# Crop {crop[0]}x{crop[1]}: the median image size, a multiple of 32 (at most 1024).\n"
                  "# The backbone starts from ImageNet weights (downloaded once), as in the paper; offline,\n"
                  "# train with --opts model.backbone.pretrained=None or point it at a local file.\n")
        config = training_config(output_dir, name, num_classes, crop)
        with open(os.path.join(folder, name), "w") as file:
            file.write(header + yaml.safe_dump(config, sort_keys=False, default_flow_style=None))
    return list(MODEL_CONFIGS)
