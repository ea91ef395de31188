"""`TraiteQARetriever` (issue 13): Documents with the hit's text and metadata,
k and filters set on the retriever or per call, sync and async, inside an LCEL
chain with a fake chat model from langchain-core. Slow: the session's real index."""

from __future__ import annotations

import asyncio
import sys

import pytest

import aio
from traite_qa import InvalidFilterError, MissingExtraError

pytestmark = pytest.mark.slow

METADATA = {"id", "kind", "measures", "status", "axis", "action", "footnote", "acronym", "header", "score", "rank", "span"}


@pytest.fixture(scope="module")
def retriever(searcher):
    from traite_qa.integrations.langchain import TraiteQARetriever

    return TraiteQARetriever(searcher=searcher, k=4)


def test_invoke_returns_the_searchers_hits_as_documents(retriever, searcher, source):
    query = "mécanisme national de référence"
    docs = retriever.invoke(query)
    hits = searcher.search(query, k=4)
    assert [d.metadata["id"] for d in docs] == [h.id for h in hits]
    for doc, hit in zip(docs, hits):
        assert set(doc.metadata) == METADATA
        assert doc.page_content == hit.text == source[hit.span[0] : hit.span[1]]
        span = doc.metadata["span"]
        assert source[span["start"] : span["end"]] == doc.page_content
        assert (doc.metadata["measures"], doc.metadata["rank"], doc.metadata["score"]) == (list(hit.measures), hit.rank, hit.score)
    assert docs[0].metadata["measures"] == [16] and docs[0].metadata["status"] == "Non réalisée"


@pytest.mark.parametrize("options, check", [
    ({"k": 2}, lambda docs, s: len(docs) == 2),
    ({"status": "non-realisee"}, lambda docs, s: all("Non réalisée" in s.chunk(d.metadata["id"]).statuses for d in docs)),
    ({"kind": "footnote"}, lambda docs, s: all(d.metadata["kind"] == "footnote" for d in docs)),
    ({"axis": 3, "kind": "measure"}, lambda docs, s: all(d.metadata["axis"] == 3 for d in docs)),
    ({"mode": "dense"}, lambda docs, s: [d.metadata["score"] for d in docs] == sorted((d.metadata["score"] for d in docs), reverse=True)),
])
def test_k_and_filters_per_call(retriever, searcher, options, check):
    docs = retriever.invoke("hébergement des victimes", **options)
    assert docs and check(docs, searcher), [d.metadata for d in docs]
    assert len(retriever.invoke("hébergement des victimes")) == 4  # the retriever's own k is unchanged


def test_filters_set_on_the_retriever(searcher):
    from traite_qa.integrations.langchain import TraiteQARetriever

    retriever = TraiteQARetriever(searcher=searcher, k=3, kind="acronym")
    docs = retriever.invoke("office central pour la répression de la traite")
    assert len(docs) == 3 and {d.metadata["kind"] for d in docs} == {"acronym"}


def test_bad_options_are_refused_naming_the_field(retriever, searcher):
    from traite_qa.integrations.langchain import TraiteQARetriever

    with pytest.raises(InvalidFilterError) as caught:
        TraiteQARetriever(searcher=searcher, status="fini")
    assert caught.value.field == "status"
    with pytest.raises(InvalidFilterError, match="k=0"):
        TraiteQARetriever(searcher=searcher, k=0)
    with pytest.raises(InvalidFilterError) as caught:
        retriever.invoke("mesure 16", axis=9)
    assert caught.value.field == "axis"
    with pytest.raises(InvalidFilterError) as caught:
        retriever.invoke("mesure 16", mode="semantic")
    assert caught.value.field == "mode"
    with pytest.raises(TypeError, match="colour"):
        retriever.invoke("mesure 16", colour="red")


def test_ainvoke_matches_invoke_and_runs_concurrently(retriever):
    queries = ["mesure 16", "Que signifie OCRTEH ?", "hébergement des victimes"]

    async def run():
        return await asyncio.gather(*(retriever.ainvoke(q, k=3) for q in queries))

    results = aio.run(run())
    for query, docs in zip(queries, results):
        assert [d.metadata["id"] for d in docs] == [d.metadata["id"] for d in retriever.invoke(query, k=3)]
    assert results[0][0].metadata["measures"] == [16]


def test_inside_an_lcel_chain_with_a_fake_chat_model(retriever, searcher):
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough

    class Prompts(BaseCallbackHandler):
        def __init__(self):
            self.seen: list[str] = []

        def on_chat_model_start(self, serialized, messages, **kwargs):
            self.seen.extend(m.content for batch in messages for m in batch)

    def context(docs):
        return "\n\n".join(f"[{d.metadata['id']}] {d.page_content}" for d in docs)

    prompt = ChatPromptTemplate.from_template("Contexte :\n{context}\n\nQuestion : {question}")
    llm = FakeListChatModel(responses=["La mesure 16 est Non réalisée [mesure-16#1]."])
    chain = {"context": retriever | context, "question": RunnablePassthrough()} | prompt | llm | StrOutputParser()
    spy = Prompts()
    question = "Où en est la mesure 16 ?"
    assert chain.invoke(question, config={"callbacks": [spy]}) == "La mesure 16 est Non réalisée [mesure-16#1]."
    (sent,) = spy.seen
    top = searcher.search(question, k=4)
    assert f"[{top[0].id}] {top[0].text}" in sent and sent.endswith(f"Question : {question}")
    assert aio.run(chain.ainvoke(question)) == "La mesure 16 est Non réalisée [mesure-16#1]."


def test_without_the_extra_the_import_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "langchain_core", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "traite_qa.integrations.langchain", raising=False)
    with pytest.raises(MissingExtraError, match=r"pip install 'traite-qa\[langchain\]'"):
        import traite_qa.integrations.langchain  # noqa: F401
