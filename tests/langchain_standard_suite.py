"""LangChain's own standard retriever tests (langchain-tests) against
`TraiteQARetriever` over the session's real index. Slow."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_tests")

from langchain_tests.integration_tests import RetrieversIntegrationTests  # noqa: E402

from traite_qa.integrations.langchain import TraiteQARetriever  # noqa: E402

pytestmark = pytest.mark.slow


class TestTraiteQARetrieverStandard(RetrieversIntegrationTests):
    _searcher = None

    @pytest.fixture(autouse=True)
    def _session_searcher(self, searcher):
        type(self)._searcher = searcher

    @property
    def retriever_constructor(self) -> type[TraiteQARetriever]:
        return TraiteQARetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"searcher": self._searcher}

    @property
    def retriever_query_example(self) -> str:
        return "mécanisme national de référence"
