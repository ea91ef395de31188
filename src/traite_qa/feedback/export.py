"""Rated answers -> candidate entries for eval/questions.yaml.

One entry per answer (all its ratings together), answers rated down first.
An entry is in the question set's format (`id`, `kind`, `question`, `gold`,
`expect`, `expect_status`), so `eval.common.load_questions` reads the file
as it is; the passages the system cited are its candidate gold, `expect` is
left for the maintainer, and `review`, `feedback` and `system` (ignored by
the loader) say what to check and what the users said.
"""

from __future__ import annotations

from collections import Counter

import yaml

from .model import FeedbackRecord

# The answer's route -> the question set's kind (eval/common.py KINDS).
KIND_OF_INTENT = {"status": "status", "status_by_search": "status", "acronym": "acronym", "footnote": "footnote",
                  "aggregate": "aggregate"}
SECTION_OF_KIND = {"table": "tableau", "preamble": "preambule", "conclusion": "bilan"}
HEADER = """\
# Candidate questions from user feedback (`traite-qa feedback export`, {when}).
# {n} answers rated by users: {down} rated down, {up} rated up only.
# For each entry: check `gold` (the passages the system cited, not verified),
# write `expect` (regexes a correct answer must contain), fix `kind` and
# `expect_status`, add `history` for a follow-up, then drop `review`,
# `feedback` and `system` and move the entry into eval/questions.yaml
# (mark it `xfail: "<why>"` if the system still gets it wrong).
# Try them as they are: TRAITE_QA_EVAL_QUESTIONS=<this file> pytest eval/test_questions.py::test_question
"""


def candidates(records: list[FeedbackRecord]) -> list[dict]:
    groups: dict[str, list[FeedbackRecord]] = {}
    for record in records:
        groups.setdefault(record.answer_id, []).append(record)
    ordered = sorted(groups.values(), key=lambda rs: max(r.created_at for r in rs), reverse=True)
    ordered.sort(key=lambda rs: not any(r.rating == "down" for r in rs))  # stable: rated down first, newest first
    return [_entry(rs) for rs in ordered]


# libyaml's emitter when PyYAML was built with it (the wheels are): 50 times
# faster than the pure-Python one on long answers, for the same text.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(value) -> str:
    return yaml.dump(value, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, width=120)


def write_yaml(out, counts: dict, groups, when: str) -> int:
    """The same file as to_yaml, written to `out` one entry at a time from
    `FeedbackStore.export_groups` (memory holds one answer's ratings); returns
    the number of entries."""
    out.write(HEADER.format(when=when, n=counts["answers"], down=counts["down"], up=counts["answers"] - counts["down"]))
    n = 0
    for records in groups:
        # One-item lists, dumped one after the other, make the same block list.
        out.write(_dump([_entry(records)]))
        n += 1
    if not n:
        out.write("[]\n")
    return n


def to_yaml(records: list[FeedbackRecord], when: str) -> str:
    entries = candidates(records)
    down = sum(e["feedback"]["ratings"].get("down", 0) > 0 for e in entries)
    header = HEADER.format(when=when, n=len(entries), down=down, up=len(entries) - down)
    if not entries:
        return header + "[]\n"
    return header + _dump(entries)


def _entry(records: list[FeedbackRecord]) -> dict:
    first = records[0]
    answer = first.answer
    ratings = Counter(r.rating for r in records)
    rated_down = ratings["down"] > 0
    status = answer.get("status", "answered")
    intent = answer.get("intent", "")
    if status == "no_evidence" and not rated_down:
        kind = "unanswerable"
    elif answer.get("language") == "en":
        kind = "english"
    else:
        kind = KIND_OF_INTENT.get(intent, "fact")
    entry = {
        "id": f"feedback-{first.answer_id.removeprefix('ans-')[:12]}",
        "kind": kind,
        "question": first.question,
    }
    gold = _gold(first.citations)
    if gold:
        entry["gold"] = gold
    entry["expect"] = []
    # Rated down: the user expected an answer; rated up: what the system said stands.
    entry["expect_status"] = "answered" if rated_down else status
    entry["review"] = "TODO: " + (
        "users rated this answer down: find the passages that do answer it, fix `gold`, write `expect`"
        if rated_down else "users rated this answer up: check `gold` and write `expect` from the answer below"
    )
    entry["feedback"] = {
        "ratings": {r: ratings[r] for r in ("up", "down") if ratings[r]},
        "reasons": sorted({r.reason for r in records if r.reason}),
        "comments": [r.comment for r in records if r.comment],
        "last": max(r.created_at for r in records),
    }
    entry["system"] = {
        "status": status,
        "intent": intent,
        "answer": str(answer.get("answer", "")),
        "cited": [c.get("id") for c in first.citations],
        "model_fingerprint": first.model_fingerprint,
    }
    return entry


def _gold(citations: list[dict]) -> dict:
    gold: dict[str, list] = {}

    def add(key: str, value) -> None:
        if value is not None and value not in gold.setdefault(key, []):
            gold[key].append(value)

    for c in citations:
        kind = c.get("kind")
        if kind == "measure":
            for m in c.get("measures") or ():
                add("measures", m)
        elif kind == "footnote":
            add("footnotes", c.get("footnote"))
        elif kind == "acronym":
            add("acronyms", c.get("acronym"))
        elif kind in SECTION_OF_KIND:
            add("sections", SECTION_OF_KIND[kind])
    return {k: v for k, v in gold.items() if v}
