"""The images int8 is calibrated on and its agreement with fp32 is measured on, from a config.

Calibration takes the config's train_dataset images (or images given); agreement takes its
val_dataset's: a model is more confident on the images it was trained on, so int8 flips fewer of
their pixels, and they would overstate its agreement.
"""
from ...datasets.config_datasets import config_dataset
from ...errors import ConfigError, UserError
from ...image_files import list_images
from .quantize import CALIBRATION_IMAGES, calibration_images, labelled_images


def calibration_set(config_name, builder, transforms, calib_images=None, count=CALIBRATION_IMAGES):
    """``count`` images from ``calib_images`` (an image, folder or file list) or else the
    train_dataset of the config (its ``builder``; None for a model without one), preprocessed by
    ``transforms`` (config entries).

    Args:
        config_name (str): How messages name the config.
    """
    return calibration_images(calibration_paths(config_name, builder, calib_images), transforms, count)


def calibration_paths(config_name, builder, calib_images=None):
    """The image paths ``calibration_set`` takes its images from."""
    if calib_images:
        return list_images(calib_images)[0]
    if builder is None:
        raise UserError("int8 calibration of a model without a config needs calib_images", argument="calib_images")
    dataset, why = config_dataset(builder, "train_dataset")
    if dataset is None:
        raise ConfigError(f"{config_name}: train_dataset gives no calibration images ({why}); pass calib_images",
                          argument="calib_images")
    return [pair[0] for pair in dataset.file_list]


def agreement_set(builder, transforms, count=CALIBRATION_IMAGES):
    """``count`` images of the config's val_dataset (its ``builder``'s) and their labels, preprocessed
    by ``transforms``, for int8's agreement with fp32 and its mIoU: (images, labels, the dataset's
    ignore_index); None (with a warning where the config names a val_dataset) where there are none."""
    found = agreement_pairs(builder)
    if found is None:
        return None
    pairs, ignore_index = found
    return (*labelled_images(pairs, transforms, count), ignore_index)


def agreement_pairs(builder):
    """The (image, label) path pairs of the config's val_dataset and its ignore_index, or None (see
    ``agreement_set``)."""
    from paddleseg.utils import logger

    if builder is None or not builder.config.dic.get("val_dataset"):
        return None
    dataset, why = config_dataset(builder, "val_dataset")
    pairs = [pair[:2] for pair in dataset.file_list] if dataset is not None else []
    if not pairs:
        reason = f"val_dataset gives no images ({why})" if dataset is None else "val_dataset lists no images"
        logger.warning(f"int8: {reason}; measuring the agreement with fp32 on the calibration images")
        return None
    return pairs, dataset.ignore_index
