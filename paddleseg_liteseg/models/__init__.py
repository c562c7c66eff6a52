"""PP-LiteSeg's parts, one a file, registered in PaddleSeg's ``manager.MODELS`` on import."""
from .fld import FLD
from .heads import LiteSegHead
from .liteseg import LiteSeg
from .sppm import SPPM
from .uafm import UAFM
from ..weights.layouts import CheckpointError, convert_checkpoint, load_pretrained
