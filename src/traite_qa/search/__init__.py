"""Stage 4, search: hybrid retrieval over the index for a question already read.

    from traite_qa.search import Searcher
    hits = Searcher.load().search("mécanisme national de référence", k=5)
"""

from ..types import Hit
from .expansion import expand
from .fusion import fuse, ranks
from .pinning import PINNED_SCORE
from .searcher import Searcher

__all__ = ["Hit", "PINNED_SCORE", "Searcher", "expand", "fuse", "ranks"]
