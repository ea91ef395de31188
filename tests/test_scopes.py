"""A list question that asks for a whole part of the plan (an axis, an action,
the plan under a status) gets all of that part's measures, and the lead that
says so is checked against the document's structure (verify.part_problems)."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources

import numpy as np
import pytest

from traite_qa.answer.learned import ScopeModel
from traite_qa.answer.scopes import SCOPE_FEATURES
from traite_qa.answer.verify import framing_problems, part_problems
from traite_qa.types import Route, Status


def _meta() -> dict:
    return json.loads(resources.files("traite_qa").joinpath("data", "models", "models.json").read_text())


def test_the_parts_are_the_documents_axes_and_actions(assistant):
    cards = assistant.responders[Route.TOPIC_LIST].scopes
    ev = assistant.evaluation
    kinds = [s.kind for s in cards.scopes]
    assert kinds.count("plan") == 1 and kinds.count("axis") == len(ev.axes) and kinds.count("action") == len(ev.actions)
    every = sorted(m.number for m in ev.measures)
    for kind in ("axis", "action"):
        # Each measure is in exactly one axis and one action.
        assert sorted(n for s in cards.scopes if s.kind == kind for n in s.measures) == every
    action7 = next(s for s in cards.scopes if s.kind == "action" and s.number == 7)
    assert action7.measures == tuple(m.number for m in ev.measures if m.action == 7)


def test_the_scope_model_is_a_json_logistic_regression_over_the_codes_features():
    meta = _meta()["scopes"]
    assert tuple(meta["features"]) == SCOPE_FEATURES and len(meta["coef"]) == len(SCOPE_FEATURES)
    assert 0 < meta["threshold"] < 1
    with pytest.raises(ValueError, match="make train"):
        ScopeModel({"scopes": meta | {"features": meta["features"][:-1]}}, SCOPE_FEATURES)


@pytest.mark.slow
@pytest.mark.parametrize("question, kind, number", [
    ("Quelles mesures composent l'action consacrée au soutien des associations, et où en sont-elles ?", "action", 11),
    ("Which measures make up the action on the psychological care of victims?", "action", 9),
    ("Dans l'axe consacré à la répression des auteurs, quelles sont les mesures et leur bilan ?", "axis", 4),
    # « action publique » is a phrase of axis 5's title, not the name of an action.
    ("Quelles sont les mesures de l'axe qui vise à coordonner l'action publique, et leur état ?", "axis", 5),
    ("List the measures in the axis about coordinating public action.", "axis", 5),
])
def test_a_part_of_the_plan_asked_for_by_its_title_is_listed_whole(assistant, question, kind, number):
    answer = assistant.ask(question)
    wanted = {m.number for m in assistant.evaluation.measures if getattr(m, kind) == number}
    assert set(answer.measures) == wanted, answer.answer[:400]
    names = ("axe", "axis") if kind == "axis" else ("action",)  # the lead speaks the question's language
    assert any(f"{name} {number} «" in answer.answer for name in names), answer.answer[:200]
    assert not framing_problems(answer, assistant.evaluation)


@pytest.mark.parametrize("question, axis, action", [
    ("Dans l'axe sur la lutte, quelles mesures ?", True, False),
    ("Quelles mesures de l'action 14 ?", False, True),
    ("the action on victims' care", False, True),
    ("l'axe sur la coordination de l'action publique", True, False),
    ("the axis on coordinating public action", True, False),
    ("Quelles actions publiques ?", False, False),
])
def test_a_part_is_named_by_its_kind_not_by_a_title_phrase(question, axis, action):
    from traite_qa.vocabulary import names_part

    assert (names_part(question, "axis"), names_part(question, "action")) == (axis, action)


@pytest.mark.slow
@pytest.mark.parametrize("question", ["Quelles mesures ont été entièrement réalisées ?",
                                      "Which measures did the CNCDH rate as fully implemented?"])
def test_the_plan_under_a_status_is_listed_from_annex_2(assistant, question):
    answer = assistant.ask(question)
    wanted = {m.number for m in assistant.evaluation.measures_with(status=Status.REALISEE)}
    assert set(answer.measures) == wanted, answer.answer[:400]
    assert not part_problems(answer, assistant.evaluation)


@pytest.mark.slow
def test_a_topic_that_is_no_part_of_the_plan_keeps_the_topic_models_list(assistant):
    topics = assistant.responders[Route.TOPIC_LIST]
    question = "Quelles mesures parlent des mariages forcés ?"
    query = assistant.understand(question)
    p = topics.model.probabilities(topics.features(query))
    q = topics.scope_model.probabilities(topics.scopes.features(query, p, topics.model.threshold, None))
    assert q.max() < topics.scope_model.threshold
    above = {i + 1 for i in np.flatnonzero(p >= topics.model.threshold)} or {int(np.argmax(p)) + 1}
    assert set(assistant.ask(question).measures) == above


@pytest.mark.slow
def test_a_lead_that_claims_a_whole_part_is_checked_against_the_structure(assistant):
    answer = assistant.ask("Quelles mesures composent l'action consacrée au soutien des associations, et où en sont-elles ?")
    assert not part_problems(answer, assistant.evaluation)
    # The same lead above one measure too many, or over another action: flagged.
    extra = "\n- **Mesure 29** « x » (axe 3) — réalisée [Mesure 29]"
    assert part_problems(replace(answer, answer=answer.answer + extra), assistant.evaluation)
    other = answer.answer.replace("l'action 11 «", "l'action 10 «", 1)
    assert other != answer.answer and part_problems(replace(answer, answer=other), assistant.evaluation)
    # The part's title and its axis are the document's.
    title = answer.answer.replace("« Soutenir les associations »", "« Soutenir les entreprises »", 1)
    assert title != answer.answer and part_problems(replace(answer, answer=title), assistant.evaluation)
    moved = answer.answer.replace("(axe 3) ;", "(axe 4) ;", 1)
    assert moved != answer.answer and part_problems(replace(answer, answer=moved), assistant.evaluation)
    # A status named in the lead narrows what "all" means, and says so: a bare
    # « (partiellement réalisée) » read as the status of all the part's measures.
    plan = assistant.ask("Which measures did the CNCDH rate as fully implemented?")
    assert plan.answer.startswith("All the plan's measures (only those rated implemented, « Réalisée »)"), plan.answer[:200]
    wrong = plan.answer.replace("implemented, « Réalisée »)", "not implemented, « Non réalisée »)", 1)
    assert wrong != plan.answer and part_problems(replace(plan, answer=wrong), assistant.evaluation)
    # The count it gives is the number listed.
    counted = plan.answer.replace("per annex 2 (3):", "per annex 2 (4):", 1)
    assert counted != plan.answer and part_problems(replace(plan, answer=counted), assistant.evaluation)


def test_a_part_the_question_is_not_closest_to_is_not_named_in_the_lead(assistant, monkeypatch):
    """The lead names the part: an axis or action not named by number must be
    the one whose title the question comes closest to (cos_gap 0), whatever
    the scope model's probability; else the topic model's list stands."""
    topics = assistant.responders[Route.TOPIC_LIST]
    cards = topics.scopes
    i = next(k for k, s in enumerate(cards.scopes) if s.kind == "action" and s.number == 13)
    x = np.zeros((len(cards.scopes), len(SCOPE_FEATURES)))
    q = np.zeros(len(cards.scopes))
    q[i] = 0.99
    monkeypatch.setattr(cards, "features", lambda *args: x)
    monkeypatch.setattr(topics.scope_model, "probabilities", lambda _: q)
    query = assistant.understand("Quelles mesures relèvent de cette action ?")
    p = np.zeros(len(assistant.evaluation.measures))
    gap, named = SCOPE_FEATURES.index("cos_gap"), SCOPE_FEATURES.index("named")
    x[i, gap] = -0.02  # another action's title is closer
    assert topics._part(query, p, None, None) is None
    x[i, named] = 1.0  # "l'action 13"
    assert topics._part(query, p, None, None)[0].number == 13
    x[i, named], x[i, gap] = 0.0, 0.0  # the closest title
    assert topics._part(query, p, None, None)[0].number == 13
