"""Features of the learned parts: what the pipeline already knows about a
question and each sentence of the document, as numbers.

Kept apart from the models (learned.py) so that `make train` can cache them:
its cache key is this module, the stages that read the question, and the data
tables, not the code that applies the models.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..index import IndexData
from ..search.expansion import expand, lexicon
from ..text import FOOTNOTE_MARKER_RE, URL_RE, analyze, fold, word_set
from ..types import Hit, Query
from ..understand import satisfies
from ..vocabulary import negated

KINDS = ("measure", "footnote", "preamble", "conclusion")
STATIC = ("k_measure", "k_footnote", "k_preamble", "k_conclusion", "pos", "n_sent", "length", "url_only", "negation",
          "recommends", "st_realisee", "st_partielle", "st_non", "has_number")
DYNAMIC = ("s_cos", "s_cos_gap", "s_cos_rank", "p_dense", "p_dense_gap", "p_dense_rank", "p_bm25", "p_bm25_rank",
           "p_fused_rank", "pinned", "named_measure", "lex_s", "lex_p", "lex_header", "num_overlap", "type_ok",
           "ask_money", "ask_count", "ask_date", "english", "yes_no", "w_recommendation", "w_why", "w_status",
           "w_reference", "q_words")
FEATURES = DYNAMIC + STATIC
ANSWERABILITY_SHAPE = ("top", "second", "gap", "top_s_cos", "max_p_dense", "max_bm25", "top_lex_s", "top_lex_p",
                 "absent_share", "n_content", "english", "type_asked", "type_ok_top", "top_footnote", "mean_top5",
                 "s_cos_spread", "top3_lex_s", "top3_type_ok", "n_absent", "year_absent")
_NUMBER_RE = re.compile(r"\d+(?:[ .,]\d{3})*(?:,\d+)?")
_STATUS_COLS = {"Réalisée": 0, "Partiellement réalisée": 1, "Non réalisée": 2}


def _norm_number(text: str) -> str:
    return re.sub(r"[ .]", "", text)


class SentenceFeatures:
    """Feature rows for every indexed sentence, for one question at a time.

    What depends only on the document is computed once at load; a question
    adds its cosines, ranks and overlaps (vectorised; ~1 ms for 525 rows)."""

    def __init__(self, data: IndexData, idf, sentence_words: list[frozenset[str]]):
        self.data = data
        self.idf = idf
        t = data.sentences
        self.rows = t.rows
        self.n = len(t.rows)
        self.texts = [data.chunks[r].body[s:e] for r, s, e in zip(t.rows, t.starts, t.ends)]
        self.sentence_words = sentence_words
        self._row_of_id = {c.id: i for i, c in enumerate(data.chunks)}
        self.chunk_words = [word_set(c.body) for c in data.chunks]
        self.header_words = [word_set(c.header) for c in data.chunks]
        self._sentence_sets = WordSets(sentence_words)
        self._chunk_sets = WordSets(self.chunk_words)
        self._header_sets = WordSets(self.header_words)
        self.numbers = [{_norm_number(n) for n in _NUMBER_RE.findall(FOOTNOTE_MARKER_RE.sub("", x))} for x in self.texts]
        self.static = np.zeros((self.n, len(STATIC)), dtype=np.float32)
        counts: dict[int, int] = {}
        for i, r in enumerate(t.rows):
            counts[int(r)] = counts.get(int(r), 0) + 1
        seen: dict[int, int] = {}
        for i, (r, text) in enumerate(zip(t.rows, self.texts)):
            chunk = data.chunks[int(r)]
            row = self.static[i]
            if chunk.kind in KINDS:
                row[KINDS.index(chunk.kind)] = 1
            row[4] = seen.get(int(r), 0)
            seen[int(r)] = seen.get(int(r), 0) + 1
            row[5] = counts[int(r)]
            row[6] = math.log1p(len(text))
            # A reference and little else: a URL or a JORF entry with under 25 letters of prose.
            stripped = URL_RE.sub("", text)
            reference = stripped != text or "JORF" in text
            row[7] = float(reference and len(re.findall(r"\w", re.sub(r"JORF[^.]*", "", stripped))) < 25)
            row[8] = float(negated(text))
            row[9] = float("recommand" in text.lower())
            for status in chunk.statuses:
                if status in _STATUS_COLS:
                    row[10 + _STATUS_COLS[status]] = 1
            row[13] = float(bool(self.numbers[i]))
        # Whether each sentence holds a value of a kind ("money", "count", "date"):
        # filled on first use, once per kind (the regexes and number words cost
        # ~20 ms over the 525 sentences, for every question asking a value).
        self._type_ok: dict[str, np.ndarray] = {}

    def matrix(self, query: Query, vector: np.ndarray, hits: list[Hit]) -> np.ndarray:
        """(n sentences, len(FEATURES)) for this question; `hits` rank every chunk."""
        by_row = {self._row(h): h for h in hits}
        chunks = len(self.data.chunks)
        dense = np.full(chunks, -1.0, np.float32)
        bm25 = np.zeros(chunks, np.float32)
        fused_rank = np.full(chunks, float(chunks), np.float32)
        pinned = np.zeros(chunks, np.float32)
        for row, h in by_row.items():
            dense[row], bm25[row], fused_rank[row], pinned[row] = h.dense, h.lexical, h.rank, float(h.pinned)
        s_cos = self.data.sentences.vectors @ vector
        words = set(analyze(expand(query.core, query.english)))
        weight = sum(self.idf(w) for w in words) or 1.0
        q_numbers = {_norm_number(n) for n in _NUMBER_RE.findall(query.core)}
        lex_p = self._chunk_sets.shares(words, weight, self.idf)
        lex_h = self._header_sets.shares(words, weight, self.idf)
        named = np.zeros(chunks, np.float32)
        for i, c in enumerate(self.data.chunks if query.measures else ()):
            if set(c.measures) & set(query.measures) and c.kind == "measure":
                named[i] = 1
        out = np.zeros((self.n, len(FEATURES)), np.float32)
        r = self.rows
        out[:, 0] = s_cos
        out[:, 1] = s_cos - s_cos.max()
        out[:, 2] = np.log1p(_ranks(s_cos))
        out[:, 3] = dense[r]
        out[:, 4] = dense[r] - dense.max()
        out[:, 5] = np.log1p(_ranks(dense))[r]
        top_bm25 = bm25.max()
        out[:, 6] = bm25[r] / top_bm25 if top_bm25 > 0 else 0
        out[:, 7] = np.log1p(_ranks(bm25))[r]
        out[:, 8] = np.log1p(fused_rank)[r]
        out[:, 9] = pinned[r]
        out[:, 10] = named[r]
        out[:, 11] = self._sentence_sets.shares(words, weight, self.idf)
        out[:, 12] = lex_p[r]
        out[:, 13] = lex_h[r]
        if q_numbers:
            out[:, 14] = [float(bool(q_numbers & ns)) for ns in self.numbers]
        if query.answer_type:
            out[:, 15] = self.type_ok(query.answer_type)
            out[:, 16 + ("money", "count", "date").index(query.answer_type)] = 1
        out[:, 19] = float(query.english)
        out[:, 20] = float(query.yes_no)
        for j, want in enumerate(("recommendation", "why", "status", "reference")):
            out[:, 21 + j] = float(want in query.wants)
        out[:, 25] = len(words)
        out[:, len(DYNAMIC):] = self.static
        return out

    def type_ok(self, kind: str) -> np.ndarray:
        """1 for the sentences holding a value of `kind`, else 0."""
        column = self._type_ok.get(kind)
        if column is None:  # two threads may both compute it: the same values
            column = np.array([float(satisfies(kind, [x])) for x in self.texts], np.float32)
            self._type_ok[kind] = column
        return column

    def _row(self, hit: Hit) -> int:
        return self._row_of_id[hit.id]


class WordSets:
    """The word sets of some texts (sentences, passages, headings), and which
    texts hold each word: a question's words are in few of them, and only
    those need their overlap summed."""

    def __init__(self, sets: list[frozenset[str]]):
        self.sets = sets
        self._holding: dict[str, list[int]] = {}
        for i, words in enumerate(sets):
            for w in words:
                self._holding.setdefault(w, []).append(i)

    def shares(self, words: set[str], weight: float, idf) -> np.ndarray:
        """Each text's share of the question's word weight (IDF). The sum runs
        over `words & the text's words` as it did over every text, in the same
        order, so the floats are the same; a text sharing no word gets 0."""
        out = np.zeros(len(self.sets), np.float32)
        holding = sorted({i for w in words for i in self._holding.get(w, ())})
        out[holding] = [sum(idf(w) for w in words & self.sets[i]) / weight for i in holding]
        return out


def _ranks(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    out = np.empty(len(scores), dtype=np.float32)
    out[order] = np.arange(1, len(scores) + 1)
    return out



@dataclass(frozen=True)
class VocabularyGap:
    """What of the question the document lacks altogether."""

    absent_share: float  # share of the question's words the document never uses
    n_content: int  # the question's words
    n_absent: int
    year_absent: bool  # it names a year the document never mentions




def vocabulary_gap(query: Query, vocabulary: set[str], source: str, strict: bool = False) -> VocabularyGap:
    """What of the question the document lacks: its words, a year it names.
    `strict`: English words count as absent whatever the lexicon says (for the
    claims and bypasses decided on it, where the lexicon is too lenient:
    it maps "football" to "culture")."""
    words = set(analyze(query.core))
    known: set[str] = set()
    if query.english and not strict:
        # English words are not the document's, whatever the question: one the
        # learned lexicon maps to document words is no gap; only those the
        # encoder finds no document word for are (English near-domain
        # questions were refused 0.25-0.30 against 0.66 for French on dev).
        known = {stem for word in re.findall(r"[\w-]+", fold(query.core)) if word in lexicon() for stem in analyze(word)}
    absent = sum(w not in vocabulary and w not in known for w in words)
    year = any(str(y) not in source for y in query.years)
    return VocabularyGap(absent / len(words) if words else 1.0, len(words), absent, year)
