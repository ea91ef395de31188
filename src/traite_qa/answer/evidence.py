"""The document's vocabulary, for the learned parts: each chunk word's IDF,
and each indexed sentence's words (analysed once at load, so a question only
intersects sets), and the sentences of a passage by offsets (quoted verbatim).
(The hand-weighted evidence score that lived here, cosine + 0.10 x word
overlap + 0.08 / passage rank + bonuses, was replaced by the learned sentence
ranker: `make train`, `python -m eval.ablation`.)
"""

from __future__ import annotations

import math

from ..index import IndexData
from ..search import PINNED_SCORE
from ..settings import Tuning
from ..text import word_set
from ..types import Hit


class EvidenceScorer:
    def __init__(self, data: IndexData, tuning: Tuning):
        self.data = data
        self.tuning = tuning
        self._row = {c.id: i for i, c in enumerate(data.chunks)}
        df: dict[str, int] = {}
        for chunk in data.chunks:
            for word in word_set(chunk.body):
                df[word] = df.get(word, 0) + 1
        n = len(data.chunks)
        self._idf = {w: math.log(1 + n / d) for w, d in df.items()}
        self.vocabulary = set(self._idf)
        self._default_idf = math.log(1 + n)
        table_ = data.sentences
        # Analysed once at load: the hot path only intersects sets.
        self.sentence_words = [
            word_set(data.chunks[r].body[s:e]) for r, s, e in zip(table_.rows, table_.starts, table_.ends)
        ]

    def idf(self, word: str) -> float:
        return self._idf.get(word, self._default_idf)

    def previous_piece(self, hit: Hit) -> Hit | None:
        """The piece before `hit` of a passage split in pieces (the chunks are
        in document order), or None for a first or only piece."""
        row = self._row.get(hit.id)
        if row is None or self.data.chunks[row].piece <= 1:
            return None
        return Hit.from_chunk(self.data.chunks[row - 1], PINNED_SCORE, 1, pinned=True)

    def sentences_of(self, hit: Hit) -> list[tuple[int, int]]:
        """The [start, end) offsets of a passage's sentences, in order (as indexed)."""
        row = self._row.get(hit.id)
        if row is None:
            return []
        table_ = self.data.sentences
        return [(int(table_.starts[i]), int(table_.ends[i])) for i in table_.of_chunk(row)]
