"""Blind judging: readers who see only the document, the question and the
answer score usefulness (0/1/2) and flag false statements in the answer's own
words (outside « quotes »).

    python -m eval.judge export test DIR --parts 4   # the answers to judge, in DIR/part-N.yaml
    python -m eval.judge export fresh2 DIR --parts 2 # the sealed fresh set (eval/bank/fresh2.yaml)
    python -m eval.judge tally DIR...                # mean usefulness, false statements (eval/out/judged.json)

The export holds the question (and the earlier turns of a follow-up) and the
answer text with its citations; never the gold, the kind or the system's
notes, so the judge reads the answer as a user would.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from . import bank

OUT = Path(__file__).resolve().parent / "out"
JUDGE_BRIEF = """\
# Judging answers, blind

You judge the answers of a question-answering assistant over ONE French document, the CNCDH's evaluation
(12 January 2023) of France's 2nd national action plan against trafficking in human beings (2019-2021):

    /work/shared/corpus/cncdh-evaluation-pna-traite-2019-2021.txt

Read it first. Then, for each item of your file (a question, sometimes after earlier turns, and the assistant's
answer), decide as the person who asked would:

- usefulness: 2 = answers the question correctly and usefully; 1 = relevant evidence but incomplete, or the
  user must dig; 0 = wrong, beside the point, or a refusal when the document does answer. A refusal of a question
  the document really does not answer ("Le document ne répond pas ...", "Je ne trouve pas ...") is 2 when the
  document indeed lacks the answer.
- false: the list of FALSE STATEMENTS in the assistant's OWN words, i.e. text OUTSIDE « quotes » (the lead
  sentence, a Oui / Non, a status, a count, "the document does not mention X"). Quotes in « » are verbatim from
  the document and are not judged as statements, but a lead that misrepresents them is. Check each own-words claim
  against the document. Leave the list empty when there is none.

Do not open anything but the document and your file. Write your verdicts to the output file your task names, a
YAML list, one entry per item, in order:

    - id: <the item's id>
      usefulness: 0 | 1 | 2
      "false": []          # or ["the lead says Oui but measure 16 was not carried out", ...]
      note: "short reason"

Finish with one line: the number of items judged, the mean usefulness, and the number of items with a false
statement.
"""


def export(split: str, folder: Path, parts: int) -> None:
    from traite_qa import Assistant

    questions = bank.load_split(split)
    assistant = Assistant.load(progress=False)
    items = []
    for q in questions:
        answer = bank.ask(assistant, q)
        cited = [{"marker": c.marker, "title": c.hit.title or c.hit.header, "quotes": list(c.quotes)}
                 for c in answer.citations]
        items.append({"id": q.id, "earlier_turns": list(q.history), "question": q.question,
                      "answer": answer.answer, "citations": cited})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "BRIEF.md").write_text(JUDGE_BRIEF, encoding="utf-8")
    for k in range(parts):
        part = items[k::parts]
        (folder / f"part-{k + 1}.yaml").write_text(yaml.safe_dump(part, allow_unicode=True, sort_keys=False, width=120),
                                                  encoding="utf-8")
    print(f"{len(items)} answers in {parts} parts under {folder}")


def tally(folders: list[Path]) -> dict:
    verdicts = []
    for folder in folders:
        for path in sorted(folder.glob("verdicts-*.yaml")):
            verdicts += yaml.safe_load(path.read_text(encoding="utf-8")) or []
    n = len(verdicts)
    out = {
        "judged": n,
        "usefulness_mean": sum(int(v.get("usefulness", 0)) for v in verdicts) / n if n else None,
        # A bare `false:` key reads as the boolean False in YAML.
        "with_false_statement": sum(bool(v.get("false") or v.get(False)) for v in verdicts),
        "usefulness_counts": {k: sum(int(v.get("usefulness", 0)) == k for v in verdicts) for k in (0, 1, 2)},
        "folders": [str(f) for f in folders],
    }
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["export"] and len(argv) >= 3:
        parts = int(argv[argv.index("--parts") + 1]) if "--parts" in argv else 1
        export(argv[1], Path(argv[2]), parts)
        return 0
    if argv[:1] == ["tally"]:
        results = {}
        for folder in argv[1:]:
            results[Path(folder).name] = tally([Path(folder)])
        OUT.mkdir(exist_ok=True)
        (OUT / "judged.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
        print(json.dumps(results, indent=1))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
