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

METADATA = {"id", "kind", "title", "measures", "status", "statuses", "axis", "action", "footnote", "acronym", "header",
            "score", "dense", "lexical", "rank", "span"}


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
        assert (doc.metadata["title"], doc.metadata["statuses"]) == (hit.title, list(hit.statuses))
        assert (doc.metadata["dense"], doc.metadata["lexical"]) == (hit.dense, hit.lexical)
    assert docs[0].metadata["measures"] == [16] and docs[0].metadata["status"] == "Non réalisée"
    assert docs[0].metadata["title"] and docs[0].metadata["statuses"] == ["Non réalisée"]
    assert 0 < docs[0].metadata["dense"] <= 1 and docs[0].metadata["lexical"] > 0


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


def test_search_kwargs_as_vector_store_retrievers_take_them(searcher):
    from traite_qa.integrations.langchain import TraiteQARetriever

    query = "hébergement des victimes"
    retriever = TraiteQARetriever(searcher=searcher, search_kwargs={"k": 2, "filter": {"kind": "measure", "axis": 3}})
    docs = retriever.invoke(query)
    assert [d.metadata["id"] for d in docs] == [h.id for h in searcher.search(query, k=2, kind="measure", axis=3)]
    assert len(docs) == 2 and {(d.metadata["kind"], d.metadata["axis"]) for d in docs} == {("measure", 3)}
    # per call, as VectorStoreRetriever merges them: k and filter, or a whole search_kwargs
    docs = retriever.invoke(query, k=3, filter={"status": "non-realisee"})
    assert len(docs) == 3 and all("Non réalisée" in d.metadata["statuses"] for d in docs)
    assert all(d.metadata["axis"] == 3 for d in docs)  # the retriever's own filter still holds
    assert len(retriever.invoke(query, search_kwargs={"k": 1})) == 1
    assert len(retriever.invoke(query)) == 2  # unchanged


@pytest.mark.parametrize("fields, allowed", [
    ({"search_type": "mmr"}, "'similarity'"),
    ({"search_type": "similarity_score_threshold"}, "'similarity'"),
    ({"search_kwargs": {"k": 2, "fetch_k": 20}}, "k, filter"),
    ({"search_kwargs": {"score_threshold": 0.5}}, "k, filter"),
    ({"search_kwargs": {"filter": {"colour": "red"}}}, "status, axis, action, kind"),
    ({"search_kwargs": {"filter": "axis=3"}}, "status, axis, action, kind"),
    ({"search_kwargs": {"k": 0}}, "from 1 to"),
    ({"search_kwargs": {"filter": {"status": "fini"}}}, "non-realisee"),
])
def test_unknown_search_type_and_fields_are_refused_loudly(searcher, fields, allowed):
    from traite_qa.integrations.langchain import TraiteQARetriever

    with pytest.raises(ValueError, match=allowed):
        TraiteQARetriever(searcher=searcher, **fields)


def test_unknown_per_call_fields_are_refused_loudly(retriever):
    with pytest.raises(ValueError, match="status, axis, action, kind"):
        retriever.invoke("mesure 16", filter={"colour": "red"})
    with pytest.raises(ValueError, match="k, filter"):
        retriever.invoke("mesure 16", search_kwargs={"lambda_mult": 0.5})
    with pytest.raises(ValueError, match="filter or search_kwargs"):
        retriever.invoke("mesure 16", fetch_k=20)


@pytest.mark.parametrize("question", ["Où en est la mesure 52 ?", "la note 400", "", "   \n "])
def test_a_well_formed_question_never_aborts_a_chain(retriever, question, caplog):
    from langchain_core.runnables import RunnableLambda

    chain = retriever | RunnableLambda(lambda docs: [d.metadata["id"] for d in docs])
    with caplog.at_level("WARNING", logger="traite_qa.integrations.langchain"):
        assert chain.invoke(question) == []
        assert aio.run(chain.ainvoke(question)) == []
    assert len(caplog.records) == 2 and "no documents" in caplog.records[0].getMessage()
    assert chain.invoke("Où en est la mesure 45 ?")  # the chain still works
