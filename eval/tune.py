"""Grid-search the evidence-selection weights on the eval questions that take
the retrieval route (structured intents do not use them).

    python -m eval.tune

Prints the best settings by number of correct answers. The chosen values live
in `traite_qa.evidence` (W_*) and `traite_qa.answer` (CHOOSE_MARGIN,
EVIDENCE_PASSAGES); prefer a setting whose neighbours score as well, not a lone peak.
"""

from __future__ import annotations

import itertools

from traite_qa import answer as A
from traite_qa import evidence as E
from traite_qa import intents as I

from .common import answer_correct, load_questions

GRID = {
    "W_LEXICAL": (0.1, 0.25, 0.4),
    "W_PRIOR": (0.0, 0.03, 0.08),
    "CHOOSE_MARGIN": (0.02, 0.03, 0.05),
    "EVIDENCE_PASSAGES": (4, 6, 8),
    "W_NUMBER": (0.03, 0.06),
}


def main() -> None:
    assistant = A.Assistant.load()
    assistant.warm_up()
    questions = []
    for q in load_questions():
        if not q.question.strip() or q.expect_status != "answered":
            continue
        route = assistant.router.route(q.question, list(q.history) or None).name
        if route in (I.SEARCH, I.STATUS_SEARCH, I.MEASURE_QUESTION):
            questions.append(q)
    print(f"{len(questions)} questions take the retrieval route")
    current = {name: getattr(E if name.startswith("W_") else A, name) for name in GRID}
    results = []
    for values in itertools.product(*GRID.values()):
        for name, value in zip(GRID, values):
            setattr(E if name.startswith("W_") else A, name, value)
        correct = sum(answer_correct(q, assistant.ask(q.question, list(q.history) or None).to_dict())[0] for q in questions)
        results.append((correct, dict(zip(GRID, values))))
    results.sort(key=lambda r: -r[0])
    for correct, values in results[:10]:
        print(correct, values)
    print("current", current, [c for c, v in results if v == current])


if __name__ == "__main__":
    main()
