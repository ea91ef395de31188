"""Hybrid search: dense (FAISS) and BM25 rankings fused by reciprocal rank,
with exact references (measure N, note N, an acronym, a measure's title)
pinned first.

    searcher = Searcher.load("index/build")
    for hit in searcher.search("mécanisme national de référence", k=5):
        print(hit.rank, hit.id, hit.status, hit.score)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .chunker import KINDS, Chunk
from .document import Evaluation, Status
from .embedder import BaseEmbedder, make_embedder
from .errors import InvalidFilterError, UnknownReferenceError
from .index import IndexData, load_index, load_or_build
from .references import ReferenceFinder, References, clean_question
from .settings import Settings
from .text import is_english
from .thesaurus import expand

PINNED_SCORE = 1.0  # exact references outrank any fused score (those are < 0.1)


@dataclass(frozen=True)
class Hit:
    """One ranked chunk. `text` is the chunk body, verbatim from the source."""

    id: str
    kind: str
    measures: tuple[int, ...]
    statuses: tuple[str, ...]
    footnote: int | None
    acronym: str | None
    title: str
    status: str | None
    axis: int | None
    action: int | None
    header: str
    text: str
    footnotes: tuple[int, ...]  # footnotes cited by this passage
    span: tuple[int, int]
    score: float
    rank: int
    pinned: bool = False  # placed first because the query named it
    dense: float = 0.0  # cosine with the query
    lexical: float = 0.0  # BM25 score
    chunk: Chunk | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_chunk(cls, chunk: Chunk, score: float, rank: int, **extra) -> "Hit":
        return cls(
            id=chunk.id,
            kind=chunk.kind,
            measures=chunk.measures,
            statuses=chunk.statuses,
            footnote=chunk.footnote,
            acronym=chunk.acronym,
            title=chunk.title,
            status=chunk.status,
            axis=chunk.axis,
            action=chunk.action,
            header=chunk.header,
            text=chunk.body,
            footnotes=chunk.footnotes,
            span=(chunk.span.start, chunk.span.end),
            score=float(score),
            rank=rank,
            chunk=chunk,
            **extra,
        )

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "measures": list(self.measures),
            "statuses": list(self.statuses),
            "footnote": self.footnote,
            "acronym": self.acronym,
            "title": self.title,
            "status": self.status,
            "axis": self.axis,
            "action": self.action,
            "header": self.header,
            "text": self.text,
            "footnotes": list(self.footnotes),
            "span": {"start": self.span[0], "end": self.span[1]},
            "score": round(self.score, 6),
            "rank": self.rank,
            "pinned": self.pinned,
            "dense": round(self.dense, 6),
            "lexical": round(self.lexical, 6),
        }


class Searcher:
    def __init__(self, data: IndexData, embedder: BaseEmbedder, settings: Settings):
        self.data = data
        self.embedder = embedder
        self.settings = settings
        self.chunks = data.chunks
        self.evaluation: Evaluation = data.evaluation
        self.references = ReferenceFinder(self.evaluation)
        self._vector_rows = data.row_of_vector
        self._row_of_id = {c.id: i for i, c in enumerate(self.chunks)}
        self._axes = [self._chunk_axes(c) for c in self.chunks]
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    @classmethod
    def load(
        cls,
        index_dir: str | Path | None = None,
        settings: Settings | None = None,
        embedder: BaseEmbedder | None = None,
        *,
        build: bool = False,
        progress: bool = False,
    ) -> "Searcher":
        """Load and check the index; raises a domain error naming what is wrong and the fix.

        `build=True` builds the index first when it is missing, stale or damaged."""
        settings = settings or Settings.from_env()
        if index_dir is not None:
            settings = settings.with_(index_dir=Path(index_dir))
        embedder = embedder or make_embedder(settings)
        data = load_or_build(settings, embedder, progress) if build else load_index(settings, embedder)
        return cls(data, embedder, settings)

    def warm_up(self) -> None:
        self.embedder.warm_up()
        self._embed_query("warm up")

    # ----------------------------------------------------------------- API
    def search(
        self,
        query: str,
        k: int = 5,
        status: str | Status | None = None,
        axis: int | None = None,
        kind: str | None = None,
        action: int | None = None,
    ) -> list[Hit]:
        query = clean_question(query, self.settings.max_question_chars)
        k = self._check_k(k)
        mask = self._filter_mask(status, axis, kind, action)
        refs = self.references.find(query)
        self._check_references(refs)
        return self._rank(query, refs, mask, k)

    def embed_query(self, query: str) -> np.ndarray:
        return self._embed_query(clean_question(query, self.settings.max_question_chars))

    def clear_query_cache(self) -> None:
        """Forget cached query embeddings (benchmarks time the encode)."""
        with self._cache_lock:
            self._query_cache.clear()

    def check_filters(self, **filters) -> None:
        """Raise InvalidFilterError for a filter the document cannot satisfy."""
        self._filter_mask(filters.get("status"), filters.get("axis"), filters.get("kind"), filters.get("action"))

    def chunk(self, chunk_id: str) -> Chunk:
        try:
            return self.chunks[self._row_of_id[chunk_id]]
        except KeyError:
            raise UnknownReferenceError(f"unknown chunk {chunk_id!r}") from None

    def hits_for(self, chunk_ids: list[str]) -> list[Hit]:
        """Hits for chunks chosen from the structure (not ranked by a query)."""
        return [Hit.from_chunk(self.chunk(cid), PINNED_SCORE, rank, pinned=True) for rank, cid in enumerate(chunk_ids, 1)]

    def measure_chunk_ids(self, number: int) -> list[str]:
        return [c.id for c in self.chunks if c.kind == "measure" and number in c.measures]

    # ------------------------------------------------------------ internals
    def _rank(self, query: str, refs: References, mask: np.ndarray, k: int) -> list[Hit]:
        dense = self._dense_scores(query)
        lexical = self.data.lexical.scores(expand(query, is_english(query)))
        fused = self._fuse(dense, lexical)
        fused[~mask] = -np.inf
        order = [int(i) for i in np.argsort(-fused, kind="stable") if mask[i]]
        pinned = [i for i in order if self._is_pinned(self.chunks[i], refs)]
        pinned_set = set(pinned)
        rest = [i for i in order if i not in pinned_set]
        hits = []
        for rank, i in enumerate((pinned + rest)[:k], 1):
            is_pinned = rank <= len(pinned)
            score = PINNED_SCORE + float(fused[i]) if is_pinned else float(fused[i])
            hits.append(Hit.from_chunk(self.chunks[i], score, rank, pinned=is_pinned, dense=float(dense[i]), lexical=float(lexical[i])))
        return hits

    def _fuse(self, dense: np.ndarray, lexical: np.ndarray) -> np.ndarray:
        s = self.settings
        fused = s.dense_weight / (s.rrf_k + _ranks(dense))
        has_words = lexical > 0  # a chunk sharing no word with the query gets no lexical vote
        fused[has_words] += s.lexical_weight / (s.rrf_k + _ranks(lexical)[has_words])
        return fused

    def _dense_scores(self, query: str) -> np.ndarray:
        vector = self._embed_query(query)
        scores, ids = self.data.store.search(vector[None, :], len(self.chunks))
        dense = np.full(len(self.chunks), -1.0, dtype=np.float32)
        for score, vid in zip(scores[0], ids[0]):
            if vid >= 0:
                dense[self._vector_rows[int(vid)]] = score
        return dense

    def _embed_query(self, query: str) -> np.ndarray:
        # The same questions come back (example buttons, several users):
        # a small LRU avoids re-encoding them.
        with self._cache_lock:
            if query in self._query_cache:
                self._query_cache.move_to_end(query)
                return self._query_cache[query]
        vector = self.embedder.embed_queries([query])[0]
        with self._cache_lock:
            self._query_cache[query] = vector
            if len(self._query_cache) > 2048:
                self._query_cache.popitem(last=False)
        return vector

    def _is_pinned(self, chunk: Chunk, refs: References) -> bool:
        if chunk.kind == "measure":
            return any(m in chunk.measures for m in refs.measures + refs.titled)
        if chunk.kind == "footnote":
            return chunk.footnote in refs.footnotes
        if chunk.kind == "acronym":
            # Only when the question asks what it means: most questions naming
            # an acronym ("la somme versée par l'AGRASC") want a measure.
            return chunk.acronym in refs.acronyms and refs.definition and not (refs.measures or refs.footnotes)
        if chunk.kind == "table" and refs.listing:
            return self._table_wanted(chunk, refs)
        return False

    def _table_wanted(self, chunk: Chunk, refs: References) -> bool:
        """Lists and counts of measures rest on annex 2: pin the rows asked about."""
        axes = set(refs.axes) | {self.evaluation.action(a).axis for a in refs.actions if 1 <= a <= len(self.evaluation.actions)}
        if axes:
            return chunk.axis in axes
        return refs.status is None or refs.status.value in chunk.statuses

    def _check_references(self, refs: References) -> None:
        n_measures, n_notes = len(self.evaluation.measures), len(self.evaluation.footnotes)
        for number in refs.measures:
            if not 1 <= number <= n_measures:
                raise UnknownReferenceError(f"unknown measure {number}: the plan has {n_measures} measures (1-{n_measures})")
        for number in refs.footnotes:
            if not 1 <= number <= n_notes:
                raise UnknownReferenceError(f"unknown footnote {number}: the evaluation has {n_notes} footnotes (1-{n_notes})")

    def _check_k(self, k) -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= self.settings.max_k:
            raise InvalidFilterError(f"k={k!r} is out of range: use an integer from 1 to {self.settings.max_k}", "k")
        return int(k)

    def _filter_mask(self, status, axis, kind, action) -> np.ndarray:
        mask = np.ones(len(self.chunks), dtype=bool)
        if status is not None and status != "":
            try:
                wanted = status if isinstance(status, Status) else Status.parse(str(status))
            except ValueError as err:
                raise InvalidFilterError(str(err), "status") from None
            mask &= np.array([wanted.value in c.statuses for c in self.chunks])
        if axis is not None:
            self._check_number("axis", axis, len(self.evaluation.axes))
            mask &= np.array([axis in axes for axes in self._axes])
        if action is not None:
            self._check_number("action", action, len(self.evaluation.actions))
            mask &= np.array([c.action == action for c in self.chunks])
        if kind is not None and kind != "":
            if kind not in KINDS:
                raise InvalidFilterError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}", "kind")
            mask &= np.array([c.kind == kind for c in self.chunks])
        return mask

    @staticmethod
    def _check_number(name: str, value, count: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= count:
            raise InvalidFilterError(f"unknown {name} {value!r}: the plan has {count} ({name} 1-{count})", name)

    def _chunk_axes(self, chunk: Chunk) -> frozenset[int]:
        if chunk.kind == "footnote":
            return frozenset(self.evaluation.measure(m).axis for m in chunk.measures)
        return frozenset([chunk.axis]) if chunk.axis is not None else frozenset()


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each score, best first (ties broken by position)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks
