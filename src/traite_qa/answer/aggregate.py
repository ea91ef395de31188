"""Counts and lists of measures (by status, axis, action), computed from the
document model and cited to annex 2's summary table, never guessed."""

from __future__ import annotations

from ..document import Evaluation, Status
from ..search import Searcher
from ..types import Answer, Query, Route
from .compose import Composer
from .structured import UnknownReferenceResponder


class AggregateResponder:
    def __init__(self, evaluation: Evaluation, searcher: Searcher):
        self.evaluation = evaluation
        self.searcher = searcher
        self.unknown = UnknownReferenceResponder(evaluation)

    def answer(self, query: Query) -> Answer:
        return answer_aggregate(self.evaluation, self.searcher, self.unknown, query)


def answer_aggregate(evaluation: Evaluation, searcher: Searcher, unknown: UnknownReferenceResponder, intent: Query) -> Answer:
    c = Composer(intent)
    refs = intent.refs
    if intent.enumerates == "axes":
        return _list_axes(evaluation, searcher, intent, c)
    if intent.enumerates == "actions":
        return _list_actions(evaluation, searcher, intent, c, refs.axes[0] if refs.axes else None)

    axis = refs.axes[0] if refs.axes else None
    action = refs.actions[0] if refs.actions else None
    if axis is not None and not 1 <= axis <= len(evaluation.axes) or action is not None and not 1 <= action <= len(evaluation.actions):
        return unknown.scope(intent)
    if len(intent.status_filter) > 1:
        return _by_statuses(evaluation, searcher, intent, c, axis, action)
    measures = evaluation.measures_with(status=intent.status, axis=axis, action=action)

    scope_fr, scope_en = _scope(evaluation, axis, action)
    of_fr, of_en = _of(scope_fr, scope_en)
    n = len(measures)
    total = len(evaluation.measures_with(axis=axis, action=action))
    plural = "s" if n > 1 else ""
    if intent.status is not None:
        head_fr = f"{n} mesure{plural} sur {total}{of_fr} {'sont' if n > 1 else 'est'} « {intent.status.value} »"
        head_en = f"{n} of the {total} measures{of_en} {'are' if n != 1 else 'is'} « {intent.status.value} » [{intent.status.english}]"
    elif scope_fr:
        head_fr = f"{_capitalize(scope_fr.strip().removeprefix('de ').removeprefix('d'))} compte {n} mesure{plural}"
        head_en = f"{_capitalize(scope_en.strip().removeprefix('of '))} has {n} measure{plural}"
    else:
        head_fr, head_en = f"Le deuxième plan (2019-2021) compte {n} mesures", f"The second plan (2019-2021) has {n} measures"
    markers = _markers(evaluation, searcher, c, measures, axis, action)
    listing = _listing(measures, intent, with_status=intent.status is None)
    if intent.status is None and not (axis or action):
        counts = evaluation.status_counts()
        detail = ", ".join(f"{counts[s]} {s.value}" for s in Status)
        text = (f"{head_en}: {detail}." if intent.english else f"{head_fr} : {detail}.") + " " + " ".join(markers)
    elif n == 0:
        text = (f"{head_en}." if intent.english else f"{head_fr}.") + " " + " ".join(markers)
    else:
        text = (f"{head_en}: {listing}." if intent.english else f"{head_fr} : {listing}.") + " " + " ".join(markers)
    c.say(text.strip())
    for m in measures:
        c.measure_status(m)
    return c.answer(Route.AGGREGATE)



def _markers(evaluation: Evaluation, searcher: Searcher, c: Composer, measures, axis, action) -> list[str]:
    """Each listed measure's row in annex 2 cited (its title as printed there)."""
    rows = {r.number: r for r in evaluation.summary}
    by_axis: dict[int, list[str]] = {}
    for m in measures:
        by_axis.setdefault(m.axis, []).append(rows[m.number].title)
    if not by_axis:  # "0 mesure …": the rows that show it are the scope's
        scope = {evaluation.action(action).axis} if action else {axis} if axis else {a.number for a in evaluation.axes}
        by_axis = {ax: [] for ax in sorted(scope)}
    markers = []
    for ax, titles in by_axis.items():
        hit = searcher.hits_for([f"tableau-axe-{ax}"])[0]
        markers.append(c.cite(hit, titles if len(measures) <= 20 else []))
    return markers


def _by_statuses(evaluation: Evaluation, searcher: Searcher, intent: Query, c: Composer, axis, action) -> Answer:
    """Two statuses asked at once ("pas entièrement réalisées", "réalisées ou
    partiellement"): how many have either, then each status's count and
    measures in a sentence of its own. (One sentence naming both statuses with
    one count is a claim the status checker cannot map to one status: it
    would drop it.) The total is the sum of the counts it precedes. A status
    none of them has gets no sentence: « 0 measures are Réalisée » under an
    axis reads, to the checker as to a reader, as none in the whole plan."""
    scope_fr, scope_en = _scope(evaluation, axis, action)
    of_fr, of_en = _of(scope_fr, scope_en)
    groups = [(s, evaluation.measures_with(status=s, axis=axis, action=action)) for s in intent.status_filter]
    every = sorted((m for _, ms in groups for m in ms), key=lambda m: m.number)
    total = len(evaluation.measures_with(axis=axis, action=action))
    n = len(every)
    if intent.english:
        parts = [f"According to annex 2, {n} of the {total} measures{of_en} {'have' if n != 1 else 'has'} one of the statuses asked about."]
        parts += [f"{len(ms)} measure{'s' if len(ms) != 1 else ''} {'are' if len(ms) != 1 else 'is'} « {s.value} » [{s.english}]"
                  + f": {_listing(ms, intent, with_status=False)}." for s, ms in groups if ms]
    else:
        parts = [f"Selon l'annexe 2, {n} des {total} mesures{of_fr} {'ont' if n > 1 else 'a'} l'un des statuts demandés."]
        parts += [f"{len(ms)} mesure{'s' if len(ms) > 1 else ''} {'sont' if len(ms) > 1 else 'est'} « {s.value} »"
                  + f" : {_listing(ms, intent, with_status=False)}." for s, ms in groups if ms]
    markers = _markers(evaluation, searcher, c, every, axis, action)
    c.say(" ".join(parts + markers))
    for m in every:
        c.measure_status(m)
    return c.answer(Route.AGGREGATE)


def _of(scope_fr: str, scope_en: str) -> tuple[str, str]:
    """What a count is of: the part named, else the plan (annex 2 counts the
    second plan's measures, whatever plan the question named)."""
    return (scope_fr, scope_en) if scope_fr else (" du deuxième plan (2019-2021)", " of the second plan (2019-2021)")


def _capitalize(text: str) -> str:
    text = text.lstrip("'")
    return text[:1].upper() + text[1:]


def _scope(evaluation, axis, action) -> tuple[str, str]:
    if action is not None:
        a = evaluation.action(action)
        return f" de l'action {action} « {a.label} » (axe {a.axis})", f" of action {action} « {a.label} » (axis {a.axis})"
    if axis is not None:
        ax = evaluation.axis(axis)
        return f" de l'axe {axis} « {ax.label} »", f" of axis {axis} « {ax.label} »"
    return "", ""


def _listing(measures, intent: Query, with_status: bool) -> str:
    word = "measure" if intent.english else "mesure"
    items = []
    for m in measures:
        status = f", {m.status.value}" + (f" [{m.status.english}]" if intent.english else "") if with_status else ""
        items.append(f"{word} {m.number} « {m.title} »{status}" if len(measures) <= 15 else str(m.number))
    if len(measures) > 15:
        prefix = "measures " if intent.english else "mesures "
        return prefix + _join(items, intent)
    return _join(items, intent)


def _join(items: list[str], intent: Query) -> str:
    if len(items) <= 1:
        return "".join(items)
    last = " and " if intent.english else " et "
    return ", ".join(items[:-1]) + last + items[-1]


def _list_axes(evaluation: Evaluation, searcher: Searcher, intent: Query, c: Composer) -> Answer:
    markers = []
    for axis in evaluation.axes:
        hit = searcher.hits_for([f"tableau-axe-{axis.number}"])[0]
        markers.append(c.cite(hit, []))
    items = [f"{'axis' if intent.english else 'axe'} {a.number} « {a.label} »" for a in evaluation.axes]
    head = f"The plan has {len(items)} axes" if intent.english else f"Le plan compte {len(items)} axes"
    c.say(f"{head} : {_join(items, intent)}. " + " ".join(markers) if not intent.english else f"{head}: {_join(items, intent)}. " + " ".join(markers))
    return c.answer(Route.AGGREGATE)


def _list_actions(evaluation: Evaluation, searcher: Searcher, intent: Query, c: Composer, axis: int | None) -> Answer:
    actions = [a for a in evaluation.actions if axis is None or a.axis == axis]
    axes = sorted({a.axis for a in actions})
    markers = [c.cite(searcher.hits_for([f"tableau-axe-{ax}"])[0], []) for ax in axes]
    items = [f"action {a.number} « {a.label} »" for a in actions]
    label = next((f" « {a.label} »" for a in evaluation.axes if a.number == axis), "")
    if intent.english:
        head = f"Axis {axis}{label} has {len(items)} actions" if axis else f"The plan has {len(items)} actions"
    else:
        head = f"L'axe {axis}{label} compte {len(items)} actions" if axis else f"Le plan compte {len(items)} actions"
    c.say(f"{head}{':' if intent.english else ' :'} {_join(items, intent)}. " + " ".join(markers))
    return c.answer(Route.AGGREGATE)
