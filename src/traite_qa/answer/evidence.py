"""Sentence-level evidence: which sentences of the retrieved passages answer.

Each sentence of the top passages is scored against the question with its
precomputed embedding (cosine), the IDF-weighted share of the question's
words it contains, and the numbers it shares with the question; the passage's
own rank adds a small prior. Sentences are quoted verbatim by offsets.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..index import IndexData
from ..settings import Tuning
from ..text import FOOTNOTE_MARKER_RE, analyze
from ..types import Evidence, Hit
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
        table = data.sentences
        # Analysed once at load: the hot path only intersects sets.
        self._sentence_words = [
            frozenset(analyze(data.chunks[r].body[s:e])) for r, s, e in zip(table.rows, table.starts, table.ends)
        ]

    def idf(self, word: str) -> float:
        return self._idf.get(word, self._default_idf)

    def score(self, question: str, query_vector: np.ndarray, hits: list[Hit], answer_type: str | None = None) -> list[Evidence]:
        """All sentences of `hits`, best first."""
        q_words = set(analyze(question))
        q_weight = sum(self.idf(w) for w in q_words) or 1.0
        q_numbers = {_norm_number(n) for n in _NUMBER_RE.findall(question)}
        t = self.tuning
        table = self.data.sentences
        out: list[Evidence] = []
        for hit in hits:
            row = self._row.get(hit.id)
            if row is None:
                continue
            indices = table.of_chunk(row)
            if len(indices) == 0:
                continue
            dense = table.vectors[indices] @ query_vector
            prior = 1.0 / hit.rank
            for i, cosine in zip(indices, dense):
                start, end = int(table.starts[i]), int(table.ends[i])
                text = hit.text[start:end]
                words = self._sentence_words[i]
                lexical = sum(self.idf(w) for w in q_words & words) / q_weight
                numbers = {_norm_number(n) for n in _NUMBER_RE.findall(FOOTNOTE_MARKER_RE.sub("", text))}
                score = float(cosine) + t.w_lexical * lexical + t.w_prior * prior
                if q_numbers and q_numbers & numbers:
                    score += t.w_number
                if answer_type and satisfies(answer_type, [text]):
                    score += t.w_quantity
                out.append(Evidence(hit, start, end, score, float(cosine), lexical))
        out.sort(key=lambda e: -e.score)
        return out


def _norm_number(text: str) -> str:
    return re.sub(r"[ .]", "", text)
