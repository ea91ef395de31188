"""Reciprocal-rank fusion of the dense and BM25 rankings."""

from __future__ import annotations

import numpy as np


def fuse(dense: np.ndarray, lexical: np.ndarray, rrf_k: int, dense_weight: float, lexical_weight: float,
         sentence: np.ndarray | None = None, sentence_weight: float = 0.0) -> np.ndarray:
    """weight / (rrf_k + rank), summed over the rankings: the passages' cosine,
    BM25, and the best cosine among a passage's sentences (so one sentence that
    answers is not diluted by a long passage). A chunk sharing no word with the
    query gets no lexical vote; one without indexed sentences no sentence vote."""
    fused = dense_weight / (rrf_k + ranks(dense))
    has_words = lexical > 0
    fused[has_words] += lexical_weight / (rrf_k + ranks(lexical)[has_words])
    if sentence is not None and sentence_weight > 0:
        has_sentences = sentence > -1
        fused[has_sentences] += sentence_weight / (rrf_k + ranks(sentence)[has_sentences])
    return fused


def ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each score, best first (ties broken by position)."""
    order = np.argsort(-scores, kind="stable")
    out = np.empty(len(scores), dtype=np.float64)
    out[order] = np.arange(1, len(scores) + 1)
    return out
