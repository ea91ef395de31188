"""Read and check the index on disk; every problem is a domain error naming the fix.

Layout: `index_dir` is a symlink to one immutable version folder
(`.<name>.versions/<stamp>`) holding

    manifest.json   model id + fingerprint, dimension, chunker settings,
                    source sha256, package version, created-at, file sha256s
    chunks.jsonl    one chunk per line (id, kind, header, body, span, ...)
    ids.json        [[vector id, chunk id], ...]: the row -> chunk map
    vectors.faiss   IndexIDMap2(IndexFlatIP)
    bm25/           bm25s index over the same chunks, in chunks.jsonl order
    sentences.npz   every sentence of every quotable chunk: chunk id, [start, end)
                    in the chunk body, and its embedding (for evidence selection)

Nothing on disk is trusted (an index may be damaged, or copied from
elsewhere): files are read only as regular files inside the version folder,
under a size cap, and checked against the manifest's sha256 (`files.py`); the
manifest's fields are type-checked (`manifest.py`); and what a reader sees —
chunk texts, titles, statuses, headers, ids, sentence spans — must be exactly
what the parsed document gives (chunking it again takes ~10 ms). Only the
vectors and the BM25 scores cannot be derived cheaply: their shapes, ids and
values are checked instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..document import Evaluation, parse
from ..document.parser import decode_source, read_source_bytes
from ..errors import CorruptIndexError, IndexMissingError, StaleIndexError
from ..settings import Settings
from ..text import sentence_spans
from ..types import QUOTABLE_KINDS, Chunk
from .chunker import chunk_evaluation
from .embedder import BaseEmbedder, make_embedder
from .files import FIX, IndexFolder, npy_header, sha256_bytes
from .lexical import LexicalIndex
from .manifest import FILES, FORMAT, check_manifest, chunker_settings, index_files, read_manifest
from .store import STORES, VectorStore, vector_id

__all__ = [
    "FILES", "FORMAT", "FIX", "IndexData", "SentenceTable", "check_manifest", "chunker_settings", "index_files",
    "index_problem", "load_index", "read_manifest", "read_source", "sha256_bytes", "sha256_file",
]


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


def sha256_file(path: Path) -> str:
    """The sha256 of a file this process has just written (the build's own files)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_source(settings: Settings) -> tuple[str, str]:
    """The source document and its sha256, read with a size cap (a regular file only)."""
    raw = read_source_bytes(settings.source)
    return decode_source(settings.source, raw), sha256_bytes(raw)


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
    """Load and check the index. IndexFolder resolves the symlink once, so a
    build swapping it meanwhile (another process) cannot mix two versions; if
    that build also removed the folder being read, the new version is read."""
    for attempt in range(LOAD_ATTEMPTS):
        try:
            return _load_version(IndexFolder(settings.index_dir), settings, embedder)
        except (IndexMissingError, CorruptIndexError) as err:
            moved = getattr(err, "_folder", None) is not None and _resolved(settings.index_dir) != err._folder
            if attempt == LOAD_ATTEMPTS - 1 or not moved:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


LOAD_ATTEMPTS = 5  # a build loop in another process may move the link more than once during one load


@lru_cache(maxsize=2)
def _document(source: str, chunk_size: int, chunk_overlap: int) -> tuple[Evaluation, tuple[Chunk, ...]]:
    """The parsed document and its chunks, once per source: a retry after a
    concurrent build moved the link reads only the new version's files (parsing
    again made each attempt long enough for the next rebuild to move it again)."""
    evaluation = parse(source)
    return evaluation, tuple(chunk_evaluation(evaluation, source, chunk_size, chunk_overlap))


def _resolved(index_dir: Path) -> Path | None:
    try:
        return index_dir.resolve(strict=True)
    except OSError:
        return None


def _load_version(folder: IndexFolder, settings: Settings, embedder: BaseEmbedder | None) -> IndexData:
    try:
        return _read_version(folder, settings, embedder)
    except (IndexMissingError, CorruptIndexError) as err:
        err._folder = folder.root  # which version failed: load_index retries when the link has moved since
        raise


def _read_version(folder: IndexFolder, settings: Settings, embedder: BaseEmbedder | None) -> IndexData:
    manifest = read_manifest(settings.index_dir, folder)
    source, source_sha = read_source(settings)
    check_manifest(manifest, settings, source_sha, *((embedder.fingerprint, embedder.describe()) if embedder is not None else ()))
    files = manifest["files"]
    dimension = manifest["model"]["dimension"]
    # The document is the authority on what the chunks say, and on how big
    # each file can be: a file over that is refused before it is read or hashed.
    evaluation, chunks = _document(source, settings.chunk_size, settings.chunk_overlap)
    chunks = list(chunks)
    expected = _expected_sentences(chunks)
    caps = _size_caps(chunks, len(expected), dimension, manifest["store"])
    data_files = index_files(manifest["store"])
    raw = {name: folder.read(name, files[name], cap=caps[name]) for name in data_files}
    # bm25/: checked here, opened by bm25s below (after its headers and params are checked)
    bm25_raw = {name: folder.read(name, files[name], cap=caps["bm25/"]) for name in files if name not in data_files}

    _check_chunks(folder.path("chunks.jsonl"), raw["chunks.jsonl"], chunks)
    kinds = {kind: sum(c.kind == kind for c in chunks) for kind in dict.fromkeys(c.kind for c in chunks)}
    if manifest["chunks"] != len(chunks) or manifest["kinds"] != kinds:
        raise CorruptIndexError(f"the manifest in {settings.index_dir} counts {manifest['chunks']} chunks, "
                                f"the document gives {len(chunks)} ({kinds}): {FIX} --force")
    row_of_vector = _read_id_map(folder, raw["ids.json"], chunks)
    store_file = STORES[manifest["store"]].FILE
    store = STORES[manifest["store"]].from_bytes(raw[store_file], dimension, folder.path(store_file), settings, files[store_file])
    if len(store) != len(chunks) or set(store.ids().tolist()) != set(row_of_vector):
        raise CorruptIndexError(
            f"{store_file}, ids.json and chunks.jsonl in {settings.index_dir} disagree "
            f"({len(store)} vectors, {len(row_of_vector)} ids, {len(chunks)} chunks): {FIX} --force"
        )
    lexical = LexicalIndex.load(folder.check_bm25(set(files)), len(chunks), bm25_raw)
    sentences = _read_sentences(folder.path("sentences.npz"), raw["sentences.npz"], chunks, expected, dimension)
    return IndexData(
        directory=folder.root,
        manifest=manifest,
        evaluation=evaluation,
        source=source,
        chunks=chunks,
        store=store,
        lexical=lexical,
        row_of_vector=row_of_vector,
        sentences=sentences,
    )


_MiB = 1 << 20


def _size_caps(chunks: list[Chunk], sentences: int, dimension: int, store: str) -> dict[str, int]:
    """The most bytes each file of an index of these chunks can take, with a
    wide margin (float64 vectors, an HNSW graph, JSON escapes, zip headers):
    today's files are 2 to 5 times smaller. `bm25/` is per file."""
    longest_id = max(len(c.id) for c in chunks)
    as_json = sum(len(json.dumps(c.to_dict())) for c in chunks)  # ASCII escapes: the longest spelling
    text = sum(len(c.passage) for c in chunks)
    return {
        "chunks.jsonl": 2 * as_json + _MiB,
        "ids.json": len(chunks) * (64 + 6 * longest_id) + _MiB,
        STORES[store].FILE: len(chunks) * (8 * dimension + 4096) + _MiB,
        "sentences.npz": sentences * (8 * dimension + 16 + 4 * longest_id) + _MiB,
        "bm25/": 16 * text + 64 * len(chunks) + _MiB,  # one score per (chunk, token); a token is >= 1 character
    }


def _expected_sentences(chunks: list[Chunk]) -> list[tuple[int, int, int]]:
    """(chunk row, start, end) of every sentence the sentence table must hold."""
    return [(row, s, e) for row, c in enumerate(chunks) if c.kind in QUOTABLE_KINDS for s, e in sentence_spans(c.body)]


# ------------------------------------------------------------------- chunks
_CHUNK_FIELDS = {f.name for f in fields(Chunk)}
_OPTIONAL_INT = ("footnote", "axis", "action")


def _check_chunks(path: Path, raw: bytes, chunks: list[Chunk]) -> None:
    """chunks.jsonl must hold, line by line, the chunks the document gives."""
    lines = [line for line in raw.split(b"\n") if line.strip()]
    for number, line in enumerate(lines, 1):
        try:
            data = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise CorruptIndexError(f"{path} line {number} is not a chunk ({type(err).__name__}): {FIX} --force") from None
        problem = _chunk_problem(data)
        if problem:
            raise CorruptIndexError(f"{path} line {number} is not a chunk ({problem}): {FIX} --force")
        if number <= len(chunks):
            expected = chunks[number - 1].to_dict()
            if data != expected:
                differ = ", ".join(k for k in expected if data[k] != expected[k])
                raise CorruptIndexError(
                    f"{path} line {number} is not the document's chunk {expected['id']} ({differ} differ): {FIX} --force"
                )
    if len(lines) != len(chunks):
        raise CorruptIndexError(f"{path} holds {len(lines)} chunks, the document gives {len(chunks)}: {FIX} --force")


def _chunk_problem(data) -> str | None:
    """The first field of a chunks.jsonl object with a wrong type, or None."""
    if not isinstance(data, dict):
        return "not an object"
    if set(data) != _CHUNK_FIELDS:
        return "fields " + ", ".join(sorted(str(k)[:30] for k in set(data) ^ _CHUNK_FIELDS)[:3])
    for key in ("id", "kind", "header", "body", "title"):
        if not isinstance(data[key], str):
            return key
    span = data["span"]
    if not isinstance(span, dict) or set(span) != {"start", "end"} or not all(_is_int(v) for v in span.values()):
        return "span"
    for key, item_ok in (("measures", _is_int), ("footnotes", _is_int), ("statuses", lambda v: isinstance(v, str))):
        if not isinstance(data[key], list) or not all(item_ok(v) for v in data[key]):
            return key
    for key in _OPTIONAL_INT:
        if data[key] is not None and not _is_int(data[key]):
            return key
    if data["acronym"] is not None and not isinstance(data["acronym"], str):
        return "acronym"
    if not _is_int(data["piece"]) or not _is_int(data["pieces"]):
        return "piece"
    return None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------- ids and sentences
def _read_id_map(folder: IndexFolder, raw: bytes, chunks: list[Chunk]) -> dict[int, int]:
    """ids.json must map each chunk to the vector id derived from its id. It is
    a map, not a list of positions: its order is free, its content is not."""
    path = folder.path("ids.json")
    try:
        pairs = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise CorruptIndexError(f"{path} is not an id map ({type(err).__name__}): {FIX} --force") from None
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and _is_int(p[0]) and isinstance(p[1], str) for p in pairs
    ):
        raise CorruptIndexError(f"{path} is not an id map (a list of [vector id, chunk id]): {FIX} --force")
    expected = [[vector_id(c.id), c.id] for c in chunks]
    given = {(vid, cid) for vid, cid in pairs}
    wanted = {(vid, cid) for vid, cid in expected}
    if len(pairs) != len(given) or given != wanted:
        raise CorruptIndexError(
            f"vectors.faiss, ids.json and chunks.jsonl in {folder.index_dir} disagree "
            f"(ids.json maps {len(pairs)} vectors, {len(given & wanted)} of them to the document's "
            f"{len(chunks)} chunks as built): {FIX} --force"
        )
    return {vid: row for row, (vid, _) in enumerate(expected)}


_NPZ_MEMBERS = {"chunk_ids.npy", "starts.npy", "ends.npy", "vectors.npy"}


def _read_sentences(path: Path, raw: bytes, chunks: list[Chunk], expected: list[tuple[int, int, int]],
                    dimension: int) -> SentenceTable:
    shapes = {"chunk_ids.npy": (len(expected),), "starts.npy": (len(expected),), "ends.npy": (len(expected),),
              "vectors.npy": (len(expected), dimension)}
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
            # np.savez stores, never compresses: a member that expands is not ours (a zip bomb).
            if {m.filename for m in members} != _NPZ_MEMBERS or any(m.file_size > len(raw) for m in members):
                raise CorruptIndexError(f"{path} does not hold the sentence table: {FIX} --force")
            # Every header is checked before numpy reads a member: it allocates what the header says.
            for member in members:
                with archive.open(member) as fp:
                    shape, _ = npy_header(fp, member.file_size, f"{path} (member {member.filename})")
                if shape != shapes[member.filename]:
                    raise CorruptIndexError(f"{path} (member {member.filename}) has shape {str(shape)[:60]}, the "
                                            f"document gives {shapes[member.filename]}: {FIX} --force")
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            chunk_ids, starts, ends, vectors = (npz[k] for k in ("chunk_ids", "starts", "ends", "vectors"))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, RecursionError) as err:
        raise CorruptIndexError(f"{path} is unreadable ({type(err).__name__}): {FIX} --force") from None
    if chunk_ids.dtype.kind != "U" or starts.dtype.kind not in "iu" or ends.dtype.kind not in "iu" or vectors.dtype.kind != "f":
        raise CorruptIndexError(f"{path} has arrays of the wrong types: {FIX} --force")
    if vectors.shape != (len(expected), dimension) or not (chunk_ids.shape == starts.shape == ends.shape == (len(expected),)):
        raise CorruptIndexError(f"{path} has inconsistent shapes: {FIX} --force")
    spans = list(zip(chunk_ids.tolist(), starts.tolist(), ends.tolist()))
    if spans != [(chunks[r].id, s, e) for r, s, e in expected]:
        raise CorruptIndexError(f"{path} has sentence offsets that are not the document's sentences: {FIX} --force")
    vectors = vectors.astype(np.float32)
    if not np.all(np.isfinite(vectors)):
        raise CorruptIndexError(f"{path} has vectors that are not numbers: {FIX} --force")
    rows = np.array([r for r, _, _ in expected], dtype=np.int32)
    return SentenceTable(rows, np.array([s for _, s, _ in expected], dtype=np.int32),
                         np.array([e for _, _, e in expected], dtype=np.int32), vectors)
