"""``paddleseg configs``: the shipped configs, by the name ``--config`` takes, with what each targets."""


def add_arguments(parser):
    pass


def run(args):
    from ...shipped_configs import config_root, dataset_of, shipped_configs, targets

    shipped, known = shipped_configs(), targets()
    rows = [("name", "dataset", "model", "target mIoU (paper)")]
    for name, path in sorted(shipped.items(), key=lambda item: (dataset_of(item[1]), item[0])):
        target = known.get(name, {})
        rows.append((name, dataset_of(path), target.get("model", "?"), target.get("miou", "?")))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])
    print(f"\nUse one with --config NAME (train, val, predict, export, bench, check-data); files in {config_root()}")
