"""Read and check the index on disk; every problem is a domain error naming the fix.

Layout: `index_dir` is a symlink to one immutable version folder
(`.<name>.versions/<stamp>`) holding

    manifest.json   model id + fingerprint, dimension, chunker settings,
                    source sha256, package version, created-at, file sha256s
    chunks.jsonl    one chunk per line (id, kind, header, body, span, ...)
    ids.json        [[vector id, chunk id], ...]: the row -> chunk map
    vectors.faiss   IndexIDMap2(IndexFlatIP) (vectors.npz: ids and vectors, for Qdrant)
    bm25/           bm25s index over the same chunks, in chunks.jsonl order
    sentences.npz   every sentence of every quotable chunk: chunk id, [start, end)
                    in the chunk body, and its embedding (for evidence selection)
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..document import Evaluation, parse
from ..errors import (
    CorruptIndexError,
    DocumentFormatError,
    IndexMissingError,
    StaleIndexError,
)
from ..settings import Settings
from ..types import Chunk
from .chunker import CHUNKER_VERSION, MAX_WHOLE_CHARS
from .embedder import BaseEmbedder, make_embedder
from .lexical import LexicalIndex
from .store import STORES, VectorStore, open_store

FORMAT = 2  # 2: the manifest names its vector store
FILES = ("chunks.jsonl", "ids.json", "vectors.faiss", "sentences.npz")  # with the default store


def index_files(store: str) -> tuple[str, ...]:
    """The checksummed files of an index whose vectors live in `store`."""
    return ("chunks.jsonl", "ids.json", STORES[store].FILE, "sentences.npz")
FIX = "run `traite-qa build`"


@dataclass
class IndexData:
    directory: Path
    manifest: dict
    evaluation: Evaluation
    source: str
    chunks: list[Chunk]
    store: VectorStore
    lexical: LexicalIndex
    row_of_vector: dict[int, int]  # vector id -> position in `chunks`
    sentences: "SentenceTable"


@dataclass
class SentenceTable:
    """Sentences of all chunks: row i is chunks[rows[i]].body[starts[i]:ends[i]]."""

    rows: np.ndarray  # int32 chunk positions
    starts: np.ndarray
    ends: np.ndarray
    vectors: np.ndarray  # float32 (n, dim), passage embeddings

    def of_chunk(self, row: int) -> np.ndarray:
        return np.flatnonzero(self.rows == row)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_source(settings: Settings) -> tuple[str, str]:
    try:
        raw = settings.source.read_bytes()
    except FileNotFoundError:
        raise IndexMissingError(f"source document not found: {settings.source} (TRAITE_QA_SOURCE)") from None
    try:
        return raw.decode("utf-8"), sha256_bytes(raw)
    except UnicodeDecodeError as err:
        raise DocumentFormatError(f"{settings.source} is not UTF-8 text (byte {err.start})") from None


def chunker_settings(settings: Settings) -> dict:
    return {
        "version": CHUNKER_VERSION,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "max_whole_chars": MAX_WHOLE_CHARS,
    }


# --------------------------------------------------------------------- checks
def read_manifest(index_dir: Path) -> dict:
    path = index_dir / "manifest.json"
    if not index_dir.exists() or not path.exists():
        raise IndexMissingError(f"no index at {index_dir}: {FIX}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CorruptIndexError(f"{path} is unreadable ({type(err).__name__}): {FIX} --force") from None
    if not isinstance(manifest, dict) or "format" not in manifest:
        raise CorruptIndexError(f"{path} is unreadable (not an index manifest): {FIX} --force")
    if manifest["format"] != FORMAT:
        raise StaleIndexError(f"index format {manifest['format']!r} at {index_dir}, this version reads {FORMAT}: {FIX}")
    problem = _manifest_shape_problem(manifest)
    if problem:
        raise CorruptIndexError(f"{path} is unreadable ({problem} is missing or malformed): {FIX} --force")
    return manifest


def _manifest_shape_problem(manifest: dict) -> str | None:
    model, source, files = manifest.get("model"), manifest.get("source"), manifest.get("files")
    if not isinstance(model, dict) or not isinstance(model.get("id"), str):
        return "model.id"
    if not isinstance(model.get("fingerprint"), str):
        return "model.fingerprint"
    if not isinstance(model.get("dimension"), int) or isinstance(model.get("dimension"), bool) or model["dimension"] <= 0:
        return "model.dimension"
    if not isinstance(source, dict) or not isinstance(source.get("sha256"), str):
        return "source.sha256"
    if not isinstance(manifest.get("chunker"), dict):
        return "chunker"
    if manifest.get("store") not in STORES:
        return "store"
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        return "files"
    missing = [name for name in index_files(manifest["store"]) if name not in files]
    return f"files.{missing[0]}" if missing else None


def _encoder_change(built: object, now: dict | None) -> str | None:
    """'index built with query encoder X, settings say Y (TRAITE_QA_QUERY_ENCODER)', when that is the change."""
    if not isinstance(built, dict) or not now:
        return None
    for role, variable in (("passages", "PASSAGE_ENCODER"), ("queries", "QUERY_ENCODER")):
        was, wanted = (built.get(role) or {}).get("encoder"), now[role]["encoder"]
        if was != wanted:
            noun = "passage" if role == "passages" else "query"
            return f"index built with {noun} encoder {was!r}, settings say {wanted!r} (TRAITE_QA_{variable}, TRAITE_QA_QUANTIZE)"
    return None


def check_manifest(manifest: dict, settings: Settings, source_sha: str, fingerprint: str | None = None,
                   encoders: dict | None = None) -> None:
    """Raise StaleIndexError naming the first mismatch with the settings, source or model."""
    built = manifest["model"]["id"]
    if built != settings.model:
        raise StaleIndexError(f"index built with model {built!r}, settings say {settings.model!r}: {FIX}")
    if fingerprint is not None and manifest["model"].get("fingerprint") != fingerprint:
        changed = _encoder_change(manifest["model"].get("encoders"), encoders)
        if changed:
            raise StaleIndexError(f"{changed}: {FIX}")
        raise StaleIndexError(
            f"model {settings.model!r} changed since the build (fingerprint {manifest['model'].get('fingerprint')} "
            f"-> {fingerprint}): {FIX}"
        )
    if manifest["source"]["sha256"] != source_sha:
        raise StaleIndexError(f"the source document {settings.source.name} changed since the build: {FIX}")
    if manifest["store"] != settings.vector_store:
        raise StaleIndexError(f"index built with vector store {manifest['store']!r}, settings say {settings.vector_store!r}: {FIX}")
    wanted = chunker_settings(settings)
    if manifest.get("chunker") != wanted:
        raise StaleIndexError(f"index built with chunker {manifest.get('chunker')}, settings say {wanted}: {FIX}")


def _check_files(index_dir: Path, manifest: dict) -> None:
    for name, expected in manifest["files"].items():
        path = index_dir / name
        if not path.exists():
            raise CorruptIndexError(f"{path} is missing: {FIX} --force")
        try:
            actual = sha256_file(path)
        except OSError as err:
            raise CorruptIndexError(f"{path} is unreadable ({err.strerror}): {FIX} --force") from None
        if actual != expected:
            raise CorruptIndexError(f"{path} is damaged (checksum differs from the manifest; truncated?): {FIX} --force")


def index_problem(settings: Settings, embedder: BaseEmbedder | None = None) -> str | None:
    """Why the index needs a (re)build, or None when it loads.

    It really loads it (a few hundred ms): damage behind a matching checksum
    (a file rewritten with its new checksum) must count too. The model's
    fingerprint is part of the check; computing it does not load the model.
    """
    try:
        load_index(settings, embedder or make_embedder(settings))
    except (IndexMissingError, StaleIndexError, CorruptIndexError) as err:
        return str(err)
    return None


# ---------------------------------------------------------------------- load
def load_index(settings: Settings, embedder: BaseEmbedder | None = None) -> IndexData:
    """Load and check the index. Reads one version folder: the symlink is
    resolved once, so a build swapping it meanwhile (another process) cannot
    mix two versions; if that build also removed the folder being read, the
    new version is read instead."""
    for attempt in range(3):
        folder = settings.index_dir.resolve()
        try:
            return _load_version(folder, settings, embedder)
        except (IndexMissingError, CorruptIndexError, OSError):
            if attempt == 2 or settings.index_dir.resolve() == folder:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _load_version(index_dir: Path, settings: Settings, embedder: BaseEmbedder | None) -> IndexData:
    manifest = read_manifest(index_dir)
    source, source_sha = read_source(settings)
    check_manifest(manifest, settings, source_sha, *((embedder.fingerprint, embedder.describe()) if embedder is not None else ()))
    _check_files(index_dir, manifest)
    chunks = _read_chunks(index_dir / "chunks.jsonl")
    id_map = _read_id_map(index_dir / "ids.json")
    dimension = int(manifest["model"]["dimension"])
    store_file = STORES[manifest["store"]].FILE
    store = open_store(manifest["store"], index_dir / store_file, dimension, settings, manifest["files"][store_file])
    row_of_chunk = {c.id: i for i, c in enumerate(chunks)}
    unknown = [cid for cid in id_map.values() if cid not in row_of_chunk]
    if unknown or len(id_map) != len(chunks) or set(store.ids().tolist()) != set(id_map):
        raise CorruptIndexError(
            f"{store_file}, ids.json and chunks.jsonl in {index_dir} disagree "
            f"({len(store)} vectors, {len(id_map)} ids, {len(chunks)} chunks): {FIX} --force"
        )
    for chunk in chunks:  # the chunks must still be the source's text
        if source[chunk.span.start : chunk.span.end] != chunk.body:
            raise StaleIndexError(f"chunk {chunk.id} no longer matches the source text: {FIX}")
    lexical = LexicalIndex.load(index_dir / "bm25", len(chunks))
    sentences = _read_sentences(index_dir / "sentences.npz", row_of_chunk, chunks, dimension)
    return IndexData(
        directory=index_dir.resolve(),
        manifest=manifest,
        evaluation=parse(source),
        source=source,
        chunks=chunks,
        store=store,
        lexical=lexical,
        row_of_vector={vid: row_of_chunk[cid] for vid, cid in id_map.items()},
        sentences=sentences,
    )


def _read_sentences(path: Path, row_of_chunk: dict[str, int], chunks: list[Chunk], dimension: int) -> SentenceTable:
    try:
        with np.load(path, allow_pickle=False) as npz:
            chunk_ids, starts, ends, vectors = (npz[k] for k in ("chunk_ids", "starts", "ends", "vectors"))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise CorruptIndexError(f"{path} is unreadable ({type(err).__name__}): {FIX} --force") from None
    try:
        rows = np.array([row_of_chunk[str(cid)] for cid in chunk_ids], dtype=np.int32)
    except KeyError as err:
        raise CorruptIndexError(f"{path} names chunk {err} that chunks.jsonl lacks: {FIX} --force") from None
    if vectors.shape != (len(rows), dimension) or not (len(starts) == len(ends) == len(rows)):
        raise CorruptIndexError(f"{path} has inconsistent shapes: {FIX} --force")
    if any(not 0 <= s < e <= len(chunks[r].body) for r, s, e in zip(rows, starts, ends)):
        raise CorruptIndexError(f"{path} has sentence offsets outside their chunk: {FIX} --force")
    return SentenceTable(rows, starts.astype(np.int32), ends.astype(np.int32), vectors.astype(np.float32))


def _read_chunks(path: Path) -> list[Chunk]:
    chunks = []
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as err:
        raise CorruptIndexError(f"{path} is unreadable ({err.strerror}): {FIX} --force") from None
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            chunks.append(Chunk.from_dict(json.loads(raw.decode("utf-8"))))
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
            raise CorruptIndexError(f"{path} line {number} is not a chunk ({type(err).__name__}): {FIX} --force") from None
    return chunks


def _read_id_map(path: Path) -> dict[int, str]:
    try:
        pairs = json.loads(path.read_text(encoding="utf-8"))
        return {int(vid): str(cid) for vid, cid in pairs}
    except (ValueError, TypeError) as err:
        raise CorruptIndexError(f"{path} is not an id map ({type(err).__name__}): {FIX} --force") from None
