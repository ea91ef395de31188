"""Sentence-level evidence: which sentences of the retrieved passages answer.

Each sentence of the top passages is scored against the question with its
precomputed embedding (cosine), the IDF-weighted share of the question's
words it contains, the numbers it shares with the question, and whether it
holds a value of the kind asked for (an amount, a count, a date). The
passage's rank adds a small prior. (Bonuses for negations and restrictions,
and for recommendations or reasons when asked, were tried on the dev split
and did not help: `python -m eval.tune_blind`.)
Sentences are quoted verbatim by offsets.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..index import IndexData
from ..settings import Tuning
from ..text import FOOTNOTE_MARKER_RE, analyze
from ..types import Evidence, Hit, Query
from ..understand import satisfies

_NUMBER_RE = re.compile(r"\d+(?:[ .,]\d{3})*(?:,\d+)?")


class EvidenceScorer:
    def __init__(self, data: IndexData, tuning: Tuning):
        self.data = data
        self.tuning = tuning
        self._row = {c.id: i for i, c in enumerate(data.chunks)}
        df: dict[str, int] = {}
        for chunk in data.chunks:
            for word in set(analyze(chunk.body)):
                df[word] = df.get(word, 0) + 1
        n = len(data.chunks)
        self._idf = {w: math.log(1 + n / d) for w, d in df.items()}
        self.vocabulary = set(self._idf)
        self._default_idf = math.log(1 + n)
        table_ = data.sentences
        # Analysed once at load: the hot path only intersects sets.
        self.sentence_words = [
            frozenset(analyze(data.chunks[r].body[s:e])) for r, s, e in zip(table_.rows, table_.starts, table_.ends)
        ]

    def idf(self, word: str) -> float:
        return self._idf.get(word, self._default_idf)

    def score(self, query: Query, query_vector: np.ndarray, hits: list[Hit]) -> list[Evidence]:
        """All sentences of `hits`, best first."""
        q_words = set(analyze(query.core))
        q_weight = sum(self.idf(w) for w in q_words) or 1.0
        q_numbers = {_norm_number(n) for n in _NUMBER_RE.findall(query.core)}
        t = self.tuning
        table_ = self.data.sentences
        out: list[Evidence] = []
        for hit in hits:
            row = self._row.get(hit.id)
            if row is None:
                continue
            indices = table_.of_chunk(row)
            if len(indices) == 0:
                continue
            dense = table_.vectors[indices] @ query_vector
            prior = 1.0 / hit.rank
            for i, cosine in zip(indices, dense):
                start, end = int(table_.starts[i]), int(table_.ends[i])
                text = hit.text[start:end]
                lexical = sum(self.idf(w) for w in q_words & self.sentence_words[i]) / q_weight
                score = float(cosine) + t.w_lexical * lexical + t.w_prior * prior
                if q_numbers and q_numbers & {_norm_number(n) for n in _NUMBER_RE.findall(FOOTNOTE_MARKER_RE.sub("", text))}:
                    score += t.w_number
                if query.answer_type and satisfies(query.answer_type, [text]):
                    score += t.w_quantity
                out.append(Evidence(hit, start, end, score, float(cosine), lexical))
        out.sort(key=lambda e: -e.score)
        return out

    def sentences_of(self, hit: Hit) -> list[tuple[int, int]]:
        """The [start, end) offsets of a passage's sentences, in order (as indexed)."""
        row = self._row.get(hit.id)
        if row is None:
            return []
        table_ = self.data.sentences
        return [(int(table_.starts[i]), int(table_.ends[i])) for i in table_.of_chunk(row)]


def _norm_number(text: str) -> str:
    return re.sub(r"[ .]", "", text)
