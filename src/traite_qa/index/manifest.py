"""manifest.json: read, every field type-checked, then compared with the settings.

A manifest is data from disk, maybe from another machine or a damaged copy:
nothing in it is used before its type and range are checked, and every
problem is a domain error naming `traite-qa build` (never a KeyError, a
TypeError from hashing a dict, or a RecursionError from deep nesting).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import CorruptIndexError, IndexMissingError, StaleIndexError
from ..settings import Settings
from ..types import KINDS
from .chunker import CHUNKER_VERSION, MAX_WHOLE_CHARS
from .files import FILE_NAME_RE, FIX, IndexFolder
from .store import STORES

FORMAT = 2  # 2: the manifest names its vector store
FILES = ("chunks.jsonl", "ids.json", "vectors.faiss", "sentences.npz")  # with a FAISS store


def index_files(store: str) -> tuple[str, ...]:
    """The data files of an index whose vectors live in `store` (vectors.npz for Qdrant)."""
    return ("chunks.jsonl", "ids.json", STORES[store].FILE, "sentences.npz")


MAX_DIMENSION = 65_536
MAX_CHUNKS = 10_000_000
MAX_FILES = len(FILES) + 16  # the data files and bm25/'s

_SHA256 = re.compile(r"[0-9a-f]{64}")
_KEYS = {"format", "package_version", "created_at", "model", "store", "chunker", "source", "chunks", "kinds", "files"}


def chunker_settings(settings: Settings) -> dict:
    return {
        "version": CHUNKER_VERSION,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "max_whole_chars": MAX_WHOLE_CHARS,
    }


def read_manifest(index_dir: Path, folder: IndexFolder | None = None) -> dict:
    folder = folder or IndexFolder(index_dir)
    raw = folder.read("manifest.json", missing=IndexMissingError)
    path = folder.path("manifest.json")
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:  # RecursionError: [[[[…]]]] nested too deep
        raise CorruptIndexError(f"{path} is unreadable ({type(err).__name__}): {FIX} --force") from None
    if not isinstance(manifest, dict) or "format" not in manifest:
        raise CorruptIndexError(f"{path} is unreadable (not an index manifest): {FIX} --force")
    if not _is_int(manifest["format"]):
        raise CorruptIndexError(f"{path} is unreadable (format is missing or malformed): {FIX} --force")
    if manifest["format"] != FORMAT:
        raise StaleIndexError(f"index format {manifest['format']} at {index_dir}, this version reads {FORMAT}: {FIX}")
    problem = manifest_problem(manifest)
    if problem:
        raise CorruptIndexError(f"{path} is unreadable ({problem} is missing or malformed): {FIX} --force")
    return manifest


def manifest_problem(manifest: dict) -> str | None:
    """The first field that is missing or of the wrong type or range, or None."""
    unexpected = sorted(str(k)[:40] for k in set(manifest) - _KEYS)
    if unexpected:
        return f"an unexpected key ({unexpected[0]!r})"
    for key in ("package_version", "created_at"):
        if not _is_str(manifest.get(key), 64):
            return key
    model = manifest.get("model")
    if not isinstance(model, dict) or set(model) - {"encoders"} != {"id", "fingerprint", "dimension"}:
        return "model"
    if "encoders" in model and not _encoders_ok(model["encoders"]):
        return "model.encoders"
    if not _is_str(model["id"], 1000) or not model["id"]:
        return "model.id"
    if not _is_str(model["fingerprint"], 200):
        return "model.fingerprint"
    if not _is_int(model["dimension"]) or not 0 < model["dimension"] <= MAX_DIMENSION:
        return "model.dimension"
    if not isinstance(manifest.get("store"), str) or manifest["store"] not in STORES:
        return "store"
    chunker = manifest.get("chunker")
    if not isinstance(chunker, dict) or len(chunker) > 16 or not all(
        isinstance(k, str) and len(k) <= 64 and _is_int(v) for k, v in chunker.items()
    ):
        return "chunker"
    source = manifest.get("source")
    if not isinstance(source, dict) or set(source) != {"name", "sha256"} or not _is_str(source["name"], 255):
        return "source"
    if not isinstance(source["sha256"], str) or not _SHA256.fullmatch(source["sha256"]):
        return "source.sha256"
    if not _is_int(manifest.get("chunks")) or not 0 < manifest["chunks"] <= MAX_CHUNKS:
        return "chunks"
    kinds = manifest.get("kinds")
    if not isinstance(kinds, dict) or not all(k in KINDS and _is_int(v) and v >= 0 for k, v in kinds.items()):
        return "kinds"
    files = manifest.get("files")
    if not isinstance(files, dict) or len(files) > MAX_FILES:
        return "files"
    for name, digest in files.items():
        if not isinstance(name, str) or not FILE_NAME_RE.fullmatch(name):
            return f"files ({str(name)[:60]!r} is not a file an index has)"
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            return f"files.{name}"
    missing = [name for name in index_files(manifest["store"]) if name not in files]
    if missing:
        return f"files.{missing[0]}"
    if not any(name.startswith("bm25/") for name in files):
        return "files.bm25"
    return None


def _encoders_ok(encoders) -> bool:
    """{"passages": {"encoder", "fingerprint"}, "queries": {...}}: which engine made which vectors."""
    return isinstance(encoders, dict) and set(encoders) == {"passages", "queries"} and all(
        isinstance(e, dict) and set(e) == {"encoder", "fingerprint"} and _is_str(e["encoder"], 64) and _is_str(e["fingerprint"], 200)
        for e in encoders.values()
    )


def _encoder_change(built: dict | None, now: dict | None) -> str | None:
    """'index built with query encoder X, settings say Y (TRAITE_QA_QUERY_ENCODER)', when that is the change."""
    if not built or not now:
        return None
    for role, variable in (("passages", "PASSAGE_ENCODER"), ("queries", "QUERY_ENCODER")):
        was, wanted = built[role]["encoder"], now[role]["encoder"]
        if was != wanted:
            noun = "passage" if role == "passages" else "query"
            return f"index built with {noun} encoder {was!r}, settings say {wanted!r} (TRAITE_QA_{variable}, TRAITE_QA_QUANTIZE)"
    return None


def check_manifest(manifest: dict, settings: Settings, source_sha: str, fingerprint: str | None = None,
                   encoders: dict | None = None) -> None:
    """Raise StaleIndexError naming the first mismatch with the settings, source or model
    (`encoders`: the embedder's `describe()`, to name the engine that changed)."""
    built = manifest["model"]["id"]
    if built != settings.model:
        raise StaleIndexError(f"index built with model {built[:200]!r}, settings say {settings.model!r}: {FIX}")
    if fingerprint is not None and manifest["model"]["fingerprint"] != fingerprint:
        changed = _encoder_change(manifest["model"].get("encoders"), encoders)
        if changed:
            raise StaleIndexError(f"{changed}: {FIX}")
        raise StaleIndexError(
            f"model {settings.model!r} changed since the build (fingerprint {manifest['model']['fingerprint'][:64]} "
            f"-> {fingerprint}): {FIX}"
        )
    if manifest["source"]["sha256"] != source_sha:
        raise StaleIndexError(f"the source document {settings.source.name} changed since the build: {FIX}")
    if manifest["store"] != settings.vector_store:
        raise StaleIndexError(f"index built with vector store {manifest['store']!r}, settings say {settings.vector_store!r}: {FIX}")
    wanted = chunker_settings(settings)
    if manifest["chunker"] != wanted:
        raise StaleIndexError(f"index built with chunker {manifest['chunker']}, settings say {wanted}: {FIX}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str(value, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit
