"""A model exported for one input shape (``--input_shape N C H W``) runs on images of any size and
on any number of them.

Images are resized to the model's H x W without keeping the aspect ratio (PaddleSeg's ``Resize``
with ``keep_ratio`` off, as PaddleX's ``targetSize`` resizes): no padding, so every pixel of the
model's input is image. PaddleSeg's ``reverse_transform`` undoes the recorded resize, so labels
come back at the image's own size by nearest neighbour. The resize ends the deployed transforms,
after any resize of the config's own, and is written into ``deploy.yaml`` so that PaddleSeg's own
deploy reader resizes too.

A model exported for batches of N runs a smaller batch padded with copies of its last image (their
outputs dropped) and a larger one in parts of N.
"""
import numpy as np

RESIZE = "Resize"


def fixed_size(input_shape):
    """(H, W) of an N C H W ``input_shape`` where both are fixed, else None."""
    if not input_shape or len(input_shape) != 4:
        return None
    height, width = input_shape[2:]
    return (height, width) if _fixed(height) and _fixed(width) else None


def fixed_batch(input_shape):
    """N of an N C H W ``input_shape`` where it is fixed, else None."""
    return input_shape[0] if input_shape and _fixed(input_shape[0]) else None


def fitted_transforms(transforms, input_shape):
    """``transforms`` (PaddleSeg config entries) ending with a resize to ``input_shape``'s H x W
    where those are fixed; as they are where they already end so, or where H or W is dynamic."""
    size = fixed_size(input_shape)
    transforms = list(transforms or [])
    if size is None:
        return transforms
    resize = {"type": RESIZE, "target_size": [size[1], size[0]], "keep_ratio": False}
    if transforms and _same_resize(transforms[-1], resize):
        return transforms
    return transforms + [resize]


def unfitted_transforms(transforms, input_shape):
    """``transforms`` without the resize to a fixed ``input_shape`` that ``fitted_transforms`` ends
    them with: what a model sliding windows of its own size over an image preprocesses with."""
    size = fixed_size(input_shape)
    transforms = list(transforms or [])
    if size is not None and transforms and _same_resize(transforms[-1], {"target_size": [size[1], size[0]]}):
        return transforms[:-1]
    return transforms


class FixedBatchRuntime:
    """A runtime of a model exported for batches of ``batch_size``, taking batches of any size."""

    def __init__(self, runtime, batch_size):
        self.runtime, self.batch_size = runtime, batch_size
        self.name = runtime.name

    def __call__(self, batch):
        outputs = []
        for start in range(0, len(batch), self.batch_size):
            part = batch[start:start + self.batch_size]
            padding = self.batch_size - len(part)
            if padding:
                part = np.concatenate([part, np.repeat(part[-1:], padding, axis=0)])
            outputs.append(self.runtime(part)[:self.batch_size - padding])
        return np.concatenate(outputs)

    def __getattr__(self, name):  # the backend's own attributes (session, config, ...)
        return getattr(self.runtime, name)


def _fixed(size):
    return isinstance(size, int) and size > 0


def _same_resize(entry, resize):
    return (isinstance(entry, dict) and entry.get("type") == RESIZE
            and list(entry.get("target_size") or []) == resize["target_size"] and not entry.get("keep_ratio"))
