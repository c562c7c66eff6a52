"""PaddleSeg's published PP-LiteSeg weights by name, and turning any weights reference into a file.

A weights reference (``model.pretrained``, a backbone's ``pretrained``, ``--model_path``,
``convert-weights``) is a local path, a URL or a name of ``OFFICIAL_WEIGHTS``; URLs and names are
fetched into the cache (``download``). URLs are those of PaddleSeg's model zoo
(``configs/pp_liteseg/README.md``, release 2.6 onwards). PaddleSeg publishes no size or checksum for
them (that README lists links only, and its own downloader checks none), so the table gives none
rather than made-up ones: each file is pinned on its first download instead, and a file changed
since, in the cache or on the server, is refused (``download``). A ``size`` and ``sha256`` filled in
here take precedence over the pin and are checked on every load.
"""
import difflib
import os
from dataclasses import dataclass
from typing import Optional

from .download import WEIGHTS_SUFFIXES, cache_path, fetch, is_url
from ..errors import UserError

CITYSCAPES = "https://paddleseg.bj.bcebos.com/dygraph/cityscapes"
CAMVID = "https://paddleseg.bj.bcebos.com/dygraph/camvid"


@dataclass(frozen=True)
class OfficialWeights:
    url: str
    description: str
    config: Optional[str] = None  # the shipped config these weights fit
    size: Optional[int] = None
    sha256: Optional[str] = None


OFFICIAL_WEIGHTS = {
    "pp_liteseg_stdc1_cityscapes": OfficialWeights(
        f"{CITYSCAPES}/pp_liteseg_stdc1_cityscapes_1024x512_scale0.5_160k/model.pdparams",
        "PP-LiteSeg-T, Cityscapes, 1024x512 crops, tested at 1024x512",
        "configs/cityscapes/pp_liteseg_stdc1_cityscapes_1024x512_scale0.5_160k.yml"),
    "pp_liteseg_stdc1_cityscapes_scale0.75": OfficialWeights(
        f"{CITYSCAPES}/pp_liteseg_stdc1_cityscapes_1024x512_scale0.75_160k/model.pdparams",
        "PP-LiteSeg-T, Cityscapes, 1024x512 crops, tested at 1536x768",
        "configs/cityscapes/pp_liteseg_stdc1_cityscapes_1024x512_scale0.75_160k.yml"),
    "pp_liteseg_stdc2_cityscapes": OfficialWeights(
        f"{CITYSCAPES}/pp_liteseg_stdc2_cityscapes_1024x512_scale0.5_160k/model.pdparams",
        "PP-LiteSeg-B, Cityscapes, 1024x512 crops, tested at 1024x512",
        "configs/cityscapes/pp_liteseg_stdc2_cityscapes_1024x512_scale0.5_160k.yml"),
    "pp_liteseg_stdc2_cityscapes_scale0.75": OfficialWeights(
        f"{CITYSCAPES}/pp_liteseg_stdc2_cityscapes_1024x512_scale0.75_160k/model.pdparams",
        "PP-LiteSeg-B, Cityscapes, 1024x512 crops, tested at 1536x768",
        "configs/cityscapes/pp_liteseg_stdc2_cityscapes_1024x512_scale0.75_160k.yml"),
    "pp_liteseg_stdc1_camvid": OfficialWeights(
        f"{CAMVID}/pp_liteseg_stdc1_camvid_960x720_10k/model.pdparams",
        "PP-LiteSeg-T, CamVid, 960x720", "configs/camvid/pp_liteseg_stdc1_camvid_960x720_10k.yml"),
    "pp_liteseg_stdc2_camvid": OfficialWeights(
        f"{CAMVID}/pp_liteseg_stdc2_camvid_960x720_10k/model.pdparams",
        "PP-LiteSeg-B, CamVid, 960x720", "configs/camvid/pp_liteseg_stdc2_camvid_960x720_10k.yml"),
    "stdc1_imagenet": OfficialWeights(
        "https://bj.bcebos.com/paddleseg/dygraph/PP_STDCNet1.tar.gz",
        "STDC1 backbone (PP-LiteSeg-T's), ImageNet; for a backbone's pretrained"),
    "stdc2_imagenet": OfficialWeights(
        "https://bj.bcebos.com/paddleseg/dygraph/PP_STDCNet2.tar.gz",
        "STDC2 backbone (PP-LiteSeg-B's), ImageNet; for a backbone's pretrained"),
}


class UnknownWeightsError(UserError, ValueError):
    """A weights reference that is neither a file, a URL nor a name of ``OFFICIAL_WEIGHTS``."""


def resolve(reference):
    """The local file of ``reference``: a name or URL is fetched into the cache, a path returned."""
    reference = os.fspath(reference)
    if reference in OFFICIAL_WEIGHTS:
        entry = OFFICIAL_WEIGHTS[reference]
        return fetch(entry.url, size=entry.size, sha256=entry.sha256)
    if is_url(reference):
        entry = next((entry for entry in OFFICIAL_WEIGHTS.values() if entry.url == reference), None)
        return fetch(reference, size=entry and entry.size, sha256=entry and entry.sha256)
    if _looks_like_name(reference):
        close = difflib.get_close_matches(reference, OFFICIAL_WEIGHTS, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise UnknownWeightsError(f"{reference} is not a file, a URL or a name of official weights; "
                                  f"{hint}(paddleseg weights lists the names)")
    return reference


def cached(name):
    """The cache path of ``name``'s download where it is there, else None."""
    path = cache_path(OFFICIAL_WEIGHTS[name].url)
    return path if os.path.isfile(path) else None


def _looks_like_name(reference):
    return not (os.path.exists(reference) or os.sep in reference or "/" in reference
                or reference.endswith(WEIGHTS_SUFFIXES) or reference.endswith(".pdopt"))
