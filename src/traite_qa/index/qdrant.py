"""Qdrant behind the VectorStore protocol (`TRAITE_QA_VECTOR_STORE=qdrant`).

Optional: `pip install 'traite-qa[qdrant]'` (qdrant-client). The index folder
stays the source of truth: `vectors.npz` holds the explicit ids (the same
63-bit ids as FAISS, derived from chunk ids) and the vectors; Qdrant serves a
copy of them.

- No `TRAITE_QA_QDRANT_URL`: the client's local mode, in this process's
  memory (no server), filled from `vectors.npz` at load (~0.1 s for a few
  hundred vectors). Every process has its own, so any number of processes can
  load one index; local mode's on-disk storage is not used (it locks its
  folder to one process).
- `TRAITE_QA_QDRANT_URL=http://host:6333` (and `TRAITE_QA_QDRANT_API_KEY`): a
  Qdrant server. The collection is named `<TRAITE_QA_QDRANT_COLLECTION>-<first
  12 hex of the vectors' sha256>`: content-addressed, so processes loading the
  same index share one collection, the first one fills it (an idempotent
  upsert: a race only writes the same points twice), and a rebuild with new
  vectors gets a new collection instead of changing one under running servers.
  Old collections are left to the operator (`client.delete_collection`).
"""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from pathlib import Path

import numpy as np

from ..errors import CorruptIndexError, VectorStoreError
from .files import npy_header

UPSERT_BATCH = 1024


def _client(settings):
    try:
        from qdrant_client import QdrantClient
    except ImportError:
        raise VectorStoreError(
            "vector_store=qdrant needs qdrant-client: pip install 'traite-qa[qdrant]' "
            "(or set TRAITE_QA_VECTOR_STORE=faiss-flat)"
        ) from None
    url = getattr(settings, "qdrant_url", None)
    if not url:
        return QdrantClient(location=":memory:"), False
    # No version handshake at construction: an unreachable server is reported
    # once, by the first real call, as a VectorStoreError naming the settings.
    client = QdrantClient(url=url, api_key=getattr(settings, "qdrant_api_key", None), timeout=30, check_compatibility=False)
    return client, True


class QdrantStore:
    FILE = "vectors.npz"

    def __init__(self, dimension: int, ids: np.ndarray | None = None, vectors: np.ndarray | None = None):
        self.dimension = dimension
        self._ids = np.zeros(0, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        self._vectors = np.zeros((0, dimension), dtype=np.float32) if vectors is None else vectors
        self._client = None
        self.collection: str | None = None
        self.remote = False
        self._lock = threading.Lock()  # local mode is plain Python: one search at a time

    @classmethod
    def create(cls, dimension: int, settings=None) -> "QdrantStore":
        return cls(dimension)

    # -------------------------------------------------------- build side
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"vectors of shape {vectors.shape}, expected (n, {self.dimension})")
        self._ids = np.concatenate([self._ids, np.asarray(ids, dtype=np.int64)])
        self._vectors = np.vstack([self._vectors, vectors])

    def save(self, path: Path) -> None:
        with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a bare name
            np.savez(f, ids=self._ids, vectors=self._vectors)

    def ids(self) -> np.ndarray:
        return self._ids

    def __len__(self) -> int:
        return len(self._ids)

    # ------------------------------------------------------------ search
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = min(k, max(len(self), 1))
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, query in enumerate(queries):
            if self.remote:
                points = self._query(query, k)
            else:
                with self._lock:
                    points = self._query(query, k)
            for col, point in enumerate(points[:k]):
                scores[row, col], ids[row, col] = point.score, int(point.id)
        return scores, ids

    def _query(self, query: np.ndarray, k: int):
        try:
            return self._client.query_points(self.collection, query=query.tolist(), limit=k, with_payload=False).points
        except Exception as err:  # noqa: BLE001 - the client raises transport- and server-specific types
            raise VectorStoreError(f"Qdrant search failed on {self.collection!r} ({type(err).__name__}: {str(err)[:200]})") from None

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        row = {int(v): i for i, v in enumerate(self._ids)}
        return self._vectors[[row[int(v)] for v in ids]]

    # -------------------------------------------------------------- load
    @classmethod
    def load(cls, path: Path, dimension: int, settings=None, checksum: str | None = None) -> "QdrantStore":
        return cls.from_bytes(path.read_bytes(), dimension, path, settings, checksum)

    @classmethod
    def from_bytes(cls, data: bytes, dimension: int, where: Path | str = "vectors.npz", settings=None,
                   checksum: str | None = None) -> "QdrantStore":
        """The ids and vectors in `data` (bytes the loader has checked against the
        manifest), served by a Qdrant collection named after `checksum`."""
        fix = "run `traite-qa build --force`"
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = archive.infolist()
                # np.savez stores, never compresses: a member that expands is not ours (a zip bomb).
                if {m.filename for m in members} != {"ids.npy", "vectors.npy"} or any(m.file_size > len(data) for m in members):
                    raise CorruptIndexError(f"{where} does not hold ids and vectors: {fix}")
                for member in members:  # numpy allocates what a header says: check it against the bytes first
                    with archive.open(member) as fp:
                        npy_header(fp, member.file_size, f"{where} (member {member.filename})")
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                ids, vectors = npz["ids"], npz["vectors"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, RecursionError) as err:
            raise CorruptIndexError(f"{where} is unreadable ({type(err).__name__}): {fix}") from None
        if ids.dtype.kind not in "iu" or vectors.dtype.kind != "f" or vectors.ndim != 2 or vectors.shape != (len(ids), dimension):
            raise CorruptIndexError(f"{where} holds vectors of shape {vectors.shape}, expected ({len(ids)}, {dimension}): {fix}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not np.all(np.isfinite(vectors)):
            raise CorruptIndexError(f"{where} has vectors that are not numbers: {fix}")
        store = cls(dimension, ids.astype(np.int64), vectors)
        store._connect(settings, checksum or hashlib.sha256(data).hexdigest())
        return store

    def _connect(self, settings, checksum: str) -> None:
        self._client, self.remote = _client(settings)
        from qdrant_client import models

        prefix = getattr(settings, "qdrant_collection", None) or "traite-qa"
        self.collection = f"{prefix}-{checksum[:12]}"
        try:
            if self.remote and self._client.collection_exists(self.collection):
                if self._client.count(self.collection, exact=True).count == len(self._ids):
                    return  # filled by another process (same vectors: the name is their hash)
            else:
                self._client.create_collection(
                    self.collection, vectors_config=models.VectorParams(size=self.dimension, distance=models.Distance.DOT))
        except Exception as err:  # noqa: BLE001 - transport- and server-specific types
            if not (self.remote and self._exists()):  # else another process created it first
                raise VectorStoreError(_unreachable(settings, err)) from None
        self._upsert(self._ids, self._vectors, settings)

    def _exists(self) -> bool:
        try:
            return bool(self._client.collection_exists(self.collection))
        except Exception:  # noqa: BLE001
            return False

    def _upsert(self, ids: np.ndarray, vectors: np.ndarray, settings=None) -> None:
        from qdrant_client import models

        for start in range(0, len(ids), UPSERT_BATCH):
            batch = models.Batch(ids=[int(i) for i in ids[start : start + UPSERT_BATCH]],
                                 vectors=vectors[start : start + UPSERT_BATCH].tolist())
            try:
                self._client.upsert(self.collection, points=batch, wait=True)
            except Exception as err:  # noqa: BLE001
                raise VectorStoreError(_unreachable(settings, err)) from None


def _unreachable(settings, err: Exception) -> str:
    where = getattr(settings, "qdrant_url", None) or "the Qdrant server"
    return (f"cannot use Qdrant at {where} ({type(err).__name__}: {str(err)[:200]}): start the server, fix "
            "TRAITE_QA_QDRANT_URL / TRAITE_QA_QDRANT_API_KEY, or unset TRAITE_QA_QDRANT_URL for the in-process local mode")
