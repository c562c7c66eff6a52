"""``paddleseg weights``: the official PP-LiteSeg weights by name, their URLs, and what is cached."""


def add_arguments(parser):
    """No options: the command prints the whole table."""


def run(args):
    from ...weights.download import CACHE_ENV, cache_dir
    from ...weights.official import OFFICIAL_WEIGHTS, cached

    for name, entry in OFFICIAL_WEIGHTS.items():
        print(f"{name}\n  {entry.description}\n  {entry.url}")
        if entry.config:
            print(f"  config: {entry.config}")
        print(f"  cached: {cached(name) or 'no'}")
    print(f"Cache: {cache_dir()} (set {CACHE_ENV} to move it). A name works wherever a weights path does.")
