"""A PaddleSeg dataset whose broken samples fail naming their files, in DataLoader workers too.

PaddleSeg reads a sample's files inside ``__getitem__``: a corrupt image met there surfaces as
"'NoneType' object has no attribute 'astype'" from a worker process, and a label value of 19 in a
19-class dataset as an error deep inside the loss (a device-side assert on GPU). The wrapper turns
both into a ``SampleError`` that names the file and says what is wrong with it.
"""
import numpy as np
import paddle

from ..errors import SampleError
from .data_checks import dataset_ignore_index, image_read_flag, label_value_problems, sample_problems


def wrap_dataset(dataset, check_labels=True):
    """``dataset`` (a PaddleSeg dataset) behaving the same, but failing with ``SampleError``s.

    Args:
        dataset: A PaddleSeg dataset: ``file_list``, ``num_classes``, ``ignore_index``.
        check_labels (bool): Also check the values of every label loaded (a few vectorised comparisons).
    """
    return ReportingDataset(dataset, check_labels)


class ReportingDataset(paddle.io.Dataset):
    """The items, length and attributes of ``dataset``; a failing item raises ``SampleError``.

    Attributes are read from and written to the wrapped dataset (``file_list``, ``num_classes``...),
    so PaddleSeg's trainer and evaluator, and code that edits ``file_list``, see no difference.
    """

    def __init__(self, dataset, check_labels=True):
        object.__setattr__(self, "dataset", dataset)
        object.__setattr__(self, "check_labels", check_labels)

    def __getattr__(self, name):
        if name == "dataset":  # not set yet, as while unpickling in a worker process
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __setattr__(self, name, value):
        setattr(self.dataset, name, value)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        try:
            sample = self.dataset[index]
        except Exception as error:
            raise SampleError(self._describe_failure(index, error)) from error
        label = sample.get("label") if isinstance(sample, dict) else None
        if self.check_labels and label is not None:
            problems = label_value_problems(np.asarray(label), self._label_path(index),
                                            self.dataset.num_classes, dataset_ignore_index(self.dataset))
            if problems:
                raise SampleError(f"{problems[0]} (sample {index})")
        return sample

    def _label_path(self, index):
        file_list = getattr(self.dataset, "file_list", None)
        return file_list[index][1] if file_list is not None else f"the label of sample {index}"

    def _describe_failure(self, index, error):
        """What is wrong with the sample's files (found by re-reading them), else the error itself."""
        file_list = getattr(self.dataset, "file_list", None)
        if file_list is None:
            return f"sample {index}: {type(error).__name__}: {error}"
        image_path, label_path = file_list[index]
        problems = sample_problems(image_path, label_path, self.dataset.num_classes,
                                   dataset_ignore_index(self.dataset), image_read_flag(self.dataset))
        if problems:
            return "; ".join(map(str, problems)) + f" (sample {index})"
        files = image_path if label_path is None else f"{image_path} / {label_path}"
        return f"{files}: {type(error).__name__}: {error} (sample {index})"
