"""The assistant: grounded, extractive answers with cited passages.

    assistant = Assistant.load("index/build")
    answer = assistant.ask("Où en est la mesure 16 ?")
    answer.status, answer.answer, [c.id for c in answer.citations]

The question is read once (`understand`), then handed to the responder of
its route: structured routes answer from the document model, everything else
goes through retrieval and sentence-level evidence. Every quote is a verbatim
substring of its passage and every marker in the text names a citation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Protocol

from ..errors import InvalidFilterError, InvalidQuestionError
from ..index import BaseEmbedder
from ..search import Searcher
from ..settings import Settings
from ..types import ANSWERED, INVALID_QUESTION, STRUCTURED_ROUTES, Answer, Query, Route
from . import templates as T
from .aggregate import AggregateResponder
from .retrieval import RetrievalResponder, may_refuse
from .structured import (
    AcronymResponder,
    FootnoteResponder,
    MeasureResponder,
    UnknownReferenceResponder,
)
from .synthesis import ClarifyResponder, GreetingResponder, SynthesisResponder
from .learned import ModelFiles, ScopeModel, TopicModel
from .scopes import SCOPE_FEATURES
from .topics import TOPIC_FEATURES, MeasureCards, TopicResponder


class Responder(Protocol):
    def answer(self, query: Query) -> Answer | None:
        """An answer, or None to let retrieval answer instead."""


class Assistant:
    def __init__(self, searcher: Searcher, generator=None):
        self.searcher = searcher
        self.settings = searcher.settings
        self.evaluation = searcher.evaluation
        self.understander = searcher.understander
        measures = MeasureResponder(self.evaluation, searcher)
        tuning = self.settings.tuning
        cards = MeasureCards(self.evaluation, searcher)
        self.retrieval = RetrievalResponder(self.evaluation, searcher, tuning, measures, cards, learned=tuning.learned)
        topic_model = None
        files = ModelFiles.bundled() if self.retrieval.learned else None
        if files is not None and "topics" in files.meta:
            topic_model = TopicModel(files.meta, TOPIC_FEATURES)
        scope_model = ScopeModel(files.meta, SCOPE_FEATURES) if topic_model is not None and "scopes" in files.meta else None
        topics = TopicResponder(self.evaluation, searcher, tuning, cards,
                                sentences=self.retrieval.sentence_scores if self.retrieval.learned else None,
                                model=topic_model, scope_model=scope_model)
        self.responders: dict[Route, Responder] = {
            Route.GREETING: GreetingResponder(),
            Route.CLARIFY: ClarifyResponder(),
            Route.UNKNOWN_REFERENCE: UnknownReferenceResponder(self.evaluation),
            Route.ACRONYM: AcronymResponder(self.evaluation, searcher, self.retrieval),
            Route.FOOTNOTE: FootnoteResponder(self.evaluation, searcher),
            Route.AGGREGATE: AggregateResponder(self.evaluation, searcher),
            Route.TOPIC_LIST: topics,
            Route.SYNTHESIS: SynthesisResponder(self.evaluation, searcher, tuning, self.retrieval, topics),
            Route.STATUS: measures,
            Route.RECOMMENDATION: measures,
            Route.WHY: measures,
        }
        self.generator = generator
        if generator is not None and getattr(generator, "evaluation", None) is None:
            generator.evaluation = self.evaluation  # it checks the statuses it writes against the document

    @classmethod
    def load(
        cls,
        index_dir: str | Path | None = None,
        settings: Settings | None = None,
        embedder: BaseEmbedder | None = None,
        *,
        build: bool | None = None,
        progress: bool = True,
    ) -> "Assistant":
        """`build` as in `Searcher.load`: by default the default index is found or built."""
        searcher = Searcher.load(index_dir, settings=settings, embedder=embedder, build=build, progress=progress)
        generator = None
        if searcher.settings.uses_generator:
            from .generator import Generator

            generator = Generator(searcher.settings, evaluation=searcher.evaluation)
        return cls(searcher, generator)

    def warm_up(self, page_in: bool = True) -> None:
        self.searcher.warm_up(page_in)
        if self.retrieval.learned:
            self.retrieval.ranker.load()

    # ------------------------------------------------------------------ API
    def ask(self, question: str, history: list[dict] | None = None, *, status=None, axis=None) -> Answer:
        answer = self._extractive(question, history, status, axis)
        if self._generates(answer):
            answer = self.generator.rewrite(answer)
        return answer

    def ask_stream(self, question: str, history: list[dict] | None = None, *, status=None, axis=None) -> Iterator[str | Answer]:
        """Yield text deltas (pieces to append, only verified text), then the final Answer.

        An extractive answer exists at once: it comes as the final Answer alone."""
        answer = self._extractive(question, history, status, axis)
        if self._generates(answer):
            yield from self.generator.stream(answer)
            return
        yield answer

    def understand(self, question: str, history: list[dict] | None = None, *, status=None, axis=None) -> Query:
        """The question as the assistant reads it (raises InvalidQuestionError / InvalidFilterError)."""
        return self.understander.understand(question, history, status=status, axis=axis)

    def may_refuse(self, query: Query) -> bool:
        """Whether the answerability model can refuse this question: one
        answered from retrieval or as a synthesis; never one whose object is
        named (a measure, a count, a note, an acronym), which its responder
        answers from the document model."""
        if query.route == Route.SYNTHESIS:
            return True
        return query.route not in self.responders and may_refuse(query)

    # ------------------------------------------------------------ internals
    def _extractive(self, question, history, status, axis) -> Answer:
        try:
            query = self.understand(question, history, status=status, axis=axis)
        except (InvalidQuestionError, InvalidFilterError) as err:
            return self._invalid(question, err)
        responder = self.responders.get(query.route)
        if responder is not None:
            answer = responder.answer(query)
            if answer is not None:
                return answer
        return self.retrieval.answer(query)

    def _generates(self, answer: Answer) -> bool:
        return self.generator is not None and answer.status == ANSWERED and answer.intent not in STRUCTURED_ROUTES

    def _invalid(self, raw, err: InvalidQuestionError | InvalidFilterError) -> Answer:
        code = getattr(err, "code", None) if isinstance(err, InvalidQuestionError) else "filter"
        message = T.INVALID.get(code, T.INVALID["filter"]).format(limit=self.settings.max_question_chars, error=err)
        # Echo what was asked, made encodable (lone surrogates would break the JSON).
        question = raw.encode("utf-8", "replace").decode("utf-8") if isinstance(raw, str) else ""
        return Answer(question[: self.settings.max_question_chars], INVALID_QUESTION, message, intent=Route.INVALID,
                      notes=(str(err),))
