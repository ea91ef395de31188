"""The LlamaIndex adapters with llama-index-core: the retriever's NodeWithScore
(ids, text, metadata, scores, filters), sync and async, inside LlamaIndex's
own RetrieverQueryEngine (with its MockLLM), and the query engine whose
response is the assistant's answer and whose source nodes are its citations.
Slow: the session's real index."""

from __future__ import annotations

import asyncio

import pytest

import aio
from traite_qa import InvalidFilterError

pytest.importorskip("llama_index.core")  # the [llamaindex] extra, installed by `make setup`
from llama_index.core.schema import NodeWithScore, TextNode  # noqa: E402

from traite_qa.integrations.llamaindex import TraiteQAQueryEngine, TraiteQARetriever  # noqa: E402

pytestmark = pytest.mark.slow

METADATA = {"id", "kind", "title", "measures", "status", "statuses", "axis", "action", "footnote", "acronym", "header",
            "score", "dense", "lexical", "rank", "span"}
QUERY = "mécanisme national de référence"
QUESTION = "Où en est la mesure 16 ?"


@pytest.fixture(scope="module")
def retriever(searcher):
    return TraiteQARetriever(searcher, k=4)


@pytest.fixture(scope="module")
def engine(assistant):
    return TraiteQAQueryEngine(assistant)


def test_retrieve_returns_the_searchers_hits_as_nodes(retriever, searcher):
    nodes = retriever.retrieve(QUERY)
    hits = searcher.search(QUERY, k=4)
    assert all(isinstance(n, NodeWithScore) and isinstance(n.node, TextNode) for n in nodes)
    assert [n.node.node_id for n in nodes] == [h.id for h in hits]
    assert [n.node.get_content() for n in nodes] == [h.text for h in hits]
    assert [n.score for n in nodes] == [h.score for h in hits]
    meta = nodes[0].node.metadata
    assert set(meta) == METADATA
    hit = hits[0]
    assert (meta["title"], meta["measures"], meta["status"], meta["axis"]) == (hit.title, list(hit.measures), hit.status, hit.axis)
    assert (meta["dense"], meta["lexical"], meta["statuses"]) == (hit.dense, hit.lexical, list(hit.statuses))
    # What an LLM prompt shows of a node: the passage and its labels, not the scores.
    shown = nodes[0].node.get_content(metadata_mode="llm")
    assert hit.text in shown and f"title: {hit.title}" in shown and "dense:" not in shown


def test_filters_apply_and_bad_ones_fail_at_construction(searcher):
    nodes = TraiteQARetriever(searcher, k=3, status="non-realisee", axis=2).retrieve("hébergement des victimes")
    assert nodes and all("Non réalisée" in n.node.metadata["statuses"] and n.node.metadata["axis"] == 2 for n in nodes)
    with pytest.raises(InvalidFilterError, match="axis"):
        TraiteQARetriever(searcher, axis=9)
    with pytest.raises(InvalidFilterError):
        TraiteQARetriever(searcher, k=0)


def test_a_well_formed_question_never_raises(retriever, caplog):
    assert retriever.retrieve("Où en est la mesure 52 ?") == []
    assert retriever.retrieve("   ") == []
    assert "mesure 52" in caplog.text


def test_async_retrieve_matches_sync(retriever):
    nodes = aio.run(retriever.aretrieve(QUERY))
    assert [n.node.node_id for n in nodes] == [n.node.node_id for n in retriever.retrieve(QUERY)]


def test_the_retriever_composes_with_llamaindex_query_engine(retriever):
    from llama_index.core.llms.mock import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine

    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
    response = engine.query(QUERY)
    assert [n.node.node_id for n in response.source_nodes] == [n.node.node_id for n in retriever.retrieve(QUERY)]


def test_query_engine_answers_with_citations_as_source_nodes(engine, assistant):
    response = engine.query(QUESTION)
    answer = assistant.ask(QUESTION)
    assert str(response) == answer.answer and "[Mesure 16]" in str(response)
    assert [n.node.node_id for n in response.source_nodes] == [c.id for c in answer.citations]
    for node, citation in zip(response.source_nodes, answer.citations):
        assert node.node.metadata["marker"] == citation.marker and f"[{citation.marker}]" in str(response)
        assert node.node.metadata["quotes"] == list(citation.quotes) and node.node.get_content() == citation.hit.text
    assert response.metadata == {"status": "answered", "answer_id": answer.answer_id, "measures": {16: "Non réalisée"}}


def test_query_engine_async_and_no_answer(engine):
    async def both():
        return await asyncio.gather(engine.aquery(QUESTION), engine.aquery("Où en est la mesure 52 ?"))

    found, missing = aio.run(both())
    assert str(found) == str(engine.query(QUESTION))
    assert missing.source_nodes == [] and missing.metadata["status"] != "answered" and "45" in str(missing)


def test_query_engine_filters_are_checked(assistant):
    with pytest.raises(InvalidFilterError, match="status"):
        TraiteQAQueryEngine(assistant, status="bof")
    engine = TraiteQAQueryEngine(assistant, status="realisee")
    response = engine.query("hébergement des victimes")
    assert all("Réalisée" in n.node.metadata["statuses"] for n in response.source_nodes)
