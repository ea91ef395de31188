"""Build the index: a new immutable version folder, swapped in atomically.

A build writes a new version folder and swaps the symlink with one atomic
rename, so a build killed at any point leaves the previous index loadable.
Embeddings are cached by (model fingerprint, passage sha256), so a rebuild
with unchanged chunks embeds nothing.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import sys
import time
import uuid
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from .. import __version__
from ..document import parse
from ..errors import (
    CorruptIndexError,
    IndexMissingError,
    StaleIndexError,
    TraiteQAError,
)
from ..settings import Settings
from ..text import sentence_spans
from ..types import QUOTABLE_KINDS, Chunk
from .chunker import chunk_evaluation
from .embedder import BaseEmbedder, make_embedder
from .lexical import LexicalIndex
from .load import (
    FORMAT,
    IndexData,
    chunker_settings,
    index_files,
    index_problem,
    load_index,
    read_source,
    sha256_bytes,
    sha256_file,
)
from .store import new_store, vector_id


def load_or_build(settings: Settings, embedder: BaseEmbedder, progress: bool = False) -> IndexData:
    """Load the index; build it first when it is missing, stale or damaged.

    One load when the index is fine (the check *is* the load)."""
    try:
        return load_index(settings, embedder)
    except (IndexMissingError, StaleIndexError, CorruptIndexError) as err:
        if progress:
            print(f"traite-qa: building the index ({str(err).split(': run')[0]})", file=sys.stderr, flush=True)
    build_index(settings, force=True, progress=progress, embedder=embedder, unless_built_meanwhile=True)
    return load_index(settings, embedder)


# --------------------------------------------------------------------- build
def ensure_index(settings: Settings, progress: bool = False, embedder: BaseEmbedder | None = None) -> dict:
    """Build the index when it is missing, stale or damaged; otherwise do nothing."""
    problem = index_problem(settings, embedder)
    if problem is None:
        return {"index_dir": str(settings.index_dir), "skipped": True, "reason": "up to date"}
    if progress:
        print(f"traite-qa: building the index ({problem.split(': run')[0]})", flush=True)
    return build_index(settings, force=True, progress=progress, embedder=embedder, unless_built_meanwhile=True)


def build_index(
    settings: Settings, force: bool = False, progress: bool = False, embedder: BaseEmbedder | None = None,
    unless_built_meanwhile: bool = False, on_progress: OnProgress | None = None,
) -> dict:
    """Build a new version of the index and swap it in.

    Builds are serialized per index (a file lock); with `unless_built_meanwhile`,
    a build that waited for another process's finds the index good and stops
    there (several servers starting on one missing index build it once).
    `on_progress(stage, done, total)` is called as the build goes: "parse",
    "chunk", "embed" (texts embedded so far, per slice), "write" (for a client
    to show, e.g. MCP progress notifications); it must not raise."""
    started = time.perf_counter()
    report_progress = on_progress or _no_progress
    source, source_sha = read_source(settings)  # a bad --source fails here, before the model is touched
    embedder = embedder or make_embedder(settings)
    evaluation = parse(source)  # a malformed document stops here, before any write
    report_progress("parse", 1, 1)
    chunks = chunk_evaluation(evaluation, source, settings.chunk_size, settings.chunk_overlap)
    report_progress("chunk", 1, 1)
    report = {
        "index_dir": str(settings.index_dir),
        "model": settings.model,
        "chunks": len(chunks),
        "embedded": 0,
        "cached": 0,
    }
    if not force:
        problem = index_problem(settings, embedder)
        if problem is None:
            return {**report, "skipped": True, "seconds": time.perf_counter() - started}
        # `build` without --force repairs a damaged or forged index: say why in one line.
        report["reason"] = problem.split(": run")[0]
        if progress:
            print(f"traite-qa: building the index ({report['reason']})", file=sys.stderr, flush=True)

    versions = settings.index_dir.parent / f".{settings.index_dir.name}.versions"
    versions.mkdir(parents=True, exist_ok=True)
    with open(versions / ".lock", "w") as lock:
        waited = not _try_lock(lock)
        if waited:
            if progress:
                print("traite-qa: another process is building this index; waiting for it", file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time per index
        # Checked again under the lock: another process may have built the
        # index while this one waited, or built it and released the lock
        # between this one's failed load and here (on a slower CPU, three
        # servers starting on a missing index built it twice: tests/test_processes.py).
        if (unless_built_meanwhile or waited and not force) and index_problem(settings, embedder) is None:
            return {**report, "skipped": True, "reason": "built by another process", "seconds": time.perf_counter() - started}
        _remove_leftovers(versions)
        tmp = versions / f"tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        vectors, sentences, embedded, cached = _embed(chunks, embedder, settings, progress, report_progress)
        report_progress("write", 0, 1)
        manifest = _write_version(tmp, chunks, vectors, sentences, embedder, settings, source_sha)
        vectors_sha = manifest["files"][index_files(settings.vector_store)[2]]
        final = versions / f"{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}-{vectors_sha[:8]}"
        if final.exists():  # two builds in one second: never replace a folder a process may be reading
            final = final.with_name(f"{final.name}-{uuid.uuid4().hex[:6]}")
        os.rename(tmp, final)
        _swap(settings.index_dir, final)
        # A process reading the version just replaced notices (its folder is
        # gone and the link has moved) and reads the new one: see load_index.
        _remove_leftovers(versions, keep=final)
    report_progress("write", 1, 1)
    return {**report, "skipped": False, "embedded": embedded, "cached": cached, "seconds": time.perf_counter() - started,
            "dimension": manifest["model"]["dimension"]}


def _embed(chunks: list[Chunk], embedder: BaseEmbedder, settings: Settings, progress: bool, on_progress: OnProgress):
    """Embed chunk passages and their sentences, reusing cached vectors."""
    # Only passages the answerer quotes from get sentence vectors (not glossary
    # lines or table rows): a fifth fewer texts to embed on a first build.
    sentences = [(c.id, start, end) for c in chunks if c.kind in QUOTABLE_KINDS for start, end in sentence_spans(c.body)]
    by_id = {c.id: c for c in chunks}
    texts = [c.passage for c in chunks] + [by_id[cid].body[s:e] for cid, s, e in sentences]
    cache = EmbeddingCache(settings.embedding_cache, embedder.passage_fingerprint)
    keys = [sha256_bytes(t.encode()) for t in texts]
    missing = list(dict.fromkeys(key for key in keys if key not in cache))
    if progress:
        passages = len({key for key in keys[: len(chunks)] if key not in cache})
        print(f"traite-qa: {len(chunks)} chunks, {len(sentences)} sentences: {len(set(keys)) - len(missing)} vectors "
              f"from the embedding cache, {len(missing)} to embed ({passages} chunk passages, "
              f"{len(missing) - passages} sentences) with {settings.model}", file=sys.stderr, flush=True)
    if missing:
        text_of = dict(zip(keys, texts))
        new = _encode(embedder, [text_of[key] for key in missing], settings.batch_size, progress, on_progress)
        cache.update(dict(zip(missing, new)))
        cache.save()
    vectors = np.vstack([cache[key] for key in keys]).astype(np.float32)
    return vectors[: len(chunks)], (sentences, vectors[len(chunks) :]), len(missing), len(set(keys)) - len(missing)


def _encode(embedder: BaseEmbedder, texts: list[str], batch_size: int, progress: bool,
            on_progress: OnProgress = None) -> np.ndarray:
    """Embed passages; with `progress`, in slices behind a tqdm bar on stderr
    (how many, how fast, the ETA): a first build takes about half a minute.
    `on_progress` gets ("embed", done, total) after each slice."""
    if not progress and on_progress in (None, _no_progress):
        return embedder.embed_documents(texts)
    if not progress:
        tqdm = _NoBar
    else:
        from tqdm import tqdm

    # Longest first, as sentence-transformers does within a call: slices of
    # similar lengths waste less padding.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.empty((len(texts), embedder.dimension), dtype=np.float32)
    step = batch_size * 4
    with tqdm(total=len(texts), desc="traite-qa: embedding", unit="text", file=sys.stderr, dynamic_ncols=True) as bar:
        for start in range(0, len(order), step):
            rows = order[start : start + step]
            out[rows] = embedder.embed_documents([texts[i] for i in rows])
            bar.update(len(rows))
            if on_progress is not None:
                on_progress("embed", start + len(rows), len(texts))
    return out


OnProgress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


class _NoBar:
    """tqdm's interface, showing nothing (progress goes to `on_progress` only)."""

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass


def _write_version(tmp: Path, chunks, vectors, sentences, embedder: BaseEmbedder, settings: Settings, source_sha: str) -> dict:
    with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
        for chunk in chunks:
            f.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
    ids = [vector_id(c.id) for c in chunks]
    if len(set(ids)) != len(ids):  # pragma: no cover - 63-bit hashes of ~200 ids
        raise TraiteQAError("two chunk ids hash to the same vector id")
    (tmp / "ids.json").write_text(json.dumps([[vid, c.id] for vid, c in zip(ids, chunks)]), encoding="utf-8")
    store = new_store(settings.vector_store, vectors.shape[1], settings)
    store.add(np.asarray(ids, dtype=np.int64), vectors)
    store.save(tmp / store.FILE)
    LexicalIndex.build([c.passage for c in chunks]).save(tmp / "bm25")
    spans, sentence_vectors = sentences
    np.savez(
        tmp / "sentences.npz",
        chunk_ids=np.array([cid for cid, _, _ in spans]),
        starts=np.array([s for _, s, _ in spans], dtype=np.int32),
        ends=np.array([e for _, _, e in spans], dtype=np.int32),
        vectors=sentence_vectors.astype(np.float32),
    )
    files = {name: sha256_file(tmp / name) for name in index_files(settings.vector_store)}
    files.update({f"bm25/{p.name}": sha256_file(p) for p in sorted((tmp / "bm25").iterdir())})
    manifest = {
        "format": FORMAT,
        "package_version": __version__,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        # `fingerprint` names the passage engine and, when another one encodes
        # the questions, that one too; `encoders` says which is which.
        "model": {"id": settings.model, "fingerprint": embedder.fingerprint, "dimension": int(vectors.shape[1]),
                  "encoders": embedder.describe()},
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


def _try_lock(lock) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


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
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:  # a damaged index moved aside by _swap may be a file, a FIFO, a link
            path.unlink(missing_ok=True)
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
