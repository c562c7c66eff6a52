"""What a folder of masks holds, and how each one becomes a single-channel class-id label.

Formats (``FORMATS``):
  ids      one channel, values 0..N-1 are the classes, 255 is ignored: kept as they are (classes
           numbered 1..N, with no 0 anywhere, are renumbered 0..N-1 when detected);
  binary   one channel, 0/255 or 0/1 (anything above half the largest value is foreground): 0/1;
  palette  palette PNGs: the indices are the classes, the palette gives the class colours;
  rgb      colour masks: each colour a class, from a table or the distinct colours found (black
           first, then by pixel count);
  labelme  LabelMe JSON: shapes rasterised (``labelme_shapes``).

``survey_labels`` reads every mask once and ``choose_format`` decides (or checks a forced format)
from all of them, so one odd file cannot silently change the meaning of the others.
"""
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..errors import DatasetError
from . import labelme_shapes

FORMATS = ("ids", "binary", "palette", "rgb", "labelme")
IGNORE_INDEX = 255
MAX_CLASSES = 255  # uint8 labels, 255 being the ignore index
MAX_AUTO_VALUES = 64  # more distinct grey values than this are not class ids (antialiasing, JPEG)
GREY, PALETTE, RGB, LABELME = "single-channel", "palette", "RGB colour", "LabelMe JSON"


@dataclass
class Survey:
    """What the masks hold, gathered over all of them.

    Attributes:
        kinds (dict): kind (GREY, PALETTE, RGB, LABELME) -> paths of that kind.
        values (Counter): single-channel value (or palette index) -> pixels.
        colours (Counter): (r, g, b) -> pixels, over RGB masks (and palette masks, as colours).
        palette (list): The first palette PNG's colours, by index.
        labelme_labels (list): LabelMe labels in order of first appearance.
    """
    kinds: dict = field(default_factory=dict)
    values: Counter = field(default_factory=Counter)
    colours: Counter = field(default_factory=Counter)
    palette: list = None
    labelme_labels: list = field(default_factory=list)

    def add(self, path, kind, values=None, colours=None, palette=None, labels=()):
        self.kinds.setdefault(kind, []).append(path)
        self.values.update(values or {})
        self.colours.update(colours or {})
        if palette is not None and self.palette is None:
            self.palette = palette
        for label in labels:
            if label not in self.labelme_labels:
                self.labelme_labels.append(label)


@dataclass
class LabelFormat:
    """How every mask of a dataset becomes a class-id label.

    Attributes:
        name (str): One of FORMATS.
        detection (str): What was found and what is written, for the user.
        num_classes (int): Classes, background included.
        class_names (list): One name per class.
        palette (list): (r, g, b) per class, or None.
        lookup (np.ndarray): For ids, binary and palette: value -> class id (-1: unexpected value).
        colour_ids (dict): For rgb: (r, g, b) -> class id.
    """
    name: str
    detection: str
    num_classes: int
    class_names: list
    palette: list = None
    lookup: np.ndarray = None
    colour_ids: dict = None


def read_mask(path):
    """(kind, array, palette or None) of one mask file; RGB masks whose channels are equal are grey."""
    if path.lower().endswith(".json"):
        return LABELME, None, None
    try:
        with Image.open(path) as image:
            if image.mode == "P":
                colours = np.asarray(image.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
                return PALETTE, np.asarray(image), [tuple(map(int, colour)) for colour in colours]
            if image.mode in ("RGB", "RGBA", "CMYK", "YCbCr", "LA", "PA"):
                array = np.asarray(image.convert("RGB"))
            else:
                array = np.asarray(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise DatasetError(f"{path}: PIL cannot read this mask ({error})") from None
    if array.ndim == 3:
        if (array == array[..., :1]).all():
            return GREY, np.ascontiguousarray(array[..., 0]), None
        return RGB, array, None
    return GREY, array.astype(np.uint8) if array.dtype == bool else array, None


def survey_mask(path):
    """One mask's contribution to a ``Survey``: keyword arguments of ``Survey.add``."""
    kind, array, palette = read_mask(path)
    if kind == LABELME:
        _, _, shapes = labelme_shapes.read_annotation(path)
        return dict(path=path, kind=kind, labels=[label for label, _, _ in shapes])
    if kind == RGB:
        return dict(path=path, kind=kind, colours=_colour_counts(array))
    values = _value_counts(array)
    if kind == PALETTE:
        colours = Counter()
        for value, count in values.items():
            colours[palette[value] if value < len(palette) else (0, 0, 0)] += count
    else:
        colours = Counter({(value, value, value): count for value, count in values.items() if value < 256})
    return dict(path=path, kind=kind, values=values, colours=colours, palette=palette)


def choose_format(survey, forced=None, names=None):
    """The ``LabelFormat`` for the surveyed masks: detected, or ``forced`` (one of FORMATS) checked.

    Args:
        survey (Survey): All masks.
        forced (str, optional): The format to use; default: detect it.
        names (list, optional): (name, (r, g, b) or None) per class, from the user.
    """
    kinds = {kind: paths for kind, paths in survey.kinds.items() if paths}
    if forced is None:
        forced = _detect(survey, kinds)
        how = "detected"
    else:
        how = "as asked"
    allowed = {"ids": (GREY, PALETTE), "binary": (GREY, PALETTE), "palette": (PALETTE,),
               "rgb": (RGB, PALETTE, GREY), "labelme": (LABELME,)}[forced]
    for kind, paths in kinds.items():
        if kind not in allowed:
            raise DatasetError(f"{paths[0]}: a {kind} mask ({len(paths)} such file(s)), but the format is "
                               f"{forced}, which reads {' or '.join(allowed)} masks")
    build = {"ids": _ids, "binary": _binary, "palette": _palette, "rgb": _rgb, "labelme": _labelme}[forced]
    label_format = build(survey, names)
    label_format.detection = f"{forced} ({how}): {label_format.detection}"
    return label_format


def convert_mask(path, label_format):
    """The uint8 single-channel class-id label of the mask at ``path``."""
    if label_format.name == "labelme":
        ids = {name: index for index, name in enumerate(label_format.class_names)}
        return labelme_shapes.rasterise(path, ids, IGNORE_INDEX)
    kind, array, palette = read_mask(path)
    if label_format.name == "rgb":
        if kind != RGB:
            with Image.open(path) as image:
                array = np.asarray(image.convert("RGB"))
        codes = _colour_codes(array)
        unique, inverse = np.unique(codes, return_inverse=True)
        ids = np.array([label_format.colour_ids.get(_colour(code), -1) for code in unique])
        label = ids[inverse.reshape(codes.shape)]
        if (label < 0).any():
            colour = _colour(unique[ids < 0][0])
            raise DatasetError(f"{path}: colour {colour} is not in the class table")
        return label.astype(np.uint8)
    lookup = label_format.lookup
    if array.max(initial=0) >= len(lookup) or (lookup[array] < 0).any():
        bad = np.unique(array[(array >= len(lookup)) | (lookup[np.minimum(array, len(lookup) - 1)] < 0)])
        raise DatasetError(f"{path}: values {bad.tolist()[:10]} are not classes of this {label_format.name} dataset")
    return lookup[array].astype(np.uint8)


def parse_class_names(lines):
    """(name, (r, g, b) or None) per line of a class-names file: "name", "name R G B" or "name #rrggbb"."""
    entries = []
    for line in lines:
        words = line.split()
        if not words:
            continue
        colour = None
        if len(words) >= 4 and all(word.isdigit() for word in words[-3:]):
            colour, words = tuple(int(word) for word in words[-3:]), words[:-3]
        elif len(words) >= 2 and len(words[-1]) == 7 and words[-1].startswith("#"):
            try:
                colour = tuple(int(words[-1][i:i + 2], 16) for i in (1, 3, 5))
                words = words[:-1]
            except ValueError:
                pass
        entries.append((" ".join(words), colour))
    return entries


def _detect(survey, kinds):
    if len(kinds) > 1:
        found = "; ".join(f"{len(paths)} {kind} (e.g. {paths[0]})" for kind, paths in kinds.items())
        raise DatasetError(f"the masks mix formats: {found}; give masks of one format, or name the "
                           f"format to read them as ({', '.join(FORMATS)})")
    kind = next(iter(kinds))
    if kind != GREY:
        return {LABELME: "labelme", PALETTE: "palette", RGB: "rgb"}[kind]
    values = set(survey.values)
    if IGNORE_INDEX in values and values <= {0, IGNORE_INDEX} or values <= {0, 1}:
        return "binary"
    if len(values) > MAX_AUTO_VALUES:
        raise DatasetError(f"the single-channel masks hold {len(values)} distinct values "
                           f"({min(values)}..{max(values)}, e.g. {kinds[GREY][0]}): too many to be class "
                           "ids (antialiased or JPEG-compressed masks?); use the binary format to "
                           "threshold them at half the largest value, or save exact masks as PNG")
    return "ids"


def _ids(survey, names):
    values = sorted(survey.values)
    classes = [value for value in values if value != IGNORE_INDEX]
    shift = bool(classes) and classes[0] == 1 and len(classes) >= 2 and classes == list(range(1, classes[-1] + 1))
    if shift and names is None:
        lookup = _table(values, {value: value - 1 for value in classes})
        count = classes[-1]
        detection = (f"class ids numbered from 1 (values {_span(classes)}, never 0): written as "
                     f"0..{count - 1}, so class 0 is what was 1; force the ids format to keep them")
    else:
        if classes and classes[-1] >= MAX_CLASSES:
            raise DatasetError(f"mask values go up to {classes[-1]}; class ids must be 0..{MAX_CLASSES - 1} "
                               f"({IGNORE_INDEX} = ignore)")
        lookup = _table(values, {value: value for value in classes})
        count = classes[-1] + 1 if classes else 1
        detection = f"class ids {_span(classes)} kept as they are"
    if IGNORE_INDEX in survey.values:
        detection += f", {IGNORE_INDEX} ignored"
    return _named(LabelFormat("ids", detection, count, None, lookup=lookup), names,
                  [f"class_{index}" for index in range(count)])


def _binary(survey, names):
    values = sorted(survey.values)
    threshold = max(values) / 2
    lookup = _table(values, {value: int(value > threshold) for value in values})
    shown = "/".join(map(str, values)) if len(values) <= 3 else f"{len(values)} values {values[0]}..{values[-1]}"
    detection = f"binary masks ({shown}): above {threshold:g} -> 1 (foreground), the rest 0"
    return _named(LabelFormat("binary", detection, 2, None, lookup=lookup), names, ["background", "foreground"])


def _palette(survey, names):
    values = sorted(survey.values)
    classes = [value for value in values if value != IGNORE_INDEX]
    count = classes[-1] + 1 if classes else 1
    palette = list((survey.palette or [])[:count])
    palette += [(0, 0, 0)] * (count - len(palette))
    detection = f"palette PNGs, indices {_span(classes)} are the classes and the palette their colours"
    if IGNORE_INDEX in survey.values:
        detection += f", {IGNORE_INDEX} ignored"
    label_format = LabelFormat("palette", detection, count, None, palette=palette,
                               lookup=_table(values, {value: value for value in classes}))
    return _named(label_format, names, [f"class_{index}" for index in range(count)])


def _rgb(survey, names):
    if names and all(colour is not None for _, colour in names):
        table = {colour: index for index, (_, colour) in enumerate(names)}
        unknown = [colour for colour in survey.colours if colour not in table]
        if unknown:
            listed = ", ".join(f"{colour} in {survey.colours[colour]} pixels" for colour in unknown[:5])
            raise DatasetError(f"the masks hold colours the class table does not name: {listed}; add them "
                               "to the class names (\"name R G B\" lines)")
        colours = [colour for _, colour in names]
        detection = f"RGB colour masks, {len(colours)} colours mapped by the class table"
        return LabelFormat("rgb", detection, len(colours), [name for name, _ in names], palette=colours,
                           colour_ids=table)
    colours = sorted(survey.colours, key=lambda colour: (colour != (0, 0, 0), -survey.colours[colour], colour))
    if len(colours) > MAX_CLASSES:
        raise DatasetError(f"the colour masks hold {len(colours)} distinct colours, more than {MAX_CLASSES} "
                           "classes (antialiased or JPEG-compressed masks?); save exact masks as PNG")
    listed = ", ".join(f"{index} = {colour} ({survey.colours[colour]} px)" for index, colour in enumerate(colours))
    detection = f"RGB colour masks, {len(colours)} distinct colours: {listed}"
    label_format = LabelFormat("rgb", detection, len(colours), None, palette=colours,
                               colour_ids={colour: index for index, colour in enumerate(colours)})
    return _named(label_format, names, [_hex(colour) for colour in colours])


def _labelme(survey, names):
    labels = [label for label in survey.labelme_labels if label != labelme_shapes.IGNORE]
    if names is not None:
        given = [name for name, _ in names if name != labelme_shapes.IGNORE]
        missing = [label for label in labels if label not in given]
        if missing:
            raise DatasetError(f"LabelMe labels {missing} are not among the class names ({', '.join(given)}); "
                               "add them")
        labels = given
    order = [labelme_shapes.BACKGROUND] + [label for label in labels if label != labelme_shapes.BACKGROUND]
    detection = (f"LabelMe shapes, {labelme_shapes.BACKGROUND} = 0, "
                 + ", ".join(f"{name} = {index}" for index, name in enumerate(order) if index)
                 + f", {labelme_shapes.IGNORE} = {IGNORE_INDEX}")
    return LabelFormat("labelme", detection, len(order), order)


def _named(label_format, names, defaults):
    """``label_format`` with the user's class names (which may add classes never seen), else ``defaults``."""
    if names is None:
        label_format.class_names = defaults
        return label_format
    if len(names) < label_format.num_classes:
        raise DatasetError(f"{len(names)} class names for {label_format.num_classes} classes in the masks "
                           f"({label_format.detection}); give one name per class")
    label_format.num_classes = len(names)
    label_format.class_names = [name for name, _ in names]
    if all(colour is not None for _, colour in names):
        label_format.palette = [colour for _, colour in names]
    elif label_format.palette is not None:
        label_format.palette += [(0, 0, 0)] * (len(names) - len(label_format.palette))
    return label_format


def _table(values, mapping):
    """A value -> class lookup array over 0..max(values); -1 for values not in ``mapping``."""
    size = max([IGNORE_INDEX, *values]) + 1
    lookup = np.full(size, -1, dtype=np.int32)
    for value, class_id in mapping.items():
        lookup[value] = class_id
    if IGNORE_INDEX in values and IGNORE_INDEX not in mapping:
        lookup[IGNORE_INDEX] = IGNORE_INDEX
    return lookup


def _value_counts(array):
    counts = np.bincount(array.ravel())
    return Counter({int(value): int(counts[value]) for value in np.flatnonzero(counts)})


def _colour_codes(array):
    array = array.astype(np.uint32)
    return (array[..., 0] << 16) | (array[..., 1] << 8) | array[..., 2]


def _colour(code):
    code = int(code)
    return (code >> 16, (code >> 8) & 255, code & 255)


def _colour_counts(array):
    unique, counts = np.unique(_colour_codes(array), return_counts=True)
    return Counter({_colour(code): int(count) for code, count in zip(unique, counts)})


def _hex(colour):
    return "#{:02x}{:02x}{:02x}".format(*colour)


def _span(values):
    if not values:
        return "(none)"
    return f"{values[0]}..{values[-1]}" if values == list(range(values[0], values[-1] + 1)) and len(values) > 2 \
        else ", ".join(map(str, values))
