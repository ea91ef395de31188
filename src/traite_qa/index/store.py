"""Vector stores behind a small protocol, so a second backend (HNSW, a
distributed engine) plugs in without touching retrieval.

Vectors carry explicit int64 ids derived from chunk ids; the searcher maps
them back through the manifest's id map, never by list position.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import CorruptIndexError


def vector_id(chunk_id: str) -> int:
    """A stable 63-bit id for a chunk id (same chunk, same id, across rebuilds)."""
    return int.from_bytes(hashlib.blake2b(chunk_id.encode(), digest_size=8).digest(), "big") >> 1


class VectorStore(Protocol):
    dimension: int
    FILE: str  # its file in the index folder (checksummed in the manifest)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k); missing slots have id -1."""
        ...

    def ids(self) -> np.ndarray: ...

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of `ids`, (len(ids), dimension) float32 (an export reads them back)."""
        ...

    def save(self, path: Path) -> None: ...

    def __len__(self) -> int: ...


class FaissFlatStore:
    """Exact inner-product search (cosine on normalised vectors): at a few
    hundred chunks a flat scan takes microseconds and never misses."""

    FILE = "vectors.faiss"

    @classmethod
    def create(cls, dimension: int, settings=None) -> "FaissFlatStore":
        return cls(dimension)

    def __init__(self, dimension: int, index=None):
        import faiss

        self.dimension = dimension
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"vectors of shape {vectors.shape}, expected (n, {self.dimension})")
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        return self._index.search(queries, min(k, max(len(self), 1)))

    def ids(self) -> np.ndarray:
        import faiss

        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        for row, vid in enumerate(ids):
            out[row] = self._index.reconstruct(int(vid))  # IndexIDMap2 looks the id up
        return out

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    # The index that IndexIDMap2 wraps, per backend: a foreign file of another kind is refused.
    inner = "IndexFlatIP"

    @classmethod
    def load(cls, path: Path, dimension: int) -> "FaissFlatStore":
        return cls.from_bytes(path.read_bytes(), dimension, path)

    @classmethod
    def from_bytes(cls, data: bytes, dimension: int, where: Path | str = "vectors.faiss", settings=None,
                   checksum: str | None = None) -> "FaissFlatStore":
        """The store serialised in `data` (bytes the loader has already checked
        against the manifest: faiss never opens the path itself)."""
        import faiss

        fix = "run `traite-qa build --force`"
        try:
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except (RuntimeError, MemoryError, ValueError) as err:  # faiss reports bad files as RuntimeError
            first = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
            raise CorruptIndexError(f"{where} is unreadable ({first}): {fix}") from None
        if index.d != dimension:
            raise CorruptIndexError(f"{where} holds vectors of dimension {index.d}, the manifest says {dimension}: {fix}")
        if not isinstance(index, faiss.IndexIDMap2):
            index = faiss.downcast_index(index)
            if not isinstance(index, faiss.IndexIDMap2):
                raise CorruptIndexError(f"{where} is not an IndexIDMap2: {fix}")
        inner = faiss.downcast_index(index.index)
        if type(inner).__name__ != cls.inner or inner.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise CorruptIndexError(f"{where} holds a {type(inner).__name__}, the manifest's store needs an "
                                    f"inner-product {cls.inner}: {fix}")
        return cls(dimension, index)


class FaissHNSWStore(FaissFlatStore):
    """Approximate search for large collections (used by the scaling benchmark)."""

    inner = "IndexHNSWFlat"

    def __init__(self, dimension: int, index=None, m: int = 32, ef_search: int = 64):
        import faiss

        if index is None:
            hnsw = faiss.IndexHNSWFlat(dimension, m, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efSearch = ef_search
            index = faiss.IndexIDMap2(hnsw)
        super().__init__(dimension, index)


from .qdrant import QdrantStore  # noqa: E402 - it imports qdrant_client only when used

# Backends by name (the `vector_store` setting, recorded in the manifest). A
# new one implements VectorStore plus `create(dimension, settings)` and
# `from_bytes(data, dimension, where, settings, checksum)`; the searcher only
# calls `search` and `ids`, so retrieval does not change.
STORES = {"faiss-flat": FaissFlatStore, "faiss-hnsw": FaissHNSWStore, "qdrant": QdrantStore}


def new_store(name: str, dimension: int, settings=None) -> VectorStore:
    return STORES[name].create(dimension, settings)


def set_search_threads(threads: int) -> None:
    """FAISS's OpenMP pool is process-wide: set once, from the settings, where
    the process loads its index. One thread per query is right when each
    request thread searches a small index: more only fight the other requests
    (and torch) for the cores."""
    import faiss

    faiss.omp_set_num_threads(threads)
