"""``paddleseg weights``: every official name with its URL, and where a download is cached."""
from paddleseg_liteseg.cli import main
from paddleseg_liteseg.weights.download import cache_path
from paddleseg_liteseg.weights.official import OFFICIAL_WEIGHTS


def test_lists_names_urls_and_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PADDLESEG_LITESEG_CACHE", str(tmp_path))
    cached = cache_path(OFFICIAL_WEIGHTS["stdc1_imagenet"].url)
    (tmp_path / "bj.bcebos.com" / "paddleseg" / "dygraph").mkdir(parents=True)
    open(cached, "wb").close()
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    for name, entry in OFFICIAL_WEIGHTS.items():
        assert f"{name}\n" in out and entry.url in out
    assert f"cached: {cached}" in out and out.count("cached: no") == len(OFFICIAL_WEIGHTS) - 1
    assert f"Cache: {tmp_path} (set PADDLESEG_LITESEG_CACHE to move it)" in out
