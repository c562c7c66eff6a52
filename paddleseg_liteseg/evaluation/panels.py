"""Pictures of single evaluated images: image | ground truth | prediction | errors, and overlays.

Classes take the dataset's palette where it has one, else PaddleSeg's colour map; ignored pixels
are black. In the errors panel wrong pixels are red over the dimmed image.
"""
import cv2
import numpy as np

WRONG = (255, 0, 0)
IGNORED = (0, 0, 0)


def class_colours(palette, ignore_index):
    """A (256, 3) uint8 RGB lookup table: ``palette`` (a list of RGB) first, then PaddleSeg's map."""
    from paddleseg.utils.visualize import get_color_map_list
    table = np.array(get_color_map_list(256), np.uint8).reshape(256, 3)
    if palette:
        table[:len(palette)] = np.array(palette, np.uint8)
    if 0 <= ignore_index < 256:
        table[ignore_index] = IGNORED
    return table


def read_rgb(path, shape):
    """The image file at ``path`` as RGB of ``shape`` (H, W), or a grey picture if there is none."""
    image = cv2.imread(path, cv2.IMREAD_COLOR) if path else None
    if image is None:
        return np.full((*shape, 3), 128, np.uint8)
    if image.shape[:2] != tuple(shape):
        image = cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def error_panel(image, pred, label, ignore_index):
    """Wrong pixels red, right ones the image at 40%, ignored ones black."""
    panel = (image * 0.4).astype(np.uint8)
    ignored = label == ignore_index
    panel[(pred != label) & ~ignored] = WRONG
    panel[ignored] = IGNORED
    return panel


def comparison_panel(kept, colours, ignore_index, caption):
    """(H, 4W, 3) RGB: image | ground truth | prediction | errors, ``caption`` on the errors."""
    image = read_rgb(kept.image, kept.label.shape)
    errors = error_panel(image, kept.pred, kept.label, ignore_index)
    cv2.putText(errors, caption, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([image, colours[kept.label], colours[kept.pred], errors], axis=1)


def overlay_panel(kept, colours, weight=0.5):
    """(H, 2W, 3) RGB: the ground truth, then the prediction, blended over the image."""
    image = read_rgb(kept.image, kept.label.shape)
    return np.concatenate([cv2.addWeighted(image, weight, colours[ids], 1 - weight, 0)
                           for ids in (kept.label, kept.pred)], axis=1)


def write_rgb(path, rgb):
    if not cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
