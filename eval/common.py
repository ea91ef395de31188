"""The question set, gold matching and metrics shared by `pytest eval`,
`python -m eval.compare` and the benchmark."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

EVAL_DIR = Path(__file__).resolve().parent
# Another file in the same format, e.g. `traite-qa feedback export`'s candidates:
# TRAITE_QA_EVAL_QUESTIONS=candidates.yaml pytest eval/test_questions.py::test_question
QUESTIONS = Path(os.environ.get("TRAITE_QA_EVAL_QUESTIONS") or EVAL_DIR / "questions.yaml")
THRESHOLDS = EVAL_DIR / "thresholds.yaml"
KINDS = ("status", "acronym", "footnote", "fact", "paraphrase", "aggregate", "follow-up", "english", "unanswerable", "adversarial")
SECTION_KINDS = {"preambule": "preamble", "bilan": "conclusion", "tableau": "table"}


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    question: str
    gold_measures: tuple[int, ...] = ()
    gold_footnotes: tuple[int, ...] = ()
    gold_acronyms: tuple[str, ...] = ()
    gold_sections: tuple[str, ...] = ()
    expect: tuple[str, ...] = ()
    reject: tuple[str, ...] = ()
    expect_status: str = "answered"
    history: tuple[dict, ...] = ()
    xfail: str | None = None

    @property
    def has_gold(self) -> bool:
        return bool(self.gold_measures or self.gold_footnotes or self.gold_acronyms or self.gold_sections)

    @property
    def retrieval_query(self) -> str:
        """Follow-ups are searched with the previous question prepended (the usual
        query rewrite), unless they name their own measure or note by number."""
        previous = [t["content"] for t in self.history if t.get("role") == "user"]
        if not previous or re.search(r"\d", self.question):
            return self.question
        return f"{previous[-1]} {self.question}"


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    questions = []
    for item in raw:
        gold = item.get("gold") or {}
        questions.append(
            Question(
                id=item["id"],
                kind=item["kind"],
                question=item["question"],
                gold_measures=tuple(gold.get("measures") or ()),
                gold_footnotes=tuple(gold.get("footnotes") or ()),
                gold_acronyms=tuple(gold.get("acronyms") or ()),
                gold_sections=tuple(gold.get("sections") or ()),
                expect=tuple(item.get("expect") or ()),
                reject=tuple(item.get("reject") or ()),
                expect_status=item.get("expect_status", "answered"),
                history=tuple(item.get("history") or ()),
                xfail=item.get("xfail"),
            )
        )
    ids = [q.id for q in questions]
    if len(ids) != len(set(ids)):
        raise ValueError(f"duplicate question ids in {path}")
    unknown = {q.kind for q in questions} - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds in {path}: {sorted(unknown)}")
    return questions


def is_gold(question: Question, kind: str, measures, footnote, acronym) -> bool:
    """Does a passage (by its kind and what it covers) answer the question?"""
    if kind == "measure" and set(measures) & set(question.gold_measures):
        return True
    if kind == "table" and ("tableau" in question.gold_sections or (question.kind == "aggregate" and set(measures) & set(question.gold_measures))):
        return True
    if kind == "footnote" and footnote in question.gold_footnotes:
        return True
    if kind == "acronym" and acronym in question.gold_acronyms:
        return True
    return any(SECTION_KINDS.get(s) == kind for s in question.gold_sections if s != "tableau")


def first_gold_rank(question: Question, hits: list[dict]) -> int | None:
    """1-based rank of the first gold passage among hits (dicts with kind/measures/footnote/acronym)."""
    for rank, hit in enumerate(hits, 1):
        if is_gold(question, hit["kind"], hit.get("measures", ()), hit.get("footnote"), hit.get("acronym")):
            return rank
    return None


@dataclass
class RetrievalScore:
    n: int = 0
    at1: int = 0
    at5: int = 0
    rr: float = 0.0
    seconds: list[float] = field(default_factory=list)

    def add(self, rank: int | None, seconds: float = 0.0) -> None:
        self.n += 1
        self.at1 += rank == 1
        self.at5 += rank is not None and rank <= 5
        self.rr += 1.0 / rank if rank else 0.0
        self.seconds.append(seconds)

    def as_dict(self) -> dict:
        n = max(self.n, 1)
        return {"n": self.n, "recall@1": self.at1 / n, "recall@5": self.at5 / n, "mrr": self.rr / n}


def answer_correct(question: Question, answer: dict) -> tuple[bool, str]:
    """The answer's status and text against the question's expectations; (ok, why-not)."""
    if answer["status"] != question.expect_status:
        return False, f"status {answer['status']}, expected {question.expect_status}"
    for pattern in question.expect:
        if not re.search(pattern, answer["answer"], re.IGNORECASE):
            return False, f"missing /{pattern}/"
    for pattern in question.reject:
        if re.search(pattern, answer["answer"], re.IGNORECASE):
            return False, f"contains rejected /{pattern}/"
    return True, ""


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started
