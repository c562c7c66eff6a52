"""The H x W a layer resizes or pools to: plain ints where the graph knows them, else read at run time.

Eagerly, and in a graph exported with a fixed ``input_shape``, every side is known, and ints make
the exported resizes and pools constant: ONNX that edge converters (pnnx, onnx2tf) and TensorRT
take as it is. A graph exported with dynamic H and W reads the sizes with ``paddle.shape``, so it
runs at any size.
"""
import paddle


@paddle.jit.not_to_static  # dy2static would turn ``x.shape`` into a run-time read, and the test into a cond
def spatial_size(x):
    """(H, W) of an (N, C, H, W) tensor: ints where known, else a tensor read at run time."""
    height, width = x.shape[2:]
    if height > 0 and width > 0:
        return [int(height), int(width)]
    return paddle.shape(x)[2:]


def is_known(size):
    """Whether ``spatial_size`` gave ints (the graph's H and W are fixed)."""
    return isinstance(size, list)
