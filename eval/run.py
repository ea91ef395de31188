"""Run the question set through the searcher and the assistant once, score it,
and write `eval/report.md` and `eval/report.json`."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from traite_qa.answer import answer_problems

from .common import EVAL_DIR, KINDS, Question, RetrievalScore, answer_correct, first_gold_rank, timed


@dataclass
class QuestionResult:
    question: Question
    rank: int | None
    answer: dict
    correct: bool
    why: str
    problems: list[str]
    search_seconds: float
    ask_seconds: float


@dataclass
class EvalResults:
    results: dict[str, QuestionResult] = field(default_factory=dict)

    def by_kind(self) -> dict[str, list[QuestionResult]]:
        groups: dict[str, list[QuestionResult]] = defaultdict(list)
        for r in self.results.values():
            groups[r.question.kind].append(r)
        return groups

    def retrieval(self) -> dict[str, dict]:
        scores: dict[str, RetrievalScore] = defaultdict(RetrievalScore)
        for r in self.results.values():
            if r.question.has_gold:
                scores[r.question.kind].add(r.rank)
                scores["overall"].add(r.rank)
        return {k: v.as_dict() for k, v in scores.items()}

    def accuracy(self) -> dict[str, dict]:
        out = {}
        for kind, rs in self.by_kind().items():
            out[kind] = {"n": len(rs), "correct": sum(r.correct for r in rs), "accuracy": sum(r.correct for r in rs) / len(rs)}
        answered = [r for r in self.results.values() if r.question.expect_status == "answered"]
        out["overall"] = {"n": len(answered), "correct": sum(r.correct for r in answered),
                          "accuracy": sum(r.correct for r in answered) / max(len(answered), 1)}
        refusals = [r for r in self.results.values() if r.question.expect_status != "answered"]
        out["refusal"] = {"n": len(refusals), "correct": sum(r.correct for r in refusals),
                          "accuracy": sum(r.correct for r in refusals) / max(len(refusals), 1)}
        false_refusals = [r for r in answered if r.answer["status"] != "answered"]
        out["false_refusal"] = {"n": len(answered), "count": len(false_refusals)}
        return out

    def timing(self) -> dict:
        ask = sorted(r.ask_seconds for r in self.results.values())
        search = sorted(r.search_seconds for r in self.results.values())
        pct = lambda xs, p: xs[min(len(xs) - 1, int(p * len(xs)))] * 1000  # noqa: E731
        return {"ask_p50_ms": pct(ask, 0.5), "ask_p95_ms": pct(ask, 0.95), "search_p50_ms": pct(search, 0.5),
                "search_p95_ms": pct(search, 0.95), "ask_mean_ms": statistics.mean(ask) * 1000}


def run_all(questions: list[Question], searcher, assistant) -> EvalResults:
    results = EvalResults()
    evaluation, source = assistant.evaluation, assistant.searcher.data.source
    for q in questions:
        searcher.clear_query_cache()  # both timings include the query encode
        hits, search_seconds = _search(searcher, q)
        searcher.clear_query_cache()
        answer, ask_seconds = timed(assistant.ask, q.question, list(q.history) or None)
        data = answer.to_dict()
        ok, why = answer_correct(q, data)
        results.results[q.id] = QuestionResult(
            question=q,
            rank=first_gold_rank(q, hits) if q.has_gold else None,
            answer=data,
            correct=ok,
            why=why,
            problems=answer_problems(answer, evaluation, source),
            search_seconds=search_seconds,
            ask_seconds=ask_seconds,
        )
    return results


def _search(searcher, q: Question):
    from traite_qa.errors import TraiteQAError

    try:
        hits, seconds = timed(searcher.search, q.retrieval_query, k=10)
        return [h.to_dict() for h in hits], seconds
    except TraiteQAError:  # blank or unknown-reference questions: nothing to rank
        return [], 0.0


# ----------------------------------------------------------------- reporting
def table_lines(results: EvalResults) -> list[str]:
    retrieval, accuracy = results.retrieval(), results.accuracy()
    lines = [
        "| kind | n | Recall@1 | Recall@5 | MRR | answer accuracy |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in [*KINDS, "overall"]:
        acc = accuracy.get(kind)
        ret = retrieval.get(kind)
        if acc is None and ret is None:
            continue
        fmt = lambda d, k: f"{d[k]:.3f}" if d else "—"  # noqa: E731
        n = acc["n"] if acc else ret["n"]
        acc_text = f"{acc['correct']}/{acc['n']} ({acc['accuracy']:.3f})" if acc else "—"
        lines.append(f"| {kind} | {n} | {fmt(ret, 'recall@1')} | {fmt(ret, 'recall@5')} | {fmt(ret, 'mrr')} | {acc_text} |")
    refusal = accuracy["refusal"]
    lines.append(f"| refusal (no_evidence / invalid_question) | {refusal['n']} | | | | {refusal['correct']}/{refusal['n']} ({refusal['accuracy']:.3f}) |")
    return lines


def write_report(results: EvalResults, xfailed: dict[str, str]) -> tuple[str, dict]:
    timing = results.timing()
    failures = [r for r in results.results.values() if not r.correct or r.problems]
    md = ["# traite-qa evaluation report", "", *table_lines(results), "",
          f"ask p50 {timing['ask_p50_ms']:.1f} ms, p95 {timing['ask_p95_ms']:.1f} ms; "
          f"search p50 {timing['search_p50_ms']:.1f} ms, p95 {timing['search_p95_ms']:.1f} ms", ""]
    md.append(f"## Failures ({len(failures)}; {len(xfailed)} marked xfail)")
    for r in failures:
        q = r.question
        gold = {k: v for k, v in {"measures": q.gold_measures, "footnotes": q.gold_footnotes, "acronyms": q.gold_acronyms,
                                  "sections": q.gold_sections}.items() if v}
        md += ["", f"### {q.id} ({q.kind}){' — xfail: ' + xfailed[q.id] if q.id in xfailed else ''}",
               f"- question: {q.question}", f"- gold: {gold}", f"- first gold rank: {r.rank}",
               f"- why: {r.why or '; '.join(r.problems)}", f"- status: {r.answer['status']} ({r.answer['intent']})",
               f"- cited: {[c['id'] for c in r.answer['citations']]}",
               "- answer: " + r.answer["answer"].replace("\n", " ")[:500]]
    report = {
        "retrieval": results.retrieval(),
        "accuracy": results.accuracy(),
        "timing": timing,
        "xfail": xfailed,
        "failures": [{"id": r.question.id, "kind": r.question.kind, "question": r.question.question, "why": r.why,
                      "problems": r.problems, "rank": r.rank, "answer": r.answer["answer"], "status": r.answer["status"]}
                     for r in failures],
    }
    (EVAL_DIR / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    (EVAL_DIR / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return "\n".join(md[: 4 + len(table_lines(results))]), report
