"""BM25 over the chunks: exact words, numbers and acronyms.

bm25s's French stemmer keeps accents ("electricite" would not match
"électricité"), so both the corpus and the queries are folded first, and so is
the stopword list (its entries carry accents: "été").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CorruptIndexError
from ..text import analyze


class LexicalIndex:
    def __init__(self, retriever, size: int):
        self._retriever = retriever
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> "LexicalIndex":
        import bm25s

        retriever = bm25s.BM25(k1=1.2, b=0.75)
        # An empty token list would make bm25s drop the document; keep a placeholder.
        retriever.index([analyze(t) or ["∅"] for t in texts], show_progress=False)
        return cls(retriever, len(texts))

    def scores(self, query: str) -> np.ndarray:
        """A BM25 score for every chunk, in chunk order."""
        tokens = analyze(query)
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path, size: int) -> "LexicalIndex":
        import bm25s

        try:
            retriever = bm25s.BM25.load(str(directory), show_progress=False)
        except Exception as err:  # bm25s raises json/numpy/OS errors on bad files
            raise CorruptIndexError(
                f"BM25 index in {directory} is unreadable ({type(err).__name__}): run `traite-qa build --force`"
            ) from None
        n_docs = retriever.scores.get("num_docs") if isinstance(retriever.scores, dict) else None
        if n_docs is not None and n_docs != size:
            raise CorruptIndexError(f"BM25 index has {n_docs} documents, chunks.jsonl {size}: run `traite-qa build --force`")
        return cls(retriever, size)
