"""The assistant: grounded, extractive answers with cited passages.

    assistant = Assistant.load("index/build")
    answer = assistant.ask("Où en est la mesure 16 ?")
    answer.status, answer.answer, [c.id for c in answer.citations]

Structured intents (status, counts and lists, acronyms, footnotes,
recommendations) are answered from the document model; everything else goes
through hybrid search and sentence-level evidence selection. Every quote is a
verbatim substring of its passage and every marker in the text names a citation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from . import intents as I
from .compose import Composer, marker_for
from .document import Status
from .embedder import BaseEmbedder
from .errors import InvalidFilterError, InvalidQuestionError, UnknownReferenceError
from .evidence import Evidence, EvidenceScorer
from .gate import Gate, satisfies
from .index import QUOTABLE_KINDS
from .references import clean_question
from .search import Hit, Searcher
from .settings import Settings
from .text import markers, sentence_spans

ANSWERED, NO_EVIDENCE, INVALID_QUESTION = "answered", "no_evidence", "invalid_question"
NO_ANSWER_FR = "Le document ne répond pas à cette question."
NO_ANSWER_EN = "The document does not answer this question."

_RECOMMEND_RE = re.compile(
    r"\b(recommand\w*|préconis\w*|invite|appelle|suggère|propose|il importe|il convient|conviendrait|"
    r"nécessaire|doit|doivent|devrait|devraient|rappelle|demande)\b",
    re.IGNORECASE,
)
_STATUS_EVIDENCE_RE = re.compile(
    r"(mise? en œuvre|mises en œuvre|réalis\w*|n'a pas été|n'ont pas été|aucun\w*|absence|faute|partiellement|"
    r"salue|pas encore|toujours pas|reste|insuffisan\w*|effectiv\w*)",
    re.IGNORECASE,
)
_REASON_RE = re.compile(
    r"(faute|en l'absence|absence|manque|malgré|insuffisan\w*|n'a pas|n'ont pas|pas été|aucun\w*|toutefois|"
    r"cependant|pourtant|seulement|uniquement|en raison|car |parce)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Citation:
    """A cited passage: the search hit's fields plus the sentences quoted from it."""

    hit: Hit
    marker: str  # as written in the answer, without brackets: "Mesure 16"
    quotes: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.hit.id

    @property
    def title(self) -> str:
        return self.hit.title

    def to_dict(self) -> dict:
        return {**self.hit.to_dict(), "marker": self.marker, "quotes": list(self.quotes)}


@dataclass(frozen=True)
class Answer:
    question: str
    status: str  # "answered" | "no_evidence" | "invalid_question"
    answer: str
    citations: tuple[Citation, ...] = ()
    intent: str = I.SEARCH
    language: str = "fr"
    suggestions: tuple[str, ...] = ()  # closest topics when there is no answer
    notes: tuple[str, ...] = ()  # e.g. the generator failed and the extractive answer was used
    verified: bool = True  # False when a generated answer kept no valid citation
    measures: dict = field(default_factory=dict)  # number -> status of every measure cited

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "status": self.status,
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "intent": self.intent,
            "language": self.language,
            "suggestions": list(self.suggestions),
            "notes": list(self.notes),
            "verified": self.verified,
            "measures": {str(k): v for k, v in self.measures.items()},
        }


class Assistant:
    def __init__(self, searcher: Searcher, generator=None):
        self.searcher = searcher
        self.settings = searcher.settings
        self.evaluation = searcher.evaluation
        self.router = I.Router(self.evaluation)
        self.scorer = EvidenceScorer(searcher.data)
        self.gate = Gate(searcher.data.source, self.scorer.vocabulary)
        self.generator = generator
        if generator is not None and getattr(generator, "evaluation", None) is None:
            generator.evaluation = self.evaluation  # it checks the statuses it writes

    @classmethod
    def load(
        cls,
        index_dir: str | Path | None = None,
        settings: Settings | None = None,
        embedder: BaseEmbedder | None = None,
        *,
        build: bool = False,
        progress: bool = False,
    ) -> "Assistant":
        """`build=True`: build the index first when it is missing, stale or damaged."""
        searcher = Searcher.load(index_dir, settings=settings, embedder=embedder, build=build, progress=progress)
        generator = None
        if searcher.settings.uses_generator:
            from .generator import Generator

            generator = Generator(searcher.settings, evaluation=searcher.evaluation)
        return cls(searcher, generator)

    def warm_up(self) -> None:
        self.searcher.warm_up()

    # ------------------------------------------------------------------ API
    def ask(self, question: str, history: list[dict] | None = None, *, status=None, axis=None) -> Answer:
        answer = self._extractive(question, history, status, axis)
        if self.generator is not None and answer.status == ANSWERED and answer.intent not in _STRUCTURED:
            answer = self.generator.rewrite(answer, self._passages(answer))
        return answer

    def ask_stream(self, question: str, history: list[dict] | None = None, *, status=None, axis=None) -> Iterator[str | Answer]:
        """Yield growing answer text, then the final Answer (for the chat)."""
        answer = self._extractive(question, history, status, axis)
        if self.generator is not None and answer.status == ANSWERED and answer.intent not in _STRUCTURED:
            yield from self.generator.stream(answer, self._passages(answer))
            return
        text = ""
        for piece in re.split(r"(?<=[\s\]])", answer.answer):
            text += piece
            yield text
        yield answer

    # --------------------------------------------------------------- routing
    def _extractive(self, question, history, status, axis) -> Answer:
        raw = question
        try:
            question = clean_question(question, self.settings.max_question_chars)
            self.searcher.check_filters(status=status, axis=axis)
        except (InvalidQuestionError, InvalidFilterError) as err:
            return self._invalid(raw, err)
        intent = self.router.route(question, _valid_history(history))
        handler = {
            I.UNKNOWN_REFERENCE: self._unknown_reference,
            I.ACRONYM: self._acronym,
            I.FOOTNOTE: self._footnote,
            I.AGGREGATE: self._aggregate,
            I.STATUS: self._status,
            I.RECOMMENDATION: self._recommendation,
            I.WHY: self._why,
        }.get(intent.name)
        if intent.name == I.AGGREGATE and (status is not None or axis is not None):
            intent = _with_filters(intent, status, axis)  # "combien de mesures ?" within the filters
        if handler is not None and (status is None and axis is None or intent.name in _STRUCTURED_NO_FILTER):
            answer = handler(intent)
            if answer is not None:
                return answer
        return self._retrieve(intent, status, axis)

    def _invalid(self, raw, err: InvalidQuestionError | InvalidFilterError) -> Answer:
        message = {
            "empty": "La question est vide : posez une question sur l'évaluation (par exemple « Où en est la mesure 16 ? »).",
            "too_long": f"La question est trop longue (limite : {self.settings.max_question_chars} caractères) : "
            "posez une question sur un point précis.",
            "not_text": "La question n'est pas du texte.",
        }.get(getattr(err, "code", None), f"Filtre invalide : {err}")  # InvalidFilterError has no code
        # Echo what was asked, made encodable (lone surrogates would break the JSON).
        question = raw.encode("utf-8", "replace").decode("utf-8") if isinstance(raw, str) else ""
        return Answer(question[: self.settings.max_question_chars], INVALID_QUESTION, message, intent=I.INVALID, notes=(str(err),))

    def _unknown_reference(self, intent: I.Intent) -> Answer:
        n_m, n_n = len(self.evaluation.measures), len(self.evaluation.footnotes)
        bad_m = [m for m in intent.refs.measures if not 1 <= m <= n_m]
        bad_n = [n for n in intent.refs.footnotes if not 1 <= n <= n_n]
        if intent.english:
            what = f"measure {bad_m[0]}" if bad_m else f"footnote {bad_n[0]}"
            text = (f"{NO_ANSWER_EN} There is no {what}: the plan has {n_m} measures (numbered 1 to {n_m}) "
                    f"and the evaluation {n_n} footnotes.")
        else:
            what = f"de mesure {bad_m[0]}" if bad_m else f"de note {bad_n[0]}"
            text = (f"{NO_ANSWER_FR} Il n'y a pas {what} : le plan compte {n_m} mesures (numérotées de 1 à {n_m}) "
                    f"et l'évaluation {n_n} notes.")
        return Answer(intent.question, NO_EVIDENCE, text, intent=I.UNKNOWN_REFERENCE, language=_lang(intent))

    def _unknown_reference_scope(self, intent: I.Intent, axis: int | None, action: int | None) -> Answer:
        n_ax, n_ac = len(self.evaluation.axes), len(self.evaluation.actions)
        if intent.english:
            text = f"{NO_ANSWER_EN} The plan has {n_ax} axes (1 to {n_ax}) and {n_ac} actions (1 to {n_ac})."
        else:
            text = f"{NO_ANSWER_FR} Le plan compte {n_ax} axes (1 à {n_ax}) et {n_ac} actions (1 à {n_ac})."
        return Answer(intent.question, NO_EVIDENCE, text, intent=I.UNKNOWN_REFERENCE, language=_lang(intent))

    # ------------------------------------------------------ structured routes
    def _acronym(self, intent: I.Intent) -> Answer:
        c = Composer(self.searcher, intent)
        for name in intent.refs.acronyms:
            acronym = self.evaluation.acronym(name)
            hit = self.searcher.hits_for([f"sigle-{acronym.acronym}"])[0]
            m = c.cite(hit, [hit.text])
            if intent.english:
                c.say(f"{acronym.acronym} stands for « {acronym.definition} » (annex 1, glossary). {m}")
            else:
                c.say(f"{acronym.acronym} signifie « {acronym.definition} » (annexe 1, sigles utilisés). {m}")
        return c.answer(I.ACRONYM)

    def _footnote(self, intent: I.Intent) -> Answer:
        c = Composer(self.searcher, intent)
        for number in intent.refs.footnotes:
            note = self.evaluation.footnote(number)
            hit = self.searcher.hits_for([f"note-{number}"])[0]
            cited = ", ".join(f"{number_word(intent, 'mesure')} {m} « {self.evaluation.measure(m).title} »" for m in note.measures)
            sections = [{"preambule": "le préambule", "bilan": "le bilan"}.get(s, s) for s in note.sections]
            where = " ; ".join(filter(None, [cited, *sections]))
            m = c.cite(hit, [note.text])
            if intent.english:
                c.say(f"Footnote {number}{f' (cited by {where})' if where else ''} says: « {note.text} » {m}")
            else:
                c.say(f"La note {number}{f' (appelée par {where})' if where else ''} indique : « {note.text} » {m}")
        return c.answer(I.FOOTNOTE)

    def _status(self, intent: I.Intent, numbers: tuple[int, ...] | None = None, name: str = I.STATUS) -> Answer:
        return self._per_measure(intent, numbers or intent.measures, name)

    def _recommendation(self, intent: I.Intent) -> Answer | None:
        return self._per_measure(intent, intent.measures or self._measure_by_search(intent), I.RECOMMENDATION)

    def _why(self, intent: I.Intent) -> Answer:
        return self._per_measure(intent, intent.measures, I.WHY)

    def _per_measure(self, intent: I.Intent, numbers: tuple[int, ...], name: str) -> Answer | None:
        """Status, recommendations or reasons for named measures, quoted from their body."""
        pick, limit, fr, en = _PER_MEASURE[name]
        c = Composer(self.searcher, intent)
        for number in numbers[:limit]:
            measure = self.evaluation.measure(number)
            quotes = pick(self.searcher.hits_for(self.searcher.measure_chunk_ids(number)), number)
            if not quotes:
                continue
            shared = ", ".join(str(n) for n in measure.group if n != number)
            template = en if intent.english else fr
            c.say(template.format(
                n=number, title=measure.title, axis=measure.axis, action=measure.action,
                status=c.status_words(measure.status), quotes=_quoted(quotes), markers=c.cite_quotes(quotes, focus=number),
                shared=(f" (assessed together with measure {shared})" if intent.english else f" (évaluée avec la mesure {shared})") if shared else "",
            ))
            c.measure_status(measure)
        return c.answer(name) if c.citations else None

    def _aggregate(self, intent: I.Intent) -> Answer:
        from .aggregate import answer_aggregate

        return answer_aggregate(self, intent)

    def _measure_by_search(self, intent: I.Intent) -> tuple[int, ...]:
        hits = self.searcher.search(intent.question, k=3, kind="measure")
        return hits[0].measures[:1] if hits else ()

    # -------------------------------------------------------- retrieval route
    def _retrieve(self, intent: I.Intent, status, axis) -> Answer:
        try:
            hits = self.searcher.search(intent.question, k=24, status=status, axis=axis)
        except UnknownReferenceError:
            return self._unknown_reference(intent)
        if intent.name == I.MEASURE_QUESTION and intent.measures:
            wanted = set(intent.measures)
            own = [h for h in hits if h.kind == "measure" and wanted & set(h.measures)]
            notes = {n for h in own for n in h.footnotes}
            hits = own + [h for h in hits if h.kind == "footnote" and h.footnote in notes]
            hits = hits or self.searcher.hits_for([cid for n in intent.measures for cid in self.searcher.measure_chunk_ids(n)])
        # Sentences worth quoting live in measures, footnotes, the preamble and
        # the conclusion; a glossary line or a table row is not an answer here.
        wanted = ("measure",) if intent.name == I.STATUS_SEARCH else QUOTABLE_KINDS
        top = [h for h in hits if h.kind in wanted][:EVIDENCE_PASSAGES] or hits[:EVIDENCE_PASSAGES]
        vector = self.searcher.embed_query(intent.question)
        ranked = self.scorer.score(intent.question, vector, top, intent.answer_type)
        chosen = _choose(ranked, answer_type=intent.answer_type)
        named = intent.name == I.MEASURE_QUESTION and bool(intent.measures)
        reason = "no passage" if not chosen else None
        if chosen and not named:  # a named measure's best sentences are the answer
            reason = self.gate.reason(intent.question, intent.english, top[0].dense, [e.text for e in chosen])
        if reason:
            return self._no_evidence(intent, top, reason)
        if intent.name == I.STATUS_SEARCH and chosen[0].hit.kind == "measure":
            return self._status(intent, numbers=_focus_measures(chosen[0].hit, intent)[:1], name=I.STATUS_SEARCH)
        return self._compose_evidence(intent, chosen)

    def _compose_evidence(self, intent: I.Intent, chosen: list[Evidence]) -> Answer:
        c = Composer(self.searcher, intent)
        c.say("According to the CNCDH's evaluation (quoted in French):" if intent.english else "D'après l'évaluation de la CNCDH :")
        for evidence in chosen:
            focus = _focus_measures(evidence.hit, intent)
            m = c.cite(evidence.hit, [evidence.text], focus=focus[0] if focus else None)
            c.say(f"« {evidence.text} » {m}")
            # The footnotes a quoted sentence calls come along, shown inline:
            # they often hold the reference the question is about (a decree, a law).
            for number in markers(evidence.text):
                if 1 <= number <= len(self.evaluation.footnotes):
                    note = self.searcher.hits_for([f"note-{number}"])[0]
                    excerpt = _excerpt(note.text)
                    label = "footnote" if intent.english else "note"
                    c.say(f"  {label} {number} : « {excerpt} » {c.cite(note, [excerpt])}")
        cited = sorted({n for cit in c.citations.values() if cit["hit"].kind == "measure" for n in cit["hit"].measures})
        if cited:
            parts = [f"{number_word(intent, 'mesure')} {n} « {self.evaluation.measure(n).title} » : "
                     f"{c.status_words(self.evaluation.measure(n).status)}" for n in cited]
            c.say(("Status — " if intent.english else "Statut — ") + " ; ".join(parts) + ".")
            for n in cited:
                c.measure_status(self.evaluation.measure(n))
        return c.answer(intent.name)

    def _no_evidence(self, intent: I.Intent, hits: list[Hit], reason: str = "") -> Answer:
        suggestions = _suggestions(hits, self.evaluation)
        if intent.english:
            text = f"{NO_ANSWER_EN} Closest topics you could ask about: " + " ; ".join(suggestions) + "." if suggestions else NO_ANSWER_EN
        else:
            text = f"{NO_ANSWER_FR} Sujets proches que vous pouvez interroger : " + " ; ".join(suggestions) + "." if suggestions else NO_ANSWER_FR
        return Answer(intent.question, NO_EVIDENCE, text, intent=intent.name, language=_lang(intent),
                      suggestions=tuple(suggestions), notes=(reason,) if reason else ())

    def _passages(self, answer: Answer) -> list[Hit]:
        return [c.hit for c in answer.citations]


# Passages whose sentences compete to be quoted, and how close to the best a
# sentence must score to be quoted too (tuned with `python -m eval.tune`).
EVIDENCE_PASSAGES = 6
CHOOSE_MARGIN = 0.05
_PER_MEASURE = {  # route: (sentence picker, max measures, French template, English template)
    I.STATUS: (
        lambda hits, n: _pick(hits, _STATUS_EVIDENCE_RE, 2, prefer=_names(n)) or _first_sentences(hits, 1), 4,
        "La mesure {n} « {title} » (axe {axis}, action {action}) est {status}{shared}. La CNCDH écrit : {quotes} {markers}",
        "Measure {n} « {title} » (axis {axis}, action {action}) is {status}{shared}. The CNCDH writes: {quotes} {markers}",
    ),
    I.STATUS_SEARCH: None,  # filled below: same as STATUS
    I.RECOMMENDATION: (
        lambda hits, n: _pick(hits, _RECOMMEND_RE, 3, prefer=re.compile(r"recommand", re.I)), 2,
        "Sur la mesure {n} « {title} » ({status}), la CNCDH recommande : {quotes} {markers}",
        "On measure {n} « {title} » ({status}), the CNCDH recommends: {quotes} {markers}",
    ),
    I.WHY: (
        lambda hits, n: _pick(hits, _REASON_RE, 3, prefer=_names(n)) or _pick(hits, _STATUS_EVIDENCE_RE, 2) or _first_sentences(hits, 2), 2,
        "La mesure {n} « {title} » est {status}. La CNCDH explique : {quotes} {markers}",
        "Measure {n} « {title} » is {status}. The CNCDH explains: {quotes} {markers}",
    ),
}
_PER_MEASURE[I.STATUS_SEARCH] = _PER_MEASURE[I.STATUS]
_STRUCTURED = {I.ACRONYM, I.FOOTNOTE, I.AGGREGATE, I.STATUS, I.UNKNOWN_REFERENCE, I.RECOMMENDATION, I.WHY, I.STATUS_SEARCH}
# Routes that name their passages exactly; UI filters do not apply to them.
_STRUCTURED_NO_FILTER = {I.ACRONYM, I.FOOTNOTE, I.UNKNOWN_REFERENCE, I.STATUS, I.RECOMMENDATION, I.WHY, I.AGGREGATE}


def _with_filters(intent: I.Intent, status, axis) -> I.Intent:
    """The UI's status and axis filters narrow a count or a list too."""
    import dataclasses

    refs = intent.refs
    if axis is not None and not refs.axes and not refs.actions:
        refs = dataclasses.replace(refs, axes=(int(axis),))
    wanted = intent.status
    if status is not None and wanted is None:
        wanted = status if isinstance(status, Status) else Status.parse(str(status))
    return dataclasses.replace(intent, refs=refs, status=wanted)


def _lang(intent: I.Intent) -> str:
    return "en" if intent.english else "fr"


def number_word(intent: I.Intent, word: str) -> str:
    return {"mesure": "measure"}.get(word, word) if intent.english else word


def _valid_history(history) -> list[dict] | None:
    if not isinstance(history, list):
        return None
    return [t for t in history[-20:] if isinstance(t, dict)] or None


def _quoted(quotes: list[tuple[Hit, str]]) -> str:
    return " ".join(f"« {text} »" for _, text in quotes)


def _excerpt(text: str, limit: int = 400) -> str:
    """The whole text when short, else its first sentences up to `limit` chars (verbatim)."""
    if len(text) <= limit:
        return text
    spans = sentence_spans(text)
    end = spans[0][1]
    for _, e in spans[1:]:
        if e > limit:
            break
        end = e
    return text[:end]


def _sentences(hit: Hit) -> list[str]:
    return [hit.text[s:e] for s, e in sentence_spans(hit.text)]


def _pick(hits: list[Hit], pattern: re.Pattern, limit: int, prefer: re.Pattern | None = None) -> list[tuple[Hit, str]]:
    """Up to `limit` sentences matching `pattern`, in document order (preferred ones first)."""
    found = [(hit, s) for hit in hits for s in _sentences(hit) if pattern.search(s)]
    found = list({s: (h, s) for h, s in found}.values())  # overlapping pieces repeat sentences
    if prefer is not None:  # stable: document order within each group
        found.sort(key=lambda hs: not prefer.search(hs[1]))
    return found[:limit]


def _names(number: int) -> re.Pattern:
    """Sentences naming the measure: in a shared body (20/21) they speak of it."""
    return re.compile(rf"\bmesures? (?:\d+ (?:et|à) )?{number}\b", re.IGNORECASE)


def _first_sentences(hits: list[Hit], limit: int) -> list[tuple[Hit, str]]:
    return [(hits[0], s) for s in _sentences(hits[0])[:limit]] if hits else []


def _choose(ranked: list[Evidence], limit: int = 3, margin: float | None = None, answer_type: str | None = None,
            type_margin: float = 0.2) -> list[Evidence]:
    """The best sentence, plus up to two close seconds (not repeats of it).

    When the question wants an amount, a count or a date and none of those
    sentences holds one, the best sentence of the same passage that does (if
    close enough) replaces the last pick: the topic sentence alone does not
    answer, and the figure that does usually follows it. A figure from another
    passage is about something else ("the third plan's budget" must not be
    answered with another budget line).
    """
    if not ranked:
        return []
    margin = CHOOSE_MARGIN if margin is None else margin
    chosen = [ranked[0]]
    for evidence in ranked[1:]:
        if len(chosen) == limit or evidence.score < ranked[0].score - margin:
            break
        if not _repeats(evidence, chosen):
            chosen.append(evidence)
    if answer_type and not satisfies(answer_type, [e.text for e in chosen]):
        typed = next((e for e in ranked if e.hit.id == ranked[0].hit.id and e.score >= ranked[0].score - type_margin
                      and satisfies(answer_type, [e.text]) and not _repeats(e, chosen)), None)
        if typed is not None:
            chosen = (chosen if len(chosen) < limit else chosen[:-1]) + [typed]
    return chosen


def _repeats(evidence: Evidence, chosen: list[Evidence]) -> bool:
    return any(evidence.text in e.text or e.text in evidence.text for e in chosen)


def _focus_measures(hit: Hit, intent: I.Intent) -> tuple[int, ...]:
    asked = [m for m in intent.measures if m in hit.measures]
    return tuple(asked) or hit.measures if hit.kind == "measure" else ()


def _suggestions(hits: list[Hit], evaluation) -> list[str]:
    out: list[str] = []
    for hit in hits:
        if hit.kind == "measure":
            label = f"mesure {hit.measures[0]} « {evaluation.measure(hit.measures[0]).title} »"
        elif hit.kind == "footnote":
            label = f"note {hit.footnote}"
        elif hit.kind == "acronym":
            label = f"sigle {hit.acronym}"
        else:
            continue
        if label not in out:
            out.append(label)
        if len(out) == 3:
            break
    return out


__all__ = ["Assistant", "Answer", "Citation", "ANSWERED", "NO_EVIDENCE", "INVALID_QUESTION", "marker_for", "Status"]
