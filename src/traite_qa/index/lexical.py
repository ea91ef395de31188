"""BM25 over the chunks: exact words, numbers and acronyms.

bm25s's French stemmer keeps accents ("electricite" would not match
"électricité"), so both the corpus and the queries are folded first, and so is
the stopword list (its entries carry accents: "été").
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np

from ..errors import CorruptIndexError
from ..text import analyze
from .files import npy_header


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
    def load(cls, directory: Path, size: int, files: dict[str, bytes] | None = None) -> "LexicalIndex":
        """Load bm25s's files (the loader has checked them against the manifest)
        and check the score matrix's shape, so a foreign or forged index fails
        here, not with an IndexError at the first query. `files`: their bytes
        (name -> bytes, as the manifest names them), whose array headers and
        parameters are checked before bm25s opens anything."""
        import bm25s

        fix = "run `traite-qa build --force`"
        for name, data in (files or {}).items():
            where = directory / name.removeprefix("bm25/")
            if name.endswith(".npy"):
                npy_header(io.BytesIO(data), len(data), str(where))
            elif name.endswith("params.index.json"):
                problem = _params_problem(data, size)
                if problem:
                    raise CorruptIndexError(f"BM25 index file {where} has {problem}: {fix}")
        try:
            retriever = bm25s.BM25.load(str(directory), show_progress=False)
        except _BM25_ERRORS as err:  # bm25s raises json/numpy/OS errors on bad files
            raise CorruptIndexError(f"BM25 index in {directory} is unreadable ({type(err).__name__}): {fix}") from None
        problem = _matrix_problem(retriever, size)
        if problem:
            raise CorruptIndexError(f"BM25 index in {directory} is inconsistent ({problem}): {fix}")
        return cls(retriever, size)


# What bm25s.BM25.load raises on damaged files: a bad JSON or .npy file, a
# missing one, params its constructor does not take.
_BM25_ERRORS = (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, EOFError, RecursionError, MemoryError)


# bm25s.BM25.load passes params.index.json to its constructor as keyword
# arguments: an unchecked value runs code paths this package never uses
# (`backend: numba` imports numba, an ImportError). Only what a build writes.
_METHODS = ("robertson", "atire", "bm25l", "bm25+", "lucene")
_PARAMS = {
    "k1": "number", "b": "number", "delta": "number", "method": _METHODS, "idf_method": _METHODS,
    "dtype": ("float16", "float32", "float64"), "int_dtype": ("int32", "int64"), "num_docs": "int",
    "version": "str", "backend": ("numpy",),
}


def _params_problem(data: bytes, size: int) -> str | None:
    """What is wrong with params.index.json's bytes, or None."""
    try:
        params = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        return f"unreadable parameters ({type(err).__name__})"
    if not isinstance(params, dict) or set(params) - set(_PARAMS) or not {"backend", "num_docs"} <= set(params):
        keys = sorted(str(k)[:30] for k in (set(params) ^ set(_PARAMS))) if isinstance(params, dict) else []
        return f"parameters other than bm25s's ({', '.join(keys[:3]) or 'not an object'})"
    for key, value in params.items():
        kind = _PARAMS[key]
        if isinstance(kind, tuple):
            if value not in kind:
                return f"{key} {str(value)[:40]!r} (allowed: {', '.join(map(repr, kind))})"
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                return f"{key} {str(value)[:40]!r} (a number >= 0 expected)"
        elif kind == "int" and (isinstance(value, bool) or value != size):
            return f"num_docs {str(value)[:40]!r}, chunks.jsonl has {size}"
        elif kind == "str" and (not isinstance(value, str) or len(value) > 32):
            return f"{key} {str(value)[:40]!r}"
    return None


def _matrix_problem(retriever, size: int) -> str | None:
    scores, vocab = getattr(retriever, "scores", None), getattr(retriever, "vocab_dict", None)
    if not isinstance(scores, dict) or not isinstance(vocab, dict):
        return "no score matrix or vocabulary"
    if scores.get("num_docs") != size:
        return f"{scores.get('num_docs')!r:.20} documents, chunks.jsonl has {size}"
    if getattr(retriever, "backend", "numpy") != "numpy" or str(getattr(retriever, "dtype", "")) not in _FLOATS \
            or str(getattr(retriever, "int_dtype", "")) not in ("int32", "int64"):
        return "parameters"
    data, indices, indptr = (scores.get(k) for k in ("data", "indices", "indptr"))
    if not all(isinstance(a, np.ndarray) and a.ndim == 1 for a in (data, indices, indptr)):
        return "score arrays"
    if data.dtype.kind != "f" or indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        return "score array types"
    if len(indptr) < 1 or indptr[0] != 0 or indptr[-1] != len(data) or len(indices) != len(data):
        return "score array lengths"
    if np.any(np.diff(indptr) < 0) or (len(indices) and (indices.min() < 0 or indices.max() >= size)):
        return "score array offsets"
    if not np.all(np.isfinite(data)):
        return "scores that are not numbers"
    tokens = len(indptr) - 1
    # bm25s gives the empty token the last id, past the matrix: it is never looked up.
    if not all(isinstance(i, int) and 0 <= i < tokens or (t == "" and i == tokens) for t, i in vocab.items()):
        return "vocabulary ids"
    extra = getattr(retriever, "nonoccurrence_array", None)
    if extra is not None and not (isinstance(extra, np.ndarray) and extra.shape == (tokens,) and extra.dtype.kind == "f"):
        return "non-occurrence array"
    return None


_FLOATS = ("float16", "float32", "float64")
