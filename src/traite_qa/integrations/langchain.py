"""A LangChain retriever over the hybrid search (`pip install 'traite-qa[langchain]'`).

    from traite_qa.integrations.langchain import TraiteQARetriever

    retriever = TraiteQARetriever.load(k=4, status="non-realisee")   # the default index, built if missing
    docs = retriever.invoke("mécanisme national de référence")
    docs[0].page_content, docs[0].metadata["id"], docs[0].metadata["measures"]
    docs = await retriever.ainvoke("…", k=2, axis=2)                 # per-call k and filters

Each Document carries the passage verbatim (`page_content`) and metadata
{id, kind, measures, status, axis, action, footnote, acronym, header, score,
rank, span}. Bad filters raise `InvalidFilterError` (at construction and per call).
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

from . import require_extra

require_extra("langchain_core", "langchain")

from langchain_core.callbacks import (  # noqa: E402
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from pydantic import ConfigDict  # noqa: E402

from ..search import Searcher  # noqa: E402
from ..settings import Settings  # noqa: E402
from ..types import Hit  # noqa: E402
from ..understand import check_k, check_mode  # noqa: E402

_OPTIONS = ("k", "status", "axis", "action", "kind", "mode")


class TraiteQARetriever(BaseRetriever):
    """`searcher` is a loaded `traite_qa.Searcher`; the other fields are the
    defaults of every call, each overridable per call (`invoke(q, k=2)`)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: Searcher
    k: int = 5
    status: str | None = None
    axis: int | None = None
    action: int | None = None
    kind: str | None = None
    mode: str = "hybrid"  # "dense" or "lexical" for one ranking alone

    def __init__(self, **fields: Any):
        super().__init__(**fields)
        # A bad default fails here, as InvalidFilterError (pydantic would wrap
        # it from a validator), not at the first query.
        self._options({})

    @classmethod
    def load(cls, index_dir: str | Path | None = None, settings: Settings | None = None, **fields) -> "TraiteQARetriever":
        """A retriever over the default index (found or built, as `Searcher.load()`) or over `index_dir`."""
        return cls(searcher=Searcher.load(index_dir, settings=settings), **fields)

    def _options(self, overrides: dict) -> dict:
        unknown = set(overrides) - set(_OPTIONS)
        if unknown:
            raise TypeError(f"unknown option(s) {sorted(unknown)}: use {', '.join(_OPTIONS)}")
        options = {name: overrides.get(name, getattr(self, name)) for name in _OPTIONS}
        check_k(options["k"], self.searcher.settings.max_k)
        check_mode(options["mode"])
        self.searcher.check_filters(status=options["status"], axis=options["axis"], action=options["action"],
                                    kind=options["kind"])
        return options

    def _search(self, query: str, overrides: dict) -> list[Document]:
        return [to_document(hit) for hit in self.searcher.search(query, **self._options(overrides))]

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


def to_document(hit: Hit) -> Document:
    return Document(
        page_content=hit.text,
        id=hit.id,
        metadata={
            "id": hit.id,
            "kind": hit.kind,
            "measures": list(hit.measures),
            "status": hit.status,
            "axis": hit.axis,
            "action": hit.action,
            "footnote": hit.footnote,
            "acronym": hit.acronym,
            "header": hit.header,
            "score": hit.score,
            "rank": hit.rank,
            "span": {"start": hit.span[0], "end": hit.span[1]},
        },
    )
