"""Which part of the plan a list question asks for, as a whole.

Most list questions of the blind bank ask for a part of the plan's own
structure: "the measures of the action on improving knowledge", "the axis on
coordinating public action, measure by measure", "the measures rated fully
achieved" (the whole plan, under a status). Their gold list is that part's
measures, all of them; the topic model, which judges each measure on its own,
left some out (dev: 27 of 48 lists missed a measure).

So every part is a candidate (the whole plan, each axis, each action), read by
a logistic regression trained on the bank's list questions (`make train`,
eval/train_scopes.py): how close the question comes to the part's title,
densely and by its words, whether it names the part, and how the topic model's
probabilities fall inside and outside it. When the best part's probability
clears the cut chosen on dev, the list is that part's measures, complete, and
the lead names the part; otherwise the topic model's list stands.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from ..document import Evaluation, Status
from ..search import Searcher, ranks
from ..search.expansion import expand
from ..text import analyze, word_set
from ..types import Query
from ..vocabulary import names_part

SCOPE_FEATURES = ("is_plan", "is_axis", "is_action", "named", "cos", "cos_gap", "cos_rank", "lex_question",
                  "lex_title", "p_mean", "p_min", "chosen_inside", "chosen_covered", "log_size", "status_asked",
                  "english", "plan_p_max", "plan_lex_best", "plan_status", "plan_specific", "kind_named")
# The share of measures whose axis, action and title hold a word: a question
# with no word held by at most this share of them names no topic ("réalisée",
# "CNCDH" and "considère" are in no title), so it may ask for the whole plan.
SPECIFIC = 0.25


@dataclass(frozen=True)
class Scope:
    """A part of the plan: `kind` is "plan", "axis" or "action"."""

    kind: str
    number: int
    title: str
    measures: tuple[int, ...]


class ScopeCards:
    """The plan's parts and their titles, embedded once per process on first use."""

    def __init__(self, evaluation: Evaluation, searcher: Searcher):
        self.evaluation = evaluation
        self.searcher = searcher
        every = tuple(m.number for m in evaluation.measures)
        scopes = [Scope("plan", 0, "", every)]
        scopes += [Scope("axis", a.number, a.label, tuple(m.number for m in evaluation.measures_with(axis=a.number)))
                   for a in evaluation.axes]
        scopes += [Scope("action", a.number, a.label,
                         tuple(m.number for m in evaluation.measures_with(action=a.number)))
                   for a in evaluation.actions]
        self.scopes = tuple(scopes)
        self.words = [set(analyze(s.title)) for s in self.scopes]
        counts: dict[str, int] = {}
        for m in evaluation.measures:
            card = f"{evaluation.axis(m.axis).label} {evaluation.action(m.action).label} {m.title}"
            for w in word_set(card):
                counts[w] = counts.get(w, 0) + 1
        self.share = {w: n / len(evaluation.measures) for w, n in counts.items()}
        self._vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    def texts(self) -> list[str]:
        return [f"{'Axe' if s.kind == 'axis' else 'Action'} {s.number} : {s.title}" if s.kind != "plan"
                else "Le plan national d'action contre la traite des êtres humains (2019-2021)" for s in self.scopes]

    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    self._vectors = self.searcher.embedder.embed_documents(self.texts())
        return self._vectors

    def features(self, query: Query, topic_p: np.ndarray, threshold: float, statuses: tuple[Status, ...]) -> np.ndarray:
        """(scopes, SCOPE_FEATURES) for one list question; `topic_p` is the topic
        model's probability of every measure, in measure order."""
        cos = self.vectors() @ self.searcher.query_vector(query)
        words = set(analyze(expand(query.core, query.english)))
        chosen = set(np.flatnonzero(topic_p >= threshold).tolist()) or {int(np.argmax(topic_p))}
        kinds = np.array([s.kind for s in self.scopes])
        out = np.zeros((len(self.scopes), len(SCOPE_FEATURES)), np.float64)
        lex_q = np.array([len(words & w) / max(1, len(words)) for w in self.words])
        lex_t = np.array([len(words & w) / max(1, len(w)) for w in self.words])
        for kind in ("axis", "action"):
            idx = np.flatnonzero(kinds == kind)
            out[idx, 5] = cos[idx] - cos[idx].max()
            out[idx, 6] = np.log1p(ranks(cos[idx]))
        refs = query.refs
        for i, s in enumerate(self.scopes):
            inside = [m - 1 for m in s.measures]
            hit = len(chosen & set(inside))
            out[i, :3] = (s.kind == "plan", s.kind == "axis", s.kind == "action")
            out[i, 3] = float(s.kind == "axis" and s.number in refs.axes or s.kind == "action" and s.number in refs.actions)
            out[i, 4] = cos[i] if s.kind != "plan" else 0.0
            out[i, 7], out[i, 8] = lex_q[i], lex_t[i]
            out[i, 9], out[i, 10] = float(topic_p[inside].mean()), float(topic_p[inside].min())
            out[i, 11], out[i, 12] = hit / len(chosen), hit / len(inside)
            out[i, 13] = math.log1p(len(self.kept(s, statuses)))
        out[:, 14] = float(bool(statuses))
        out[:, 15] = float(query.english)
        plan = kinds == "plan"
        out[plan, 16] = float(topic_p.max())
        out[plan, 17] = float(lex_q[~plan].max())
        out[plan, 18] = float(bool(statuses))
        out[plan, 19] = sum(0 < self.share.get(w, 0) <= SPECIFIC for w in words)
        out[kinds == "axis", 20] = float(names_part(query.core, "axis"))
        out[kinds == "action", 20] = float(names_part(query.core, "action"))
        return out

    def kept(self, scope: Scope, statuses: tuple[Status, ...]) -> list:
        """The part's measures under the statuses asked (any when none), in the plan's order."""
        return [m for m in (self.evaluation.measure(n) for n in scope.measures) if not statuses or m.status in statuses]
