"""20 concurrent `gradio_client` sessions, each asking 5 questions: every
answer is checked against the document model, and none may fail."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import live

pytestmark = [pytest.mark.server, pytest.mark.slow]
OUT = Path(__file__).parent / "out"
SESSIONS = 20
QUESTIONS = 5


@pytest.fixture(scope="session")
def live_server(index_settings):
    server = live.acquire(index_settings.index_dir, OUT)
    yield server
    live.release(server)


def session_plan(seed: int, evaluation) -> list[tuple[str, str, int | None, dict]]:
    """Five (kind, question, measure, expected) steps; the last is a follow-up
    that only makes sense with the history."""
    rng = random.Random(seed)
    numbers = rng.sample([m.number for m in evaluation.measures], 4)
    realised = evaluation.status_counts()
    counts = {s.value: n for s, n in realised.items()}
    return [
        ("count", "Combien de mesures sont réalisées ?", None, counts),
        ("status", f"Où en est la mesure {numbers[0]} ?", numbers[0], {}),
        ("status", f"What is the status of measure {numbers[1]}?", numbers[1], {}),
        ("status", f"Quel est le statut de la mesure {numbers[2]} ?", numbers[2], {}),
        ("follow_up", f"Et la mesure {numbers[3]} ?", numbers[3], {}),
    ]


def run_session(url: str, seed: int, evaluation) -> list[str]:
    from gradio_client import Client

    client = Client(url + "/", verbose=False)
    try:
        return ask_five(client, seed, evaluation)
    finally:
        client.close()


def ask_five(client, seed: int, evaluation) -> list[str]:
    problems: list[str] = []
    history: list[dict] = []
    for kind, question, number, expected in session_plan(seed, evaluation):
        result = client.predict(question, history or None, api_name="/ask")
        if result.get("status") != "answered":
            problems.append(f"session {seed}: {question!r} -> {result.get('status')}: {result.get('answer', '')[:120]}")
            continue
        if number is not None:
            status = evaluation.measure(number).status
            if result["measures"] != {str(number): status.value}:
                problems.append(f"session {seed}: {question!r} -> measures {result['measures']}, expected {number}: {status.value}")
            wanted = status.english if result["language"] == "en" else status.value
            if wanted.lower() not in result["answer"].lower():  # lower case mid-sentence
                problems.append(f"session {seed}: {question!r} -> {wanted!r} missing from {result['answer'][:160]!r}")
            if f"Mesure {number}" not in {c["marker"] for c in result["citations"]}:
                problems.append(f"session {seed}: {question!r} -> no citation of measure {number}")
        else:
            done = expected["Réalisée"]
            if not result["answer"].startswith(f"{done} mesures sur 45"):
                problems.append(f"session {seed}: {question!r} -> {result['answer'][:120]!r}, expected {done} of 45")
        history = [
            {"role": "user", "content": question},
            {"role": "assistant", "content": result["answer"]},
        ]
    return problems


def test_twenty_concurrent_sessions_get_correct_answers(live_server, evaluation):
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        futures = [pool.submit(run_session, live_server.url, seed, evaluation) for seed in range(SESSIONS)]
        problems = [p for f in futures for p in f.result(timeout=300)]
    elapsed = time.monotonic() - started
    assert not problems, "\n".join(problems)
    # 100 answers: a sanity bound for a shared 2-core machine, not a benchmark.
    assert elapsed < 240, f"{SESSIONS * QUESTIONS} answers took {elapsed:.0f} s"
