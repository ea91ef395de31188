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

    @classmethod
    def load(cls, path: Path, dimension: int, settings=None, checksum: str | None = None) -> "FaissFlatStore":
        import faiss

        try:
            index = faiss.read_index(str(path))
        except (RuntimeError, OSError) as err:  # faiss reports bad files as RuntimeError
            raise CorruptIndexError(f"{path} is unreadable ({str(err).splitlines()[0][:200]}): run `traite-qa build --force`") from None
        if index.d != dimension:
            raise CorruptIndexError(f"{path} holds vectors of dimension {index.d}, the manifest says {dimension}: run `traite-qa build --force`")
        if not isinstance(index, faiss.IndexIDMap2):
            index = faiss.downcast_index(index)
            if not isinstance(index, faiss.IndexIDMap2):
                raise CorruptIndexError(f"{path} is not an IndexIDMap2: run `traite-qa build --force`")
        return cls(dimension, index)


class FaissHNSWStore(FaissFlatStore):
    """Approximate search for large collections (used by the scaling benchmark)."""

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
# `load(path, dimension, settings)`; the searcher only calls `search` and
# `ids`, so retrieval does not change.
STORES = {"faiss-flat": FaissFlatStore, "faiss-hnsw": FaissHNSWStore, "qdrant": QdrantStore}


def new_store(name: str, dimension: int, settings=None) -> VectorStore:
    return STORES[name].create(dimension, settings)


def open_store(name: str, path: Path, dimension: int, settings=None, checksum: str | None = None) -> VectorStore:
    """The store saved at `path` (its FILE inside an index folder); `checksum`: that file's sha256, from the manifest."""
    return STORES[name].load(path, dimension, settings, checksum)


def set_search_threads(threads: int) -> None:
    """FAISS's OpenMP pool is process-wide: set once, from the settings, where
    the process loads its index. One thread per query is right when each
    request thread searches a small index: more only fight the other requests
    (and torch) for the cores."""
    import faiss

    faiss.omp_set_num_threads(threads)
