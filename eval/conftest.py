"""`pytest eval`: the question set against the real model and index.

The model and index load once per session; every question is asked once (the
`results` fixture) and each test reads its own result, so no test depends on
another's leftovers and the order does not matter.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from eval.common import load_questions  # noqa: E402

STATE: dict = {}  # what the terminal summary prints


@pytest.fixture(scope="session", autouse=True)
def report_dir():
    """`TRAITE_QA_EVAL_REPORT_DIR`: where this run writes its reports (report.md,
    report.json, report-bank.md, out/bank.json, out/rewording.json) instead of
    eval/. `make test` runs the fp32 and bf16 evals side by side: the bf16 one
    writes to eval/out/bf16/, so the two never write the same file and eval/
    ends up with the reports of fp32, the default arithmetic (the README's figures)."""
    target = os.environ.get("TRAITE_QA_EVAL_REPORT_DIR")
    if target:
        from pathlib import Path

        import eval.run
        import eval.test_bank

        path = Path(target).resolve()
        (path / "out").mkdir(parents=True, exist_ok=True)
        eval.run.EVAL_DIR = eval.test_bank.EVAL_DIR = path
    return target


@pytest.fixture(scope="session")
def questions():
    return load_questions()


@pytest.fixture(scope="session")
def assistant():
    from traite_qa import Assistant, Settings

    # Builds only when missing or stale (the model's fingerprint included), then loads once.
    assistant = Assistant.load(settings=Settings.from_env(), build=True, progress=False)
    assistant.warm_up()
    return assistant


@pytest.fixture(scope="session")
def results(questions, assistant):
    from eval.run import run_all, write_report

    results = run_all(questions, assistant.searcher, assistant)
    xfailed = {q.id: q.xfail for q in questions if q.xfail}
    summary, report = write_report(results, xfailed)
    STATE["summary"], STATE["report"] = summary, report
    return results


def pytest_terminal_summary(terminalreporter):
    if "summary" in STATE:
        terminalreporter.section("traite-qa evaluation (also in eval/report.md)")
        terminalreporter.write_line(STATE["summary"])
        xfail = STATE["report"]["xfail"]
        terminalreporter.write_line(f"xfail-marked questions: {len(xfail)}" + "".join(f"\n  {k}: {v}" for k, v in xfail.items()))
    if "blind" in STATE:
        terminalreporter.section("traite-qa question bank: dev and test (also in eval/report-bank.md)")
        terminalreporter.write_line(STATE["blind"])
