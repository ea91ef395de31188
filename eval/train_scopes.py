"""The scope model of `make train` (answer/scopes.py): P(a list question asks
for one part of the plan whole: the plan under a status, an axis, an action).

A part is labelled right for a question when its measures, under the status
the question is read to ask, are exactly the question's gold list. Trained on
train; its cut is chosen on dev by the share of lists that come out right
(recall >= 0.85, as `eval.bank` scores them; ties: the mean F1, then the
higher cut), the topic model's own list standing below the cut. Reported on
every split beside the topic model alone.

    python -m eval.train_scopes     # with the shipped topic model: the figures only
"""

from __future__ import annotations

import sys

import numpy as np

from . import bank
from .train_topics import SEED, history


def scope_rows(assistant, topic_p_of, questions: list[bank.BankQuestion]):
    """Per list question: (scope features, scope labels, topic p, gold measures, scope measure sets)."""
    from traite_qa.types import Route

    cards = assistant.responders[Route.TOPIC_LIST].scopes
    out = []
    for q in questions:
        if q.kind != "topic_list" or not q.topic_measures:
            continue
        query = assistant.understand(q.question, history(q))
        statuses = query.status_filter
        p, threshold = topic_p_of(query)
        x = cards.features(query, p, threshold, statuses)
        sets = [frozenset(m.number for m in cards.kept(s, statuses)) for s in cards.scopes]
        gold = frozenset(q.topic_measures)
        y = np.array([bool(s) and s == gold for s in sets], dtype=np.int64)
        topic_list = {int(i) + 1 for i in np.flatnonzero(p >= threshold)} or {int(np.argmax(p)) + 1}
        topic_list = {m for m in topic_list if not statuses or assistant.evaluation.measure(m).status in statuses}
        out.append((x, y, gold, sets, frozenset(topic_list)))
    return out


def scope_data(assistant, ranker, matrix, topics_meta: dict, splits: dict) -> dict[str, list]:
    """scope_rows of every split, with the topic model just trained."""
    from traite_qa.answer.learned import TopicModel
    from traite_qa.answer.topics import TOPIC_FEATURES

    from .train_topics import topic_responder

    responder = topic_responder(assistant, ranker, matrix)
    model = TopicModel({"topics": topics_meta}, TOPIC_FEATURES)

    def topic_p_of(query):
        return model.probabilities(responder.features(query)), model.threshold

    return {name: scope_rows(assistant, topic_p_of, [it.question for it in items]) for name, items in splits.items()}


def outcome(rows, probabilities: list[np.ndarray], cut: float) -> dict:
    """Right lists (recall >= 0.85), mean recall, precision and F1, and how often a part was chosen."""
    right, recalls, precisions, f1s, used = [], [], [], [], 0
    for (x, y, gold, sets, topic_list), p in zip(rows, probabilities):
        best = int(np.argmax(p))
        named = topic_list
        if p[best] >= cut and sets[best]:
            named, used = sets[best], used + 1
        tp = len(named & gold)
        r, pr = tp / len(gold), (tp / len(named) if named else 0.0)
        right.append(r >= 0.85)
        recalls.append(r)
        precisions.append(pr)
        f1s.append(0.0 if tp == 0 else 2 * r * pr / (r + pr))
    n = max(1, len(rows))
    return {"n": len(rows), "right": float(np.mean(right)), "recall": float(np.mean(recalls)),
            "precision": float(np.mean(precisions)), "f1": float(np.mean(f1s)), "parts_used": used / n}


def train_scopes(data: dict[str, list]) -> tuple[dict, dict]:
    """`data`: split -> scope_rows. Returns (meta for models.json, report)."""
    from sklearn.linear_model import LogisticRegression

    from traite_qa.answer.scopes import SCOPE_FEATURES

    x = np.vstack([r[0] for r in data["train"]])
    y = np.concatenate([r[1] for r in data["train"]])
    mean, scale = x.mean(0), x.std(0) + 1e-9
    tried = []
    for c in (0.01, 0.1, 1.0, 10.0):
        model = LogisticRegression(C=c, max_iter=5000, random_state=SEED).fit((x - mean) / scale, y)
        dev_p = [model.predict_proba((r[0] - mean) / scale)[:, 1] for r in data["dev"]]
        for cut in np.arange(0.2, 0.951, 0.05):
            o = outcome(data["dev"], dev_p, float(cut))
            tried.append((o["right"], o["f1"], float(round(cut, 2)), c, model))
    _, _, cut, c, model = max(tried, key=lambda t: t[:3])
    report = {}
    for name, rows in data.items():
        p = [model.predict_proba((r[0] - mean) / scale)[:, 1] for r in rows]
        report[f"scopes_{name}"] = outcome(rows, p, cut)
        report[f"scopes_off_{name}"] = outcome(rows, p, 2.0)  # the topic model alone
    meta = {"features": list(SCOPE_FEATURES), "C": c, "threshold": cut, "mean": mean.tolist(),
            "scale": scale.tolist(), "coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0])}
    return meta, report


def main() -> int:
    import json

    from traite_qa.answer.assistant import Assistant
    from traite_qa.types import Route

    assistant = Assistant.load(progress=False)
    topics = assistant.responders[Route.TOPIC_LIST]

    def topic_p_of(query):
        return topics.model.probabilities(topics.features(query)), topics.model.threshold

    data = {name: scope_rows(assistant, topic_p_of, bank.load_split(name)) for name in ("train", "dev", "test")}
    meta, report = train_scopes(data)
    print(json.dumps(report, indent=1))
    print("C", meta["C"], "cut", meta["threshold"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
