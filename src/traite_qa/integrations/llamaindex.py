"""LlamaIndex adapters (`pip install 'traite-qa[llamaindex]'`).

    from traite_qa.integrations.llamaindex import TraiteQARetriever, TraiteQAQueryEngine

    retriever = TraiteQARetriever.load(k=4, status="non-realisee")   # the default index, built if missing
    nodes = retriever.retrieve("mécanisme national de référence")    # list[NodeWithScore]
    nodes[0].node.node_id, nodes[0].node.metadata["measures"], nodes[0].score

    engine = TraiteQAQueryEngine.load()                               # the assistant's own answers
    response = engine.query("Où en est la mesure 16 ?")
    str(response)              # the answer, with its [Mesure 16] markers
    response.source_nodes      # the citations, in marker order
    await retriever.aretrieve("…"); await engine.aquery("…")

A node is a `TextNode` whose id is the chunk id and whose text is the passage
verbatim; its metadata are the LangChain adapter's: {id, kind, title, measures,
status, statuses, axis, action, footnote, acronym, header, score, dense,
lexical, rank, span}, plus {marker, quotes} on a query engine's source nodes.

The query engine needs no LLM: it is a `CustomQueryEngine` over
`Assistant.ask` (LlamaIndex's `RetrieverQueryEngine` would synthesise with
OpenAI by default). `response.metadata` holds the answer's status, answer_id
and the statuses of the measures it states.

As in the LangChain adapter, a bad option (k, a filter) raises at once, and a
well-formed question never aborts a pipeline: an empty one, or one naming what
the document lacks ("mesure 52"), retrieves [] with a warning logged.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from . import hit_metadata, require_extra

require_extra("llama_index.core", "llamaindex")

from llama_index.core.base.response.schema import Response  # noqa: E402
from llama_index.core.query_engine import CustomQueryEngine  # noqa: E402
from llama_index.core.retrievers import BaseRetriever  # noqa: E402
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode  # noqa: E402

from ..answer import Assistant  # noqa: E402
from ..errors import InvalidQuestionError, UnknownReferenceError  # noqa: E402
from ..search import Searcher  # noqa: E402
from ..settings import Settings  # noqa: E402
from ..types import Citation, Hit  # noqa: E402
from ..understand import check_k, check_mode  # noqa: E402

log = logging.getLogger(__name__)

# Shown to an LLM with the text when a node goes into a prompt; the scores and
# offsets are for code, not for the model.
_NOT_FOR_LLM = ["score", "dense", "lexical", "rank", "span", "statuses", "footnote", "acronym", "header", "quotes"]


def to_node(hit: Hit, **extra: Any) -> NodeWithScore:
    node = TextNode(id_=hit.id, text=hit.text, metadata={**hit_metadata(hit), **extra},
                    excluded_llm_metadata_keys=list(_NOT_FOR_LLM), excluded_embed_metadata_keys=list(_NOT_FOR_LLM))
    return NodeWithScore(node=node, score=hit.score)


def citation_node(citation: Citation) -> NodeWithScore:
    return to_node(citation.hit, marker=citation.marker, quotes=list(citation.quotes))


class TraiteQARetriever(BaseRetriever):
    """Hybrid search as a LlamaIndex retriever. `k` and the filters (status,
    axis, action, kind) and `mode` ("hybrid", "dense", "lexical") are checked
    here, so a bad one fails at construction, not at the first query."""

    def __init__(self, searcher: Searcher, k: int = 5, *, status: str | None = None, axis: int | None = None,
                 action: int | None = None, kind: str | None = None, mode: str = "hybrid", **base: Any):
        check_k(k, searcher.settings.max_k)
        check_mode(mode)
        searcher.check_filters(status=status, axis=axis, action=action, kind=kind)
        super().__init__(**base)
        self.searcher = searcher
        self.options = {"k": k, "status": status, "axis": axis, "action": action, "kind": kind, "mode": mode}

    @classmethod
    def load(cls, index_dir: str | Path | None = None, settings: Settings | None = None, **options: Any) -> "TraiteQARetriever":
        """A retriever over the default index (found or built, as `Searcher.load()`) or over `index_dir`."""
        return cls(Searcher.load(index_dir, settings=settings), **options)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        try:
            hits = self.searcher.search(query, **self.options)
        except (InvalidQuestionError, UnknownReferenceError) as err:
            log.warning("traite-qa retriever: no nodes for %r: %s", query[:80], err)
            return []
        return [to_node(hit) for hit in hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        # CPU-bound (one encode): a worker thread keeps the event loop free; the searcher is thread-safe.
        return await asyncio.to_thread(self._retrieve, query_bundle)


class TraiteQAQueryEngine(CustomQueryEngine):
    """The assistant's answers as a LlamaIndex query engine: the response
    text is the answer (with its markers), `source_nodes` are its citations."""

    assistant: Assistant
    status: str | None = None
    axis: int | None = None

    def __init__(self, assistant: Assistant, **fields: Any):
        super().__init__(assistant=assistant, **fields)
        assistant.searcher.check_filters(status=self.status, axis=self.axis)

    @classmethod
    def load(cls, index_dir: str | Path | None = None, settings: Settings | None = None, **fields: Any) -> "TraiteQAQueryEngine":
        """An engine over the default index (found or built, as `Assistant.load()`) or over `index_dir`."""
        return cls(Assistant.load(index_dir, settings=settings), **fields)

    def custom_query(self, query_str: str) -> Response:
        answer = self.assistant.ask(query_str, status=self.status, axis=self.axis)
        return Response(
            response=answer.answer,
            source_nodes=[citation_node(c) for c in answer.citations],
            metadata={"status": answer.status, "answer_id": answer.answer_id, "measures": dict(answer.measures)},
        )

    async def acustom_query(self, query_str: str) -> Response:
        return await asyncio.to_thread(self.custom_query, query_str)
