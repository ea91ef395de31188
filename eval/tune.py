"""Grid-search the evidence-selection weights on the questions that take the
retrieval route (structured routes do not use them).

    python -m eval.tune

Prints the best settings by number of correct answers. Each candidate is a
`Settings.with_(...)` copy (the tuning group, `traite_qa.settings.Tuning`);
prefer a setting whose neighbours score as well, not a lone peak.
"""

from __future__ import annotations

import itertools

from traite_qa import Assistant, Route
from traite_qa.search import Searcher

from .common import answer_correct, load_questions

GRID = {
    "w_lexical": (0.1, 0.25, 0.4),
    "w_prior": (0.0, 0.03, 0.08),
    "choose_margin": (0.02, 0.03, 0.05),
    "evidence_passages": (4, 6, 8),
    "w_number": (0.03, 0.06),
}
RETRIEVAL_ROUTES = (Route.SEARCH, Route.STATUS_SEARCH, Route.MEASURE_QUESTION)


def main() -> None:
    base = Assistant.load()
    base.warm_up()
    questions = []
    for q in load_questions():
        if not q.question.strip() or q.expect_status != "answered":
            continue
        if base.understand(q.question, list(q.history) or None).route in RETRIEVAL_ROUTES:
            questions.append(q)
    print(f"{len(questions)} questions take the retrieval route")
    current = {name: getattr(base.settings.tuning, name) for name in GRID}
    results = []
    for values in itertools.product(*GRID.values()):
        settings = base.settings.with_(**dict(zip(GRID, values)))
        # Same index and model; only the tuning group differs.
        assistant = Assistant(Searcher(base.searcher.data, base.searcher.embedder, settings))
        correct = sum(answer_correct(q, assistant.ask(q.question, list(q.history) or None).to_dict())[0] for q in questions)
        results.append((correct, dict(zip(GRID, values))))
    results.sort(key=lambda r: -r[0])
    for correct, values in results[:10]:
        print(correct, values)
    print("current", current, [c for c, v in results if v == current])


if __name__ == "__main__":
    main()
