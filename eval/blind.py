"""The blind question sets (eval/blind/*.yaml): loading, the dev/test split,
and scoring an answer as a user would judge it.

    python -m eval.blind                 # dev and test tables (test as aggregates only), gap per kind
    python -m eval.blind --show dev      # every dev failure, question by question (never for test)
    python -m eval.blind --fresh FILE    # a sealed set, scored once: aggregates only

Scores per question (answerable questions unless said):
- gold passage in the top 5 citations (a cited passage that holds a gold
  sentence, or the measure, footnote or section the writer named);
- gold sentence quoted (a quote covers at least half of a gold sentence; a
  measure's header line counts when the answer states that measure's status);
- facts correct (every `expect` pattern in the answer; status questions: the
  status, stated for a measure of the gold);
- topic lists: recall of the measures concerned among those the answer names;
- yes/no: the answer leads with the expected Oui / Non / En partie, or leads
  with no verdict and quotes a gold sentence (a wrong lead is counted apart);
- synthesis: a gold passage cited and a gold sentence quoted or half the gold measures named;
- unanswerable: refused (no_evidence) or flagged ("le document ne donne pas …").
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BLIND_DIR = Path(__file__).resolve().parent / "blind"
QUESTIONS = BLIND_DIR / "questions.yaml"
KINDS = ("paraphrase", "fact", "english", "status", "topic_list", "synthesis", "yes_no", "unanswerable")
SECTION_KINDS = {"preambule": "preamble", "bilan": "conclusion", "annexe2": "table", "annexe1": "acronym"}
# How an answer says that the document lacks what was asked (a refusal in substance).
FLAG_RE = re.compile(r"^(le document ne (donne|précise|dit|répond|mentionne|contient|cite|indique)|"
                     r"l'évaluation ne (donne|précise|dit|mentionne|cite|indique)|"
                     # "does not allow a plain yes or no" is an undecided yes/no lead, not a refusal
                     r"the document does not(?! allow a plain)|the evaluation does not)", re.IGNORECASE)
YES_NO_RE = re.compile(r"^\W*(oui|non|en partie|yes|no|partly|partially)\b", re.IGNORECASE)
YES_NO_EN = {"yes": "oui", "no": "non", "partly": "en partie", "partially": "en partie"}


@dataclass(frozen=True)
class BlindQuestion:
    id: str
    kind: str
    question: str
    persona: str = ""
    subkind: str | None = None  # english only: the underlying kind
    gold_sentences: tuple[str, ...] = ()
    measures: tuple[int, ...] = ()
    footnotes: tuple[int, ...] = ()
    sections: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()
    status: str | None = None
    topic_measures: tuple[int, ...] = ()
    yes_no: str | None = None

    @property
    def split(self) -> str:
        return split(self.question)

    @property
    def base_kind(self) -> str:
        """What is asked, whatever the language: an English question is scored as its subkind."""
        return self.subkind if self.kind == "english" and self.subkind else self.kind

    @property
    def answerable(self) -> bool:
        return self.base_kind != "unanswerable"


def split(question: str) -> str:
    """dev or test, from a fixed hash of the question text (stable, unrelated to content)."""
    return "dev" if hashlib.sha256(question.encode("utf-8")).digest()[0] % 2 == 0 else "test"


def load(path: Path = QUESTIONS) -> list[BlindQuestion]:
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for it in items:
        topic = tuple(it.get("topic_measures") or ())
        out.append(BlindQuestion(
            id=it["id"], kind=it["kind"], question=it["question"], persona=it.get("persona", ""),
            subkind=it.get("subkind"), gold_sentences=tuple(it.get("gold_sentences") or ()),
            measures=tuple(it.get("measures") or ()), footnotes=tuple(it.get("footnotes") or ()),
            sections=tuple(it.get("sections") or ()), expect=tuple(str(e) for e in it.get("expect") or ()),
            status=it.get("status"), topic_measures=topic, yes_no=it.get("yes_no"),
        ))
    ids = [q.id for q in out]
    if len(ids) != len(set(ids)):
        raise ValueError(f"duplicate ids in {path}")
    return out


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


# --------------------------------------------------------------- scoring
@dataclass
class Score:
    question: BlindQuestion
    answer: dict
    refused: bool  # no_evidence / invalid, or flagged as absent
    gold_top5: bool | None = None
    quoted: bool | None = None
    fact: bool | None = None  # None: the question has no fact to check
    correct: bool = False
    recall: float | None = None  # topic lists: share of the measures concerned that the answer names
    precision: float | None = None  # topic lists: share of the measures named that are concerned
    wrong_lead: bool | None = None  # yes/no: led with Oui/Non/En partie, and not the expected one
    problems: list[str] = field(default_factory=list)  # broken guarantees (wrong status, bad quote)
    why: str = ""


def score(q: BlindQuestion, answer: dict, source: str, evaluation, problems: list[str]) -> Score:
    text = answer.get("answer", "")
    flagged = bool(FLAG_RE.search(text.strip()))
    refused = answer.get("status") != "answered" or flagged
    s = Score(q, answer, refused, problems=list(problems))
    if not q.answerable:
        s.correct = refused
        s.why = "" if refused else "answered an unanswerable question"
        return s
    gold_spans = [(i, i + len(g)) for g in q.gold_sentences if (i := source.find(g)) >= 0]
    citations = answer.get("citations", [])
    s.gold_top5 = any(_is_gold(q, c, gold_spans) for c in citations[:5])
    s.quoted = _quoted(q, answer, gold_spans, source, evaluation)
    if q.expect:
        s.fact = not refused and all(_matches(p, text) for p in q.expect)
    kind = q.base_kind
    if kind == "status":
        stated = {int(k): v for k, v in (answer.get("measures") or {}).items()}
        ok_status = bool(q.status) and any(stated.get(m) == q.status for m in q.measures)
        s.fact = (s.fact is not False) and ok_status and not refused
        s.correct = s.fact
        s.why = "" if s.correct else f"status {q.status} of {list(q.measures)} not stated (stated {stated})"
    elif kind == "topic_list":
        named = _named_measures(answer)
        wanted = set(q.topic_measures) or set(q.measures)
        s.recall = len(named & wanted) / len(wanted) if wanted else 0.0
        s.precision = len(named & wanted) / len(named) if named else 0.0
        s.correct = not refused and s.recall >= 0.85
        s.why = "" if s.correct else f"recall {s.recall:.2f}: missing {sorted(wanted - named)}"
    elif kind == "yes_no":
        lead = YES_NO_RE.match(text)
        said = YES_NO_EN.get(lead.group(1).lower(), lead.group(1).lower()) if lead else None
        # A right verdict, or no verdict and the evidence that settles it quoted
        # (the assistant states Oui / Non only where annex 2's status decides).
        s.wrong_lead = said is not None and said != (q.yes_no or "").lower()
        s.correct = not refused and (said == (q.yes_no or "").lower() or said is None and bool(s.quoted))
        s.why = "" if s.correct else (f"leads with {said!r}, expected {q.yes_no!r}" if said else "no gold sentence quoted")
    elif kind == "synthesis":
        named = _named_measures(answer)
        half = bool(q.measures) and len(named & set(q.measures)) * 2 >= len(set(q.measures))
        s.correct = not refused and bool(s.gold_top5) and bool(s.quoted or half)
        s.why = "" if s.correct else f"gold cited {s.gold_top5}, quoted {s.quoted}, measures named {sorted(named)}"
    else:  # fact, paraphrase
        s.correct = not refused and (s.fact if s.fact is not None else bool(s.quoted))
        s.why = "" if s.correct else ("refused" if refused else f"fact {s.fact}, quoted {s.quoted}")
    return s


def _matches(pattern: str, text: str) -> bool:
    try:
        return bool(re.search(pattern, text, re.IGNORECASE) or re.search(fold(pattern), fold(text)))
    except re.error:
        return fold(pattern) in fold(text)


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _is_gold(q: BlindQuestion, c: dict, gold_spans: list[tuple[int, int]]) -> bool:
    span = (c["span"]["start"], c["span"]["end"])
    if any(_overlaps(span, g) for g in gold_spans):
        return True
    kind = c.get("kind")
    if kind == "measure" and set(c.get("measures") or ()) & set(q.measures):
        return True
    if kind == "footnote" and c.get("footnote") in q.footnotes:
        return True
    return any(SECTION_KINDS.get(sec) == kind for sec in q.sections)


def _quoted(q: BlindQuestion, answer: dict, gold_spans, source: str, evaluation) -> bool:
    quote_spans = []
    for c in answer.get("citations", []):
        base = c["span"]["start"]
        for quote in c.get("quotes", []):
            i = c["text"].find(quote)
            if i >= 0:
                quote_spans.append((base + i, base + i + len(quote)))
    for g in gold_spans:
        covered = sum(max(0, min(g[1], e) - max(g[0], s)) for s, e in quote_spans)
        if covered * 2 >= g[1] - g[0]:
            return True
    stated = {int(k) for k in (answer.get("measures") or {})}
    for g in gold_spans:  # a header line "Mesure 16 : … [Non réalisée]": stating that status quotes it
        for m in evaluation.measures:
            if m.number in stated and _overlaps(g, (m.header_span.start, m.header_span.end)):
                return True
    return False


_MEASURE_NAMED = re.compile(r"\b(?:mesures?|measures?)\s+(\d{1,2})\b|\[Mesure (\d{1,2})\]", re.IGNORECASE)


def _named_measures(answer: dict) -> set[int]:
    named = {int(k) for k in (answer.get("measures") or {})}
    for a, b in _MEASURE_NAMED.findall(answer.get("answer", "")):
        named.add(int(a or b))
    return named


# ---------------------------------------------------------------- tables
def aggregate(scores: list[Score]) -> dict[str, dict]:
    """Per kind and overall: n, accuracy, gold@5, quoted, facts, refused, recall, problems."""
    groups: dict[str, list[Score]] = defaultdict(list)
    for s in scores:
        groups[s.question.kind].append(s)
        groups["overall"].append(s)
        if s.question.kind == "english" or s.question.kind in ("fact", "paraphrase", "status", "yes_no"):
            groups["english-like" if s.question.kind == "english" else "french-like"].append(s)
    out = {}
    for kind, ss in groups.items():
        answerable = [s for s in ss if s.question.answerable]
        facts = [s for s in answerable if s.fact is not None]
        recalls = [s.recall for s in ss if s.recall is not None]
        precisions = [s.precision for s in ss if s.precision is not None]
        out[kind] = {
            "n": len(ss),
            "accuracy": _mean([s.correct for s in ss]),
            "gold@5": _mean([s.gold_top5 for s in answerable]),
            "quoted": _mean([s.quoted for s in answerable]),
            "facts": _mean([s.fact for s in facts]),
            "answerable_refused": _mean([s.refused for s in answerable]),
            "unanswerable_refused": _mean([s.refused for s in ss if not s.question.answerable]),
            "topic_recall": _mean(recalls),
            "topic_precision": _mean(precisions),
            "wrong_lead": _mean([s.wrong_lead for s in ss if s.wrong_lead is not None]),
            "wrong_status": sum(any("status" in p for p in s.problems) for s in ss),
            "problems": sum(bool(s.problems) for s in ss),
        }
    return out


def _mean(values) -> float | None:
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else None


def table(stats: dict[str, dict], title: str) -> str:
    cols = ("n", "accuracy", "gold@5", "quoted", "facts", "topic_recall", "topic_precision", "answerable_refused",
            "unanswerable_refused", "wrong_lead", "wrong_status")
    lines = [f"### {title}", "", "| kind | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    order = [k for k in (*KINDS, "overall") if k in stats]
    for kind in order:
        row = stats[kind]
        cells = [str(row[c]) if c in ("n", "wrong_status") else ("—" if row[c] is None else f"{row[c]:.2f}") for c in cols]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def gap_table(dev: dict, test: dict) -> str:
    lines = ["### dev − test (accuracy), per kind", "", "| kind | dev | test | gap |", "|---|---:|---:|---:|"]
    for kind in (*KINDS, "overall"):
        if kind in dev and kind in test and dev[kind]["accuracy"] is not None and test[kind]["accuracy"] is not None:
            d, t = dev[kind]["accuracy"], test[kind]["accuracy"]
            lines.append(f"| {kind} | {d:.2f} | {t:.2f} | {d - t:+.2f} |")
    return "\n".join(lines)


def run(assistant, questions: list[BlindQuestion]) -> list[Score]:
    from traite_qa import answer_problems

    source = assistant.searcher.data.source
    out = []
    for q in questions:
        answer = assistant.ask(q.question)
        out.append(score(q, answer.to_dict(), source, assistant.evaluation,
                         answer_problems(answer, assistant.evaluation, source)))
    return out


def main(argv: list[str]) -> int:
    from traite_qa import Assistant

    assistant = Assistant.load()
    if "--fresh" in argv:
        # A sealed set, scored once after all tuning: aggregates only, never a
        # question's answer (reading one would make it a dev question).
        fresh = load(Path(argv[argv.index("--fresh") + 1]))
        scores = run(assistant, fresh)
        print(table(aggregate(scores), f"fresh ({len(fresh)} questions, aggregates only)"))
        print(f"\nrewording check, results kept: {rewording_kept(assistant, scores)[0]:.3f}")
        return 0
    questions = load()
    scores = run(assistant, questions)
    dev = [s for s in scores if s.question.split == "dev"]
    test = [s for s in scores if s.question.split == "test"]
    dev_stats, test_stats = aggregate(dev), aggregate(test)
    print(table(dev_stats, f"dev ({len(dev)} questions)"))
    print()
    print(table(test_stats, f"test ({len(test)} questions, aggregates only)"))
    print()
    print(gap_table(dev_stats, test_stats))
    if "--show" in argv and argv[argv.index("--show") + 1 :][:1] == ["dev"]:
        kinds = argv[argv.index("--show") + 2 :]
        for s in dev:
            if (not s.correct or s.problems) and (not kinds or s.question.kind in kinds):
                print(f"\n[{s.question.id} {s.question.kind}/{s.question.base_kind}] {s.question.question}\n  why: {s.why}"
                      f" {s.problems or ''}\n  answer: {s.answer['answer'][:500]!r}")
    return 0



# ------------------------------------------------------------- rewording
def rewordings(questions: list[BlindQuestion]) -> list[tuple[BlindQuestion, str, str]]:
    """One harmless rewording per question, the five kinds in turn (polite
    prefix and "Merci.", all caps, accents stripped, no question mark, a typo)."""
    from .snapshot import REWORDINGS

    kinds = list(REWORDINGS)
    return [(q, kinds[i % len(kinds)], REWORDINGS[kinds[i % len(kinds)]](q.question)) for i, q in enumerate(questions)]


def rewording_kept(assistant, scores: list[Score]) -> tuple[float, list[str]]:
    """Share of reworded questions that keep their result (correct stays
    correct, wrong stays wrong), and the ids of the dev ones that flipped."""
    from traite_qa import answer_problems

    source = assistant.searcher.data.source
    by_id = {s.question.id: s for s in scores}
    kept, flipped = 0, []
    items = rewordings([s.question for s in scores])
    for q, kind, text in items:
        answer = assistant.ask(text)
        again = score(q, answer.to_dict(), source, assistant.evaluation, answer_problems(answer, assistant.evaluation, source))
        if again.correct == by_id[q.id].correct:
            kept += 1
        elif q.split == "dev":
            flipped.append(f"{q.id}~{kind}")
    return kept / max(len(items), 1), flipped


def summary_lines(dev: dict, test: dict, rewording: float | None, old: dict | None = None) -> list[str]:
    """The issue's targets, measured on dev and test, in one table."""
    def row(name, key, kind="overall", fmt="{:.2f}"):
        d, t = dev.get(kind, {}).get(key), test.get(kind, {}).get(key)
        cell = lambda v: "—" if v is None else fmt.format(v)  # noqa: E731
        return f"| {name} | {cell(d)} | {cell(t)} |"
    english = lambda s: s.get("english", {}).get("accuracy")  # noqa: E731
    french = lambda s: s.get("french-like", {}).get("accuracy")  # noqa: E731
    gap = lambda s: None if english(s) is None or french(s) is None else french(s) - english(s)  # noqa: E731
    lines = ["| measure | dev | test |", "|---|---:|---:|",
             row("gold passage in the top 5 citations", "gold@5"), row("gold answer sentence quoted", "quoted"),
             row("facts correct", "facts"), row("topic-list measure recall", "topic_recall"),
             row("topic-list precision (measures named that are concerned)", "topic_precision"),
             row("near-domain unanswerable refused or flagged", "unanswerable_refused"),
             row("answerable refused", "answerable_refused"),
             row("yes/no led with the wrong Oui / Non / En partie", "wrong_lead"),
             f"| French − English accuracy | {_fmt(gap(dev))} | {_fmt(gap(test))} |",
             row("wrong status stated (count)", "wrong_status", fmt="{}"), row("answer accuracy (all kinds)", "accuracy")]
    if rewording is not None:
        lines.append(f"| rewording check, results kept (dev + test) | {rewording:.3f} | |")
    return lines


def _fmt(value) -> str:
    return "—" if value is None else f"{value:+.2f}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
