"""The zstd dictionary that format-2 bundles are compressed with (shipped beside this module).

A week of one patient's records is a dozen short JSON lines; compressed alone, most of the
bytes go on the keys and values every line repeats. The dictionary (trained on synthetic demo
bundles by `scripts/train_bundle_dict.py`) holds them once, on every device. Its id is written
in each zstd frame, so a reader knows which dictionary a bundle needs (0: none, format 1).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import zstandard

#: The id trained into `bundle.dict` and written in every format-2 frame (2 bytes on the wire).
DICT_ID = 41402
PATH = Path(__file__).with_name("bundle.dict")


@lru_cache(maxsize=1)
def dictionary() -> "zstandard.ZstdCompressionDict":
    """The shipped dictionary, read once per process."""
    import zstandard

    return zstandard.ZstdCompressionDict(PATH.read_bytes(), dict_type=zstandard.DICT_TYPE_FULLDICT)
