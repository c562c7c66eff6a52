"""CamVid (SegNet's 11-class version) as a PaddleSeg dataset, read from file lists.

Run ``scripts/prepare_camvid.py`` on the raw SegNet download first: it writes labels with void as
255 and the ``train.txt``/``val.txt``/``test.txt`` lists ("image_path label_path", relative to
the dataset root) that this class reads.
"""
import os

from paddleseg.cvlibs import manager
from paddleseg.datasets import Dataset


@manager.DATASETS.add_component
class CamVid(Dataset):
    """CamVid, 360x480 street scenes in 11 classes; void pixels are labelled 255 and ignored.

    Args:
        transforms (list): PaddleSeg transforms.
        dataset_root (str): Folder the file lists' paths are relative to.
        mode (str): 'train', 'val' or 'test'.
        train_path, val_path, test_path (str, optional): File lists; default to
            ``train.txt``, ``val.txt`` and ``test.txt`` in ``dataset_root``.
        separator (str): Separator of the two paths on a list line.
        edge (bool): Whether to also return edge masks (for models trained with edge losses).
    """
    NUM_CLASSES = 11
    IGNORE_INDEX = 255
    IMG_CHANNELS = 3
    CLASS_NAMES = ("Sky", "Building", "Pole", "Road", "Sidewalk", "Tree", "SignSymbol", "Fence", "Car",
                   "Pedestrian", "Bicyclist")
    # SegNet's CamVid colours (RGB), one per class in CLASS_NAMES order.
    PALETTE = ((128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
               (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192))

    def __init__(self, transforms, dataset_root, mode="train", train_path=None, val_path=None, test_path=None,
                 separator=" ", edge=False):
        mode = mode.lower()
        if not os.path.isdir(dataset_root):
            raise FileNotFoundError(f"CamVid dataset_root is not a folder: {dataset_root}")
        lists = {"train": train_path, "val": val_path, "test": test_path}
        if mode not in lists:
            raise ValueError(f"mode must be 'train', 'val' or 'test', got {mode!r}")
        list_path = lists[mode] or os.path.join(dataset_root, f"{mode}.txt")
        if not os.path.isfile(list_path):
            raise FileNotFoundError(
                f"CamVid {mode} file list not found: {list_path} (write it with scripts/prepare_camvid.py)")
        lists[mode] = list_path
        try:
            super().__init__(mode, dataset_root, transforms, self.NUM_CLASSES, img_channels=self.IMG_CHANNELS,
                             train_path=lists["train"], val_path=lists["val"], test_path=lists["test"],
                             separator=separator, ignore_index=self.IGNORE_INDEX, edge=edge)
        except ValueError as error:
            raise ValueError(f"{list_path}: {error}") from error
        for paths in self.file_list:
            for path in paths:
                if path is not None and not os.path.isfile(path):
                    raise FileNotFoundError(f"{list_path} names a missing file: {path}")
