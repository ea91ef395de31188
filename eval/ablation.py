"""Each learned part on and off, on the bank's dev and test splits (test as
aggregates), so a rule stays only where it beats its learned replacement on
both.

    python -m eval.ablation          # eval/out/ablation.json and a table

Variants (one model in memory, one index; only the settings change):
- rules: the hand-weighted evidence score and cosine floors (Tuning.learned=False);
- learned + gate rules: the sentence ranker and answerability, plus the gate's
  checks for a country, a year, a value kind or an organisation (the default);
- learned only: the same without those checks (Tuning.gate_rules=False).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import bank

VARIANTS = {"rules": {"learned": False}, "learned + gate rules": {"gate_rules": True},
            "learned only": {"gate_rules": False}}
METRICS = ("accuracy", "gold@5", "quoted", "facts", "answerable_refused", "unanswerable_refused", "topic_recall",
           "topic_precision")


def main(argv: list[str]) -> int:
    from traite_qa import Assistant
    from traite_qa.search import Searcher

    base = Assistant.load(progress=False)
    results = {}
    for name, changes in VARIANTS.items():
        searcher = Searcher(base.searcher.data, base.searcher.embedder, base.settings.with_(**changes))
        assistant = Assistant(searcher)
        results[name] = {split: bank.aggregate(bank.run(assistant, bank.load(split)))["overall"]
                         for split in ("dev", "test")}
        print(name, {s: {m: round(v[m], 3) for m in METRICS if v.get(m) is not None} for s, v in results[name].items()},
              flush=True)
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "ablation.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
