"""The two plots of an evaluation: the row-normalised confusion matrix and the sorted class IoUs.

Figures grow with the number of classes so that names and cell values stay readable (19
Cityscapes classes included); their pixel sizes are fixed by ``*_size`` below, not by the text.
"""
import numpy as np

DPI = 100
ANNOTATE_UP_TO = 30  # classes; beyond this the cells are too small to print their values in


def confusion_matrix_size(num_classes):
    """(width, height) in pixels of ``confusion_matrix.png``."""
    side = int(DPI * max(5.0, 2.5 + 0.45 * num_classes))
    return side, side


def class_iou_size(num_classes):
    """(width, height) in pixels of ``per_class_iou.png``."""
    return int(DPI * 7.0), int(DPI * max(3.0, 1.2 + 0.32 * num_classes))


def _figure(size):
    from matplotlib.figure import Figure
    return Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI, layout="constrained")


def confusion_matrix_figure(matrix, names):
    """Rows (ground truth) normalised to sum to 1; a row without pixels stays empty."""
    matrix = np.asarray(matrix, np.float64)
    totals = matrix.sum(1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    figure = _figure(confusion_matrix_size(len(names)))
    axes = figure.add_subplot()
    image = axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(names))
    axes.set_xticks(ticks, names, rotation=60, ha="right", rotation_mode="anchor")
    axes.set_yticks(ticks, names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("ground-truth class")
    axes.set_title("Confusion matrix (each row: where its pixels went)")
    if len(names) <= ANNOTATE_UP_TO:
        for row, col in zip(*np.nonzero(share >= 0.005)):
            axes.text(col, row, f"{100 * share[row, col]:.0f}", ha="center", va="center", fontsize=7,
                      color="white" if share[row, col] > 0.5 else "black")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.02, label="share of the row's pixels")
    return figure


def class_iou_figure(class_iou, miou, names):
    """Horizontal bars, best class at the top, with the mIoU as a dashed line."""
    order = np.argsort(-np.asarray(class_iou), kind="stable")
    figure = _figure(class_iou_size(len(names)))
    axes = figure.add_subplot()
    positions = np.arange(len(order))
    axes.barh(positions, np.asarray(class_iou)[order], color="tab:blue")
    axes.set_yticks(positions, [names[i] for i in order])
    axes.invert_yaxis()
    for position, iou in zip(positions, np.asarray(class_iou)[order]):
        axes.text(iou + 0.01, position, f"{iou:.3f}", va="center", fontsize=8)
    axes.axvline(miou, color="tab:red", linestyle="--", label=f"mIoU {miou:.4f}")
    axes.set_xlim(0, 1.08)
    axes.set_xlabel("IoU")
    axes.set_title("Class IoU")
    axes.legend(loc="lower right")
    return figure


def save(figure, path):
    figure.savefig(path, dpi=DPI)


def figure_rgb(figure):
    """The figure as an (H, W, 3) uint8 RGB array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
