"""A LangChain retriever over the hybrid search (`pip install 'traite-qa[langchain]'`).

    from traite_qa.integrations.langchain import TraiteQARetriever

    retriever = TraiteQARetriever.load(k=4, status="non-realisee")   # the default index, built if missing
    docs = retriever.invoke("mécanisme national de référence")
    docs[0].page_content, docs[0].metadata["id"], docs[0].metadata["measures"]
    docs = await retriever.ainvoke("…", k=2, axis=2)                 # per-call k and filters
    # as a vector-store retriever is configured:
    retriever = TraiteQARetriever.load(search_kwargs={"k": 2, "filter": {"status": "non-realisee", "axis": 2}})

Each Document carries the passage verbatim (`page_content`) and metadata
{id, kind, title, measures, status, statuses, axis, action, footnote, acronym,
header, score, dense, lexical, rank, span}.

Options are read in this order, the later winning: the retriever's fields,
its `search_kwargs` ({"k", "filter": {"status", "axis", "action", "kind"}}),
then the call's keyword arguments (the same names, or `filter=` / `search_kwargs=`).
A bad option fails loudly: a bad value is `InvalidFilterError` (a ValueError
naming the field), an unknown name or a `search_type` other than "similarity"
is a ValueError naming the allowed ones, at construction and per call.

A well-formed question never aborts a chain: an empty question, or one that
names something the document lacks ("mesure 52"), gives [] and a log record
(logger `traite_qa.integrations.langchain`, level WARNING).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any

from . import hit_metadata, require_extra

require_extra("langchain_core", "langchain")

from langchain_core.callbacks import (  # noqa: E402
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from pydantic import ConfigDict, Field  # noqa: E402

from ..errors import InvalidFilterError, InvalidQuestionError, UnknownReferenceError  # noqa: E402
from ..search import Searcher  # noqa: E402
from ..settings import Settings  # noqa: E402
from ..types import Hit  # noqa: E402
from ..understand import check_k, check_mode  # noqa: E402

log = logging.getLogger(__name__)

FILTERS = ("status", "axis", "action", "kind")
_OPTIONS = ("k", *FILTERS, "mode")
SEARCH_KWARGS = ("k", "filter")
SEARCH_TYPES = ("similarity",)


class UnknownOptionError(InvalidFilterError, TypeError):
    """An option name the retriever does not know. A ValueError (as LangChain's
    vector-store retrievers raise) and a TypeError (as Python does for an
    unexpected keyword argument)."""


class TraiteQARetriever(BaseRetriever):
    """`searcher` is a loaded `traite_qa.Searcher`; the other fields are the
    defaults of every call, each overridable per call (`invoke(q, k=2)`).
    `search_type` and `search_kwargs` follow LangChain's vector-store retrievers
    (`vectorstore.as_retriever(search_kwargs={"k": 2, "filter": {...}})`)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: Searcher
    k: int = 5
    status: str | None = None
    axis: int | None = None
    action: int | None = None
    kind: str | None = None
    mode: str = "hybrid"  # "dense" or "lexical" for one ranking alone
    search_type: str = "similarity"  # the only one: the hybrid ranking has no MMR or threshold variant
    search_kwargs: dict[str, Any] = Field(default_factory=dict)

    def __init__(self, **fields: Any):
        super().__init__(**fields)
        # A bad default fails here, as InvalidFilterError (pydantic would wrap
        # it from a validator), not at the first query.
        if self.search_type not in SEARCH_TYPES:
            raise InvalidFilterError(
                f"search_type={self.search_type!r} is not supported: use {' or '.join(map(repr, SEARCH_TYPES))} "
                "(the hybrid ranking has no MMR or score-threshold variant)", "search_type")
        self._options({})

    @classmethod
    def load(cls, index_dir: str | Path | None = None, settings: Settings | None = None, **fields) -> "TraiteQARetriever":
        """A retriever over the default index (found or built, as `Searcher.load()`) or over `index_dir`."""
        return cls(searcher=Searcher.load(index_dir, settings=settings), **fields)

    def _options(self, overrides: dict) -> dict:
        overrides = dict(overrides)
        options = {name: getattr(self, name) for name in _OPTIONS}
        options.update(_flatten(self.search_kwargs, "search_kwargs"))
        if "search_kwargs" in overrides:
            options.update(_flatten(overrides.pop("search_kwargs"), "search_kwargs"))
        if "filter" in overrides:
            options.update(_filters(overrides.pop("filter"), "filter"))
        unknown = sorted(set(overrides) - set(_OPTIONS))
        if unknown:
            raise UnknownOptionError(
                f"unknown option(s) {unknown}: use {', '.join(_OPTIONS)}, filter or search_kwargs", unknown[0])
        options.update(overrides)
        check_k(options["k"], self.searcher.settings.max_k)
        check_mode(options["mode"])
        self.searcher.check_filters(**{name: options[name] for name in FILTERS})
        return options

    def _search(self, query: str, overrides: dict) -> list[Document]:
        options = self._options(overrides)  # a bad option raises: that is the caller's code, not the question
        try:
            hits = self.searcher.search(query, **options)
        except (InvalidQuestionError, UnknownReferenceError) as err:
            log.warning("traite-qa retriever: no documents for %r: %s", query[:80] if isinstance(query, str) else query, err)
            return []
        return [to_document(hit) for hit in hits]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return self._search(query, kwargs)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # The search is CPU-bound (one encode, ~25 ms): a worker thread keeps
        # the event loop free; the searcher is thread-safe.
        return await asyncio.to_thread(functools.partial(self._search, query, kwargs))


def _flatten(search_kwargs: Any, where: str) -> dict:
    """{"k": 2, "filter": {"axis": 3}} -> {"k": 2, "axis": 3}; unknown names raise."""
    if not isinstance(search_kwargs, dict):
        raise InvalidFilterError(f"{where} must be a dict with {' and/or '.join(SEARCH_KWARGS)}, "
                                 f"not {type(search_kwargs).__name__}", where)
    unknown = sorted(set(search_kwargs) - set(SEARCH_KWARGS))
    if unknown:
        raise UnknownOptionError(f"unknown {where} field(s) {unknown}: use {', '.join(SEARCH_KWARGS)} "
                                 f"(filter keys: {', '.join(FILTERS)})", where)
    options = _filters(search_kwargs["filter"], f"{where}['filter']") if "filter" in search_kwargs else {}
    if "k" in search_kwargs:
        options["k"] = search_kwargs["k"]
    return options


def _filters(filter: Any, where: str) -> dict:
    if filter is None:
        return {}
    if not isinstance(filter, dict):
        raise InvalidFilterError(f"{where} must be a dict with keys among {', '.join(FILTERS)}, "
                                 f"not {type(filter).__name__}", where)
    unknown = sorted(set(filter) - set(FILTERS))
    if unknown:
        raise UnknownOptionError(f"unknown {where} key(s) {unknown}: use {', '.join(FILTERS)}", where)
    return dict(filter)


def to_document(hit: Hit) -> Document:
    return Document(
        page_content=hit.text,
        id=hit.id,
        metadata=hit_metadata(hit),
    )
