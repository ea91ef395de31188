"""Hand rules, counted: the hand-written tables (src/traite_qa/data/*.yaml) and
the code that applies them, in non-blank, non-comment lines.

    python -m eval.rules_count      # eval/out/rules.json and a table

Which modules count: those whose job is to read words by hand-written lists
or patterns (question cues, politeness, value kinds, language, routing,
follow-ups, expansion, the gate's checks, the sentence pickers, the claim
verifiers). The learned parts, the parser of the document's own structure and
the plumbing do not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "traite_qa"
RULE_MODULES = {
    "answering": ["understand/form.py", "understand/courtesy.py", "understand/answer_type.py", "understand/language.py",
                  "understand/route.py", "understand/followup.py", "search/expansion.py", "answer/gate.py",
                  "answer/structured.py", "vocabulary.py"],
    "verifying": ["answer/claims.py", "answer/claim_text.py", "answer/verify.py"],
}


def code_lines(path: Path) -> int:
    n, in_doc = 0, False
    for line in path.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if in_doc:
            # A docstring closes where its quotes are, often at the end of a text line.
            in_doc = not ('"""' in s or "\'\'\'" in s)
            continue
        if s.startswith(('"""', "'''")):
            in_doc = not (len(s) > 3 and s.endswith(('"""', "'''")))
            continue
        if not s or s.startswith("#"):
            continue
        n += 1
    return n


def main(argv: list[str]) -> int:
    out: dict = {"tables": {}, "answering": {}, "verifying": {}}
    for path in sorted((SRC / "data").glob("*.yaml")):
        out["tables"][path.name] = code_lines(path)
    for group, modules in RULE_MODULES.items():
        for module in modules:
            if (SRC / module).exists():
                out[group][module] = code_lines(SRC / module)
    out["total_answering"] = sum(out["tables"].values()) + sum(out["answering"].values())
    out["total_verifying"] = sum(out["verifying"].values())
    target = Path(__file__).resolve().parent / "out"
    target.mkdir(exist_ok=True)
    (target / "rules.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
