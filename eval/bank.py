"""The question bank (eval/bank/*.yaml): blind-written questions for training,
tuning and testing the learned parts, split so that paraphrases of one fact
never straddle two splits.

    python -m eval.bank collect DIR...     # merge writers' files into eval/bank/questions.yaml (checked)
    python -m eval.bank stats              # counts per split, kind, language, style
    python -m eval.bank score [--split dev] [--show] [--json]   # a split (test, fresh2-5: aggregates only)
    python -m eval.bank from-feedback FILE # reviewed entries of `traite-qa feedback export` join train (eval/bank/feedback.yaml)

Splits. A question's first gold sentence (the one that answers) is mapped to
the document sentences it overlaps; questions sharing one are one group
(union-find), and a group goes whole to
train, dev or test by a fixed hash of its first document sentence (60/20/20).
Questions with no gold (unanswerable, off-topic) are grouped by their text.
The earlier blind sets (eval/blind/questions.yaml and fresh.yaml) are grouped
with the bank: 74% of the bank's answerable questions share their answer
sentence with one of them, so forcing them all into test would leave too little
to train on; those whose fact falls in test join test, the rest are train or dev.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

EVAL_DIR = Path(__file__).resolve().parent
BANK_DIR = EVAL_DIR / "bank"
BANK = BANK_DIR / "questions.yaml"
# Reviewed user questions (`python -m eval.bank from-feedback`): train only.
FEEDBACK = Path(os.environ.get("TRAITE_QA_BANK_FEEDBACK") or BANK_DIR / "feedback.yaml")
SOURCE = EVAL_DIR.parent / "index" / "source" / "cncdh-evaluation-pna-traite-2019-2021.txt"
KINDS = ("paraphrase", "fact", "status", "yes_no", "topic_list", "synthesis", "followup", "unanswerable", "offtopic")
UNANSWERABLE = ("unanswerable", "offtopic")
# Sets written blind after the system was built, never trained or tuned on:
# fresh2 (200, before the learned parts were trained), fresh3 (195, written at
# the start of the session that reports it, judged once at its end), fresh4
# (194, the same way, one session later), fresh5 (195, one session later
# still, written while that session's code was built, judged once at its end),
# fresh6 (195, the same way, one session later), fresh7 (195, written at the
# start of the next session and scored and judged once, at the code that
# session started from), fresh8 (195, written at the start of the session
# after, scored and judged once at its final code), fresh9 (195, written in
# the next session once its answer code had changed, scored and judged once
# at its final code), fresh10 (195, the same way, one session later), fresh11
# (195, the same way, one session later still), fresh12 (195, the same way,
# the session after).
SEALED = ("fresh2", "fresh3", "fresh4", "fresh5", "fresh6", "fresh7", "fresh8", "fresh9", "fresh10", "fresh11",
          "fresh12")


@dataclass(frozen=True)
class BankQuestion:
    id: str
    kind: str
    question: str
    lang: str = "fr"
    style: str = "normal"
    persona: str = ""
    history: tuple[str, ...] = ()
    gold_sentences: tuple[str, ...] = ()
    measures: tuple[int, ...] = ()
    footnotes: tuple[int, ...] = ()
    sections: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()
    status: str | None = None
    topic_measures: tuple[int, ...] = ()
    yes_no: str | None = None
    answer: str = ""
    origin: str = "bank"  # bank | blind | fresh
    split: str = ""

    @property
    def answerable(self) -> bool:
        return self.kind not in UNANSWERABLE

    @property
    def scored_kind(self) -> str:
        """The kind the blind scorer knows: follow-ups are scored as plain questions."""
        return {"followup": "paraphrase", "offtopic": "unanswerable"}.get(self.kind, self.kind)


@lru_cache(maxsize=1)
def source_text() -> str:
    return SOURCE.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _doc_sentences() -> list[tuple[int, int]]:
    from traite_qa.text import sentence_spans

    return sentence_spans(source_text())


def gold_spans(gold: tuple[str, ...]) -> list[tuple[int, int]]:
    text = source_text()
    return [(i, i + len(g)) for g in gold if (i := text.find(g)) >= 0]


def doc_sentence_ids(gold: tuple[str, ...]) -> list[int]:
    out = []
    for s, e in gold_spans(gold):
        out += [k for k, (a, b) in enumerate(_doc_sentences()) if a < e and s < b]
    return sorted(set(out))


def _bucket(key: str) -> str:
    h = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big") % 10
    return "train" if h < 6 else "dev" if h < 8 else "test"


def assign_splits(items: list[BankQuestion]) -> list[BankQuestion]:
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[int, int] = {}
    keys: dict[int, str] = {}
    for i, q in enumerate(items):
        # The primary gold sentence (the first) names the fact: paraphrases share
        # it. Linking by every gold sentence chains lists and syntheses into one
        # component that would leave nothing to train on.
        ids = doc_sentence_ids(q.gold_sentences[:1])
        keys[i] = f"s{ids[0]}" if ids else "q" + re.sub(r"\W+", " ", q.question.lower()).strip()
        for sid in ids:
            if sid in owner:
                parent[find(i)] = find(owner[sid])
            else:
                owner[sid] = i
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(items)):
        groups[find(i)].append(i)
    out = list(items)
    for members in groups.values():
        split = _bucket(min(keys[i] for i in members))
        for i in members:
            out[i] = _with(items[i], split=split)
    return out


def _with(q: BankQuestion, **changes) -> BankQuestion:
    from dataclasses import replace

    return replace(q, **changes)


def _from_item(it: dict, origin: str) -> BankQuestion:
    kind = it["kind"]
    lang = it.get("lang") or ("en" if kind == "english" else "fr")
    if kind == "english":  # the earlier blind sets: English is a language, the subkind the kind
        kind = it.get("subkind") or "paraphrase"
    if kind == "english":
        kind = "paraphrase"
    return BankQuestion(
        id=str(it["id"]), kind=kind, question=str(it["question"]), lang=lang, style=it.get("style") or "normal",
        persona=it.get("persona", ""), history=tuple(str(h) for h in it.get("history") or ()),
        gold_sentences=tuple(it.get("gold_sentences") or ()), measures=tuple(it.get("measures") or ()),
        footnotes=tuple(it.get("footnotes") or ()), sections=tuple(it.get("sections") or ()),
        expect=tuple(str(e) for e in it.get("expect") or ()), status=it.get("status"),
        topic_measures=tuple(it.get("topic_measures") or ()), yes_no=(str(it["yes_no"]).lower() if it.get("yes_no") else None),
        answer=str(it.get("answer") or ""), origin=origin,
    )


@lru_cache(maxsize=1)
def load_all() -> tuple[BankQuestion, ...]:
    items = [_from_item(it, "bank") for it in yaml.safe_load(BANK.read_text(encoding="utf-8")) or []]
    blind_dir = EVAL_DIR / "blind"
    for name, origin in (("questions.yaml", "blind"), ("fresh.yaml", "fresh")):
        path = blind_dir / name
        if path.exists():
            items += [_from_item(it, origin) for it in yaml.safe_load(path.read_text(encoding="utf-8"))]
    if FEEDBACK.exists():
        items += [_from_item(it, "feedback") for it in yaml.safe_load(FEEDBACK.read_text(encoding="utf-8")) or []]
    # Real users' questions are split by their gold sentence like the rest; one
    # whose fact falls in dev or test is left out rather than added there, so
    # the held-out figures stay comparable from one training to the next.
    return tuple(q for q in assign_splits(items) if q.origin != "feedback" or q.split == "train")


def from_feedback(path: Path) -> tuple[int, Counter]:
    """Reviewed entries of a `traite-qa feedback export` file (`reviewed: true`,
    with the bank's fields: `kind`, verbatim `gold_sentences`, ...) appended to
    FEEDBACK, checked as the bank's own questions are; returns (added, dropped)."""
    kept = yaml.safe_load(FEEDBACK.read_text(encoding="utf-8")) or [] if FEEDBACK.exists() else []
    seen = {re.sub(r"\W+", " ", str(it["question"]).lower()).strip() for it in kept}
    added, dropped = 0, Counter()
    for it in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
        if not it.get("reviewed"):
            dropped["not reviewed"] += 1
            continue
        problems = problems_of(it)
        key = re.sub(r"\W+", " ", str(it.get("question", "")).lower()).strip()
        if problems or key in seen:
            dropped[problems[0].split(":")[0] if problems else "duplicate"] += 1
            continue
        seen.add(key)
        keep = ("kind", "question", "lang", "style", "history", "gold_sentences", "measures", "topic_measures", "status", "yes_no", "answer")
        kept.append({"id": f"feedback-{str(it.get('id', len(kept)))}", **{k: it[k] for k in keep if k in it}})
        added += 1
    FEEDBACK.write_text("# Reviewed questions from user feedback: they join train only (eval/bank.py load_all).\n"
                        + yaml.safe_dump(kept, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
    return added, dropped


def load_split(split: str) -> list[BankQuestion]:
    """train, dev or test of the bank; or a sealed set, fresh2 to fresh12 (eval/bank/<name>.yaml, aggregates only)."""
    if split in SEALED:
        items = yaml.safe_load((BANK_DIR / f"{split}.yaml").read_text(encoding="utf-8"))
        return [_with(_from_item(it, split), split=split) for it in items]
    return load(split)


def load(split: str | None = None, origin: str | None = None) -> list[BankQuestion]:
    return [q for q in load_all() if (split is None or q.split == split) and (origin is None or q.origin == origin)]


# --------------------------------------------------------------- collect
def problems_of(it: dict) -> list[str]:
    text = source_text()
    out = []
    if it.get("kind") not in KINDS:
        out.append(f"kind {it.get('kind')!r}")
    for g in it.get("gold_sentences") or ():
        if g not in text:
            out.append(f"gold not verbatim: {g[:50]!r}")
    if it.get("kind") in UNANSWERABLE and it.get("gold_sentences"):
        out.append("unanswerable with gold")
    if it.get("kind") not in UNANSWERABLE and not it.get("gold_sentences") and it.get("kind") not in ("topic_list", "synthesis"):
        out.append("answerable without gold")
    if it.get("kind") == "followup" and not it.get("history"):
        out.append("follow-up without history")
    if not str(it.get("question") or "").strip():
        out.append("empty question")
    return out


def collect(dirs: list[Path]) -> None:
    merged, dropped, seen = [], Counter(), set()
    for d in dirs:
        for it in yaml.safe_load((d / "questions.yaml").read_text(encoding="utf-8")) or []:
            key = re.sub(r"\W+", " ", str(it.get("question", "")).lower()).strip()
            problems = problems_of(it)
            if problems or key in seen:
                dropped[problems[0].split(":")[0] if problems else "duplicate"] += 1
                continue
            seen.add(key)
            it = {k: v for k, v in it.items() if k not in ("absent_check_cmd",)}
            merged.append(it)
    header = ("# The question bank: written blind by helpers who saw ONLY the document and\n"
              "# eval/bank/BRIEF.md (the users, the kinds): never the code, the other questions or any answer.\n"
              "# Each writer checked every gold sentence against the source (verbatim) and grepped the document\n"
              "# for every unanswerable question's fact (absent_check). Merged by `python -m eval.bank collect`,\n"
              f"# which re-checks them ({sum(dropped.values())} dropped: {dict(dropped)}).\n"
              "# Splits are not stored: eval/bank.py derives them from the gold sentences (train/dev/test).\n")
    BANK.write_text(header + yaml.safe_dump(merged, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
    print(f"{len(merged)} questions kept, dropped {dict(dropped)}")


# ---------------------------------------------------------------- scoring
def ask(assistant, q: BankQuestion):
    """The question as a user asks it: a follow-up after its earlier turns, each
    answered by the assistant, the previous answer's measures carried."""
    history: list[dict] = []
    for turn in q.history:
        previous = assistant.ask(turn, history or None)
        history += [{"role": "user", "content": turn},
                    {"role": "assistant", "content": previous.answer, "measures": dict(previous.measures)}]
    return assistant.ask(q.question, history or None)


def to_blind(q: BankQuestion):
    from .blind import BlindQuestion

    return BlindQuestion(id=q.id, kind=q.scored_kind, question=q.question, persona=q.persona,
                         gold_sentences=q.gold_sentences, measures=q.measures, footnotes=q.footnotes,
                         sections=q.sections, expect=q.expect, status=q.status, topic_measures=q.topic_measures,
                         yes_no=q.yes_no)


@dataclass
class BankScore:
    question: BankQuestion
    score: object  # eval.blind.Score
    extra: dict = field(default_factory=dict)


def run(assistant, questions: list[BankQuestion]) -> list[BankScore]:
    from traite_qa import answer_problems

    from .blind import score

    source = assistant.searcher.data.source
    out = []
    for q in questions:
        answer = ask(assistant, q)
        s = score(to_blind(q), answer.to_dict(), source, assistant.evaluation,
                  answer_problems(answer, assistant.evaluation, source))
        out.append(BankScore(q, s))
    return out


def rewording_kept(assistant) -> dict[str, float]:
    """Per rewording (capitals, no accents, a polite frame, no question mark, a
    typo), the share of the curated questions (eval/questions.yaml) whose answer
    keeps its status and its verdict (correct stays correct)."""
    from .common import answer_correct, load_questions
    from .snapshot import REWORDINGS

    questions = [q for q in load_questions() if not q.history and q.question.strip()]
    base = {q.id: assistant.ask(q.question).to_dict() for q in questions}
    kept = {}
    for name, reword in REWORDINGS.items():
        same = 0
        for q in questions:
            again = assistant.ask(reword(q.question)).to_dict()
            same += base[q.id]["status"] == again["status"] and answer_correct(q, base[q.id])[0] == answer_correct(q, again)[0]
        kept[name] = same / len(questions)
    return kept


def aggregate(scores: list[BankScore]) -> dict[str, dict]:
    """The blind scorer's aggregates per kind, plus per language and style."""
    from .blind import aggregate as blind_aggregate

    groups: dict[str, list] = defaultdict(list)
    for s in scores:
        q = s.question
        for key in ("overall", q.kind, f"lang:{q.lang}", f"style:{q.style}"):
            groups[key].append(s.score)
    out = {}
    for key, ss in groups.items():
        out[key] = blind_aggregate(ss)["overall"]
    return out


COLS = ("n", "accuracy", "gold@5", "quoted", "facts", "topic_recall", "topic_precision", "answerable_refused",
        "unanswerable_refused", "wrong_lead", "wrong_status")


def table(stats: dict[str, dict], title: str) -> str:
    lines = [f"### {title}", "", "| group | " + " | ".join(COLS) + " |", "|---" * (len(COLS) + 1) + "|"]
    order = ["overall", *KINDS, "lang:fr", "lang:en", "style:normal", "style:careless"]
    for key in order:
        if key not in stats:
            continue
        row = stats[key]
        cells = [str(row[c]) if c in ("n", "wrong_status") else ("—" if row[c] is None else f"{row[c]:.2f}") for c in COLS]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["collect"]:
        collect([Path(a) for a in argv[1:]])
        return 0
    if argv[:1] == ["from-feedback"] and len(argv) == 2:
        added, dropped = from_feedback(Path(argv[1]))
        print(f"{added} reviewed questions added to {FEEDBACK.name} (train only), dropped {dict(dropped)}; run `make train`")
        return 0
    if argv[:1] == ["stats"]:
        qs = load_all()
        for split in ("train", "dev", "test"):
            sub = [q for q in qs if q.split == split]
            print(split, len(sub), dict(Counter(q.kind for q in sub)), dict(Counter(q.lang for q in sub)),
                  dict(Counter(q.style for q in sub)), dict(Counter(q.origin for q in sub)))
        return 0
    if argv[:1] == ["score"]:
        from traite_qa import Assistant

        split = argv[argv.index("--split") + 1] if "--split" in argv else "dev"
        assistant = Assistant.load()
        scores = run(assistant, load_split(split))
        stats = aggregate(scores)
        print(table(stats, f"{split} ({len(scores)} questions)"))
        if "--json" in argv:
            out = EVAL_DIR / "out"
            out.mkdir(exist_ok=True)
            (out / f"{split}.json").write_text(__import__("json").dumps(stats, indent=1), encoding="utf-8")
        if "--show" in argv and split not in ("test", *SEALED):
            for s in scores:
                if not s.score.correct or s.score.problems:
                    q = s.question
                    print(f"\n[{q.id} {q.kind} {q.lang} {q.style}] {' / '.join(q.history)} {q.question}\n  why: {s.score.why}"
                          f" {s.score.problems or ''}\n  answer: {s.score.answer['answer'][:400]!r}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
