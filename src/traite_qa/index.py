"""Build, check and load the index on disk.

Layout: `index_dir` is a symlink to one immutable version folder
(`.<name>.versions/<stamp>`) holding

    manifest.json   model id + fingerprint, dimension, chunker settings,
                    source sha256, package version, created-at, file sha256s
    chunks.jsonl    one chunk per line (id, kind, header, body, span, ...)
    ids.json        [[vector id, chunk id], ...]: the row -> chunk map
    vectors.faiss   IndexIDMap2(IndexFlatIP)
    bm25/           bm25s index over the same chunks, in chunks.jsonl order
    sentences.npz   every sentence of every chunk: chunk id, [start, end) in
                    the chunk body, and its embedding (for evidence selection)

A build writes a new version folder and swaps the symlink with one atomic
rename, so a build killed at any point leaves the previous index loadable.
Embeddings are cached by (model fingerprint, passage sha256), so a rebuild
with unchanged chunks embeds nothing.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .chunker import CHUNKER_VERSION, MAX_WHOLE_CHARS, Chunk, chunk_evaluation
from .document import Evaluation
from .embedder import BaseEmbedder, make_embedder
from .errors import CorruptIndexError, IndexMissingError, StaleIndexError, TraiteQAError
from .lexical import LexicalIndex
from .parser import parse
from .settings import Settings
from .store import STORES, VectorStore, vector_id
from .text import sentence_spans

FORMAT = 2  # 2: the manifest names its vector store
FILES = ("chunks.jsonl", "ids.json", "vectors.faiss", "sentences.npz")
FIX = "run `traite-qa build`"
QUOTABLE_KINDS = ("measure", "footnote", "preamble", "conclusion")


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


def _read_source(settings: Settings) -> tuple[str, str]:
    try:
        raw = settings.source.read_bytes()
    except FileNotFoundError:
        raise IndexMissingError(f"source document not found: {settings.source} (TRAITE_QA_SOURCE)") from None
    try:
        return raw.decode("utf-8"), sha256_bytes(raw)
    except UnicodeDecodeError as err:
        from .errors import DocumentFormatError

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
    missing = [name for name in FILES if name not in files]
    return f"files.{missing[0]}" if missing else None


def check_manifest(manifest: dict, settings: Settings, source_sha: str, fingerprint: str | None = None) -> None:
    """Raise StaleIndexError naming the first mismatch with the settings, source or model."""
    built = manifest["model"]["id"]
    if built != settings.model:
        raise StaleIndexError(f"index built with model {built!r}, settings say {settings.model!r}: {FIX}")
    if fingerprint is not None and manifest["model"].get("fingerprint") != fingerprint:
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
        if sha256_file(path) != expected:
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
    index_dir = settings.index_dir
    manifest = read_manifest(index_dir)
    source, source_sha = _read_source(settings)
    check_manifest(manifest, settings, source_sha, embedder.fingerprint if embedder is not None else None)
    _check_files(index_dir, manifest)
    chunks = _read_chunks(index_dir / "chunks.jsonl")
    id_map = _read_id_map(index_dir / "ids.json")
    dimension = int(manifest["model"]["dimension"])
    store = STORES[manifest["store"]].load(index_dir / "vectors.faiss", dimension)
    row_of_chunk = {c.id: i for i, c in enumerate(chunks)}
    unknown = [cid for cid in id_map.values() if cid not in row_of_chunk]
    if unknown or len(id_map) != len(chunks) or set(store.ids().tolist()) != set(id_map):
        raise CorruptIndexError(
            f"vectors.faiss, ids.json and chunks.jsonl in {index_dir} disagree "
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


def load_or_build(settings: Settings, embedder: BaseEmbedder, progress: bool = False) -> IndexData:
    """Load the index; build it first when it is missing, stale or damaged.

    One load when the index is fine (the check *is* the load)."""
    try:
        return load_index(settings, embedder)
    except (IndexMissingError, StaleIndexError, CorruptIndexError) as err:
        if progress:
            print(f"traite-qa: building the index ({str(err).split(': run')[0]})", file=sys.stderr, flush=True)
    build_index(settings, force=True, progress=progress, embedder=embedder)
    return load_index(settings, embedder)


# --------------------------------------------------------------------- build
def ensure_index(settings: Settings, progress: bool = False, embedder: BaseEmbedder | None = None) -> dict:
    """Build the index when it is missing, stale or damaged; otherwise do nothing."""
    problem = index_problem(settings, embedder)
    if problem is None:
        return {"index_dir": str(settings.index_dir), "skipped": True, "reason": "up to date"}
    if progress:
        print(f"traite-qa: building the index ({problem.split(': run')[0]})", flush=True)
    return build_index(settings, force=True, progress=progress, embedder=embedder)


def build_index(
    settings: Settings, force: bool = False, progress: bool = False, embedder: BaseEmbedder | None = None
) -> dict:
    started = time.perf_counter()
    embedder = embedder or make_embedder(settings)
    source, source_sha = _read_source(settings)
    evaluation = parse(source)  # a malformed document stops here, before any write
    chunks = chunk_evaluation(evaluation, source, settings.chunk_size, settings.chunk_overlap)
    report = {
        "index_dir": str(settings.index_dir),
        "model": settings.model,
        "chunks": len(chunks),
        "embedded": 0,
        "cached": 0,
    }
    if not force and index_problem(settings, embedder) is None:
        return {**report, "skipped": True, "seconds": time.perf_counter() - started}

    versions = settings.index_dir.parent / f".{settings.index_dir.name}.versions"
    versions.mkdir(parents=True, exist_ok=True)
    with open(versions / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time per index
        _remove_leftovers(versions)
        tmp = versions / f"tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        vectors, sentences, embedded, cached = _embed(chunks, embedder, settings, progress)
        manifest = _write_version(tmp, chunks, vectors, sentences, embedder, settings, source_sha)
        final = versions / f"{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}-{manifest['files']['vectors.faiss'][:8]}"
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        _swap(settings.index_dir, final)
        _remove_leftovers(versions, keep=final)
    return {**report, "skipped": False, "embedded": embedded, "cached": cached, "seconds": time.perf_counter() - started,
            "dimension": manifest["model"]["dimension"]}


def _embed(chunks: list[Chunk], embedder: BaseEmbedder, settings: Settings, progress: bool):
    """Embed chunk passages and their sentences, reusing cached vectors."""
    # Only passages the answerer quotes from get sentence vectors (not glossary
    # lines or table rows): a fifth fewer texts to embed on a first build.
    sentences = [(c.id, start, end) for c in chunks if c.kind in QUOTABLE_KINDS for start, end in sentence_spans(c.body)]
    by_id = {c.id: c for c in chunks}
    texts = [c.passage for c in chunks] + [by_id[cid].body[s:e] for cid, s, e in sentences]
    cache = EmbeddingCache(settings.model_cache.parent / "embeddings", embedder.fingerprint)
    keys = [sha256_bytes(t.encode()) for t in texts]
    missing = list(dict.fromkeys(key for key in keys if key not in cache))
    if missing:
        text_of = dict(zip(keys, texts))
        new = embedder.embed_documents([text_of[key] for key in missing], progress=progress)
        cache.update(dict(zip(missing, new)))
        cache.save()
    vectors = np.vstack([cache[key] for key in keys]).astype(np.float32)
    return vectors[: len(chunks)], (sentences, vectors[len(chunks) :]), len(missing), len(set(keys)) - len(missing)


def _write_version(tmp: Path, chunks, vectors, sentences, embedder: BaseEmbedder, settings: Settings, source_sha: str) -> dict:
    with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
        for chunk in chunks:
            f.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
    ids = [vector_id(c.id) for c in chunks]
    if len(set(ids)) != len(ids):  # pragma: no cover - 63-bit hashes of ~200 ids
        raise TraiteQAError("two chunk ids hash to the same vector id")
    (tmp / "ids.json").write_text(json.dumps([[vid, c.id] for vid, c in zip(ids, chunks)]), encoding="utf-8")
    store = STORES[settings.vector_store](vectors.shape[1])
    store.add(np.asarray(ids, dtype=np.int64), vectors)
    store.save(tmp / "vectors.faiss")
    LexicalIndex.build([c.passage for c in chunks]).save(tmp / "bm25")
    spans, sentence_vectors = sentences
    np.savez(
        tmp / "sentences.npz",
        chunk_ids=np.array([cid for cid, _, _ in spans]),
        starts=np.array([s for _, s, _ in spans], dtype=np.int32),
        ends=np.array([e for _, _, e in spans], dtype=np.int32),
        vectors=sentence_vectors.astype(np.float32),
    )
    files = {name: sha256_file(tmp / name) for name in FILES}
    files.update({f"bm25/{p.name}": sha256_file(p) for p in sorted((tmp / "bm25").iterdir())})
    manifest = {
        "format": FORMAT,
        "package_version": __version__,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model": {"id": settings.model, "fingerprint": embedder.fingerprint, "dimension": int(vectors.shape[1])},
        "store": settings.vector_store,
        "chunker": chunker_settings(settings),
        "source": {"name": settings.source.name, "sha256": source_sha},
        "chunks": len(chunks),
        "kinds": {kind: sum(c.kind == kind for c in chunks) for kind in dict.fromkeys(c.kind for c in chunks)},
        "files": files,
    }
    # The manifest goes last: a folder without one is never taken for an index.
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    for path in [*tmp.iterdir(), *(tmp / "bm25").iterdir(), tmp]:
        _fsync(path)
    return manifest


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _swap(index_dir: Path, final: Path) -> None:
    """Point `index_dir` at `final` with one atomic rename of a symlink."""
    if index_dir.exists() and not index_dir.is_symlink():
        # A plain folder from elsewhere: move it aside first (not atomic, once).
        os.rename(index_dir, final.parent / f"old-{uuid.uuid4().hex[:8]}")
    link = index_dir.parent / f".{index_dir.name}.link-{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(final, index_dir.parent), link)
    os.replace(link, index_dir)
    _fsync(index_dir.parent)


def _remove_leftovers(versions: Path, keep: Path | None = None) -> None:
    """Drop versions no longer pointed at and folders of killed builds."""
    current = None
    link = versions.parent / versions.name[1:].removesuffix(".versions")
    if link.is_symlink():
        current = link.resolve()
    for path in versions.iterdir():
        if path.name == ".lock" or path.resolve() in {current, keep and keep.resolve()}:
            continue
        shutil.rmtree(path, ignore_errors=True)
    for stale_link in versions.parent.glob(f".{link.name}.link-*"):
        stale_link.unlink(missing_ok=True)


class EmbeddingCache:
    """Passage embeddings keyed by sha256 of the passage, one file per model."""

    def __init__(self, directory: Path, fingerprint: str):
        self.path = directory / f"{fingerprint}.npz"
        self._data: dict[str, np.ndarray] = {}
        if self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as npz:
                    self._data = dict(zip(npz["keys"].tolist(), npz["vectors"]))
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
                self._data = {}  # a damaged cache only costs a re-embed

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def __getitem__(self, key: str) -> np.ndarray:
        return self._data[key]

    def update(self, items: dict[str, np.ndarray]) -> None:
        self._data.update(items)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp-{uuid.uuid4().hex[:8]}.npz")
        keys = list(self._data)
        np.savez(tmp, keys=np.array(keys), vectors=np.vstack([self._data[k] for k in keys]))
        os.replace(tmp, self.path)
