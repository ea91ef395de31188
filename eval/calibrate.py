"""Calibrate the no-evidence gate's floors on the dev split, per language.

    python -m eval.calibrate

For every dev question (blind set) and every question of the curated set
that expects a refusal (off-topic, unanswerable), it reads the best passage's
cosine and the share of the question's words the document lacks, then prints,
per language, the floor that refuses the most off-topic questions while
refusing no answerable dev question. The chosen values go in
`Settings.tuning` (floor_fr, floor_en, max_absent_share).
"""

from __future__ import annotations

import sys

from traite_qa import Assistant

from .blind import load as load_blind
from .common import load_questions


def readings(assistant) -> list[tuple[str, bool, float, float, str]]:
    """(language, should_refuse, best cosine, absent share, question) per calibration question."""
    responder = assistant.retrieval
    out = []
    items = [(q.question, not q.answerable) for q in load_blind() if q.split == "dev"]
    items += [(q.question, True) for q in load_questions() if q.expect_status == "no_evidence" and q.question.strip()]
    for text, refuse in items:
        try:
            query = assistant.understand(text)
        except Exception:  # noqa: BLE001 - invalid questions are not gated
            continue
        try:
            top, _, _ = responder.evidence(query)
        except Exception:  # noqa: BLE001 - "mesure 52": not a gate question
            continue
        if not top:
            continue
        best = max(h.dense for h in top)
        out.append((query.language, refuse, best, responder.gate.absent_share(query.core), text))
    return out


def main(argv: list[str]) -> int:
    assistant = Assistant.load()
    rows = readings(assistant)
    share = assistant.settings.tuning.max_absent_share
    for lang in ("fr", "en"):
        mine = [r for r in rows if r[0] == lang]
        answerable = [r[2] for r in mine if not r[1] and r[3] >= share]
        floor = min(answerable) if answerable else 1.0
        caught = [r for r in mine if r[1] and r[2] < floor and r[3] >= share]
        refusals = [r for r in mine if r[1]]
        print(f"{lang}: {len(mine)} questions; answerable questions with absent share >= {share}: {len(answerable)}; "
              f"lowest cosine among them {floor:.3f} -> floor_{lang} = {floor - 0.001:.3f} catches "
              f"{len(caught)}/{len(refusals)} questions that should be refused")
        for r in sorted(refusals, key=lambda r: r[2]):
            print(f"   refuse? cos={r[2]:.3f} absent={r[3]:.2f} {'CAUGHT' if r in caught else '      '} {r[4][:80]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
