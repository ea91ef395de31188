"""Hybrid search: dense (FAISS) and BM25 rankings fused by reciprocal rank,
with exact references (measure N, note N, an acronym, a measure's title)
pinned first.

    searcher = Searcher.load("index/build")
    for hit in searcher.search("mécanisme national de référence", k=5):
        print(hit.rank, hit.id, hit.status, hit.score)

`search(str)` is the public entry; the assistant calls `retrieve(Query)` with
the question it has already read.
"""

from __future__ import annotations

import dataclasses

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..document import Evaluation, Status
from ..errors import UnknownReferenceError
from ..index import (
    BaseEmbedder,
    IndexData,
    load_index,
    load_or_build,
    make_embedder,
    pin_mmap_threshold,
    set_search_threads,
)
from ..settings import Settings
from ..types import Chunk, Filters, Hit, Query
from ..understand.spelling import load as load_word_list
from ..understand import (
    Understander,
    check_filters,
    check_k,
    check_mode,
    check_references,
    clean_question,
)
from .expansion import expand
from .fusion import fuse
from .pinning import PINNED_SCORE, is_pinned

QUERY_CACHE_SIZE = 2048
CONTEXT_WEIGHT = 0.5


class Searcher:
    def __init__(self, data: IndexData, embedder: BaseEmbedder, settings: Settings):
        self.data = data
        self.embedder = embedder
        self.settings = settings
        self.chunks = data.chunks
        self.evaluation: Evaluation = data.evaluation
        self.understander = Understander(self.evaluation, settings)
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
        build: bool | None = None,
        progress: bool = True,
    ) -> "Searcher":
        """Load and check the index; raises a domain error naming what is wrong and the fix.

        `build=True` builds the index first when it is missing, stale or damaged
        (progress on stderr). The default, None, does so only for the default
        index (`Settings.index_is_default`), so `Searcher.load()` works in any
        directory; an index named explicitly must exist (IndexMissingError)."""
        settings = settings or Settings.from_env()
        if index_dir is not None:
            settings = settings.with_(index_dir=Path(index_dir))
        if build is None:
            build = settings.index_is_default
        embedder = embedder or make_embedder(settings)
        data = load_or_build(settings, embedder, progress) if build else load_index(settings, embedder)
        set_search_threads(settings.search_threads)
        return cls(data, embedder, settings)

    def warm_up(self, page_in: bool = True) -> None:
        """Ready a long-running process (the chat server, the MCP server) to
        answer: the query encoder loaded and run once. And so that its RSS
        does not grow with the first thousand questions (eval/abuse.py): the
        model's mapped weights read in whole, and glibc's mmap threshold
        pinned (index/allocator.py). Both process-wide; one-shot commands do
        without them. `page_in=False`: a warm-up in a daemon thread (MCP), which
        must not still be reading 384 MB when its process exits."""
        pin_mmap_threshold()
        load_word_list()
        self.embedder.warm_up()
        self._embed("warm up")
        if page_in:
            self.embedder.page_in()

    # ----------------------------------------------------------------- API
    def search(
        self,
        query: str,
        k: int = 5,
        status: str | Status | None = None,
        axis: int | None = None,
        kind: str | None = None,
        action: int | None = None,
        mode: str = "hybrid",
    ) -> list[Hit]:
        """`mode`: "hybrid" (default: fusion and pinning), "dense" (cosine
        only: the ranking an exported copy of the vectors reproduces) or
        "lexical" (BM25 only)."""
        text = clean_question(query, self.settings.max_question_chars)
        k = check_k(k, self.settings.max_k)
        filters = check_filters(self.evaluation, status=status, axis=axis, action=action, kind=kind)
        query = self.understander.read(text)
        if check_mode(mode) == "dense":
            # The question's vector as any e5 client computes it from the text, so
            # an exported copy of the vectors reproduces this ranking.
            query = dataclasses.replace(query, embedded=query.text)
        return self.retrieve(query, k, filters, mode=check_mode(mode))

    def retrieve(self, query: Query, k: int, filters: Filters | None = None, mode: str = "hybrid",
                 pin: bool = True) -> list[Hit]:
        """The top k chunks for a question already read, within `filters`
        (default: the query's own). Raises UnknownReferenceError for "mesure 52".
        `mode`: see `search`. `pin=False` ranks by the fused score alone (to
        check a guess against it)."""
        check_references(self.evaluation, query.search_refs)
        filters = query.filters if filters is None else filters
        mask = self._mask(filters)
        vector = self.query_vector(query) if mode != "lexical" else None
        dense = self._dense_scores(vector) if vector is not None else np.zeros(len(self.chunks), np.float32)
        lexical = self.data.lexical.scores(expand(query.core, query.english)) if mode != "dense" else np.zeros_like(dense)
        if query.context and mode != "dense":
            lexical = lexical + CONTEXT_WEIGHT * self.data.lexical.scores(expand(query.context, query.english))
        if mode != "hybrid":
            return self._ranked(dense if mode == "dense" else lexical, mask, k, dense, lexical)
        t = self.settings.tuning
        sentence = self._sentence_scores(vector) if t.sentence_weight > 0 else None
        fused = fuse(dense, lexical, t.rrf_k, t.dense_weight, t.lexical_weight, sentence, t.sentence_weight)
        fused[~mask] = -np.inf
        order = [int(i) for i in np.argsort(-fused, kind="stable") if mask[i]]
        pinned = [i for i in order if pin and is_pinned(self.chunks[i], query.search_refs, self.evaluation)]
        pinned_set = set(pinned)
        rest = [i for i in order if i not in pinned_set]
        hits = []
        for rank, i in enumerate((pinned + rest)[:k], 1):
            is_pin = rank <= len(pinned)
            score = PINNED_SCORE + float(fused[i]) if is_pin else float(fused[i])
            hits.append(Hit.from_chunk(self.chunks[i], score, rank, pinned=is_pin, dense=float(dense[i]), lexical=float(lexical[i])))
        return hits

    def _ranked(self, scores: np.ndarray, mask: np.ndarray, k: int, dense: np.ndarray, lexical: np.ndarray) -> list[Hit]:
        """One ranking alone, no pinning: best score first, ties in chunk order."""
        order = [int(i) for i in np.argsort(-scores, kind="stable") if mask[i]][:k]
        return [Hit.from_chunk(self.chunks[i], float(scores[i]), rank, pinned=False, dense=float(dense[i]),
                               lexical=float(lexical[i])) for rank, i in enumerate(order, 1)]

    def query_vector(self, query: Query) -> np.ndarray:
        """The question's vector; a follow-up's leans toward its previous question
        (CONTEXT_WEIGHT: `python -m eval.bank` on dev follow-ups)."""
        vector = self._embed(query.embedded or query.core)
        if not query.context:
            return vector
        mixed = vector + CONTEXT_WEIGHT * self._embed(query.context)
        return (mixed / np.linalg.norm(mixed)).astype(np.float32)

    def embed_query(self, query: str) -> np.ndarray:
        return self._embed(clean_question(query, self.settings.max_question_chars))

    def clear_query_cache(self) -> None:
        """Forget cached query embeddings (benchmarks time the encode)."""
        with self._cache_lock:
            self._query_cache.clear()

    def check_filters(self, **filters) -> Filters:
        """The filters as values; raises InvalidFilterError for one the document cannot satisfy."""
        return check_filters(self.evaluation, **filters)

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
    def _dense_scores(self, vector: np.ndarray) -> np.ndarray:
        """Cosine of every chunk; chunks outside the store's candidates get -1
        (an approximate store is asked for a bounded set, not for everything)."""
        k = min(len(self.chunks), self.settings.tuning.dense_candidates)
        scores, ids = self.data.store.search(vector[None, :], k)
        dense = np.full(len(self.chunks), -1.0, dtype=np.float32)
        for score, vid in zip(scores[0], ids[0]):
            if vid >= 0:
                dense[self._vector_rows[int(vid)]] = score
        return dense

    def _sentence_scores(self, vector: np.ndarray) -> np.ndarray:
        """The best sentence cosine of every chunk (-1 for chunks without indexed sentences)."""
        table = self.data.sentences
        best = np.full(len(self.chunks), -1.0, dtype=np.float32)
        np.maximum.at(best, table.rows, table.vectors @ vector)
        return best

    def _embed(self, text: str) -> np.ndarray:
        # The same questions come back (example buttons, several users):
        # a small LRU avoids re-encoding them.
        with self._cache_lock:
            if text in self._query_cache:
                self._query_cache.move_to_end(text)
                return self._query_cache[text]
        vector = self.embedder.embed_queries([text])[0]
        with self._cache_lock:
            self._query_cache[text] = vector
            if len(self._query_cache) > QUERY_CACHE_SIZE:
                self._query_cache.popitem(last=False)
        return vector

    def _mask(self, filters: Filters) -> np.ndarray:
        mask = np.ones(len(self.chunks), dtype=bool)
        if filters.status is not None:
            mask &= np.array([filters.status.value in c.statuses for c in self.chunks])
        if filters.axis is not None:
            mask &= np.array([filters.axis in axes for axes in self._axes])
        if filters.action is not None:
            mask &= np.array([c.action == filters.action for c in self.chunks])
        if filters.kind is not None:
            mask &= np.array([c.kind == filters.kind for c in self.chunks])
        return mask

    def _chunk_axes(self, chunk: Chunk) -> frozenset[int]:
        if chunk.kind == "footnote":
            return frozenset(self.evaluation.measure(m).axis for m in chunk.measures)
        return frozenset([chunk.axis]) if chunk.axis is not None else frozenset()
