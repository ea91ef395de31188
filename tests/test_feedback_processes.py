"""Feedback against real app processes (uvicorn, an assistant over a
fake-embedded index): 50 concurrent sessions on SQLite, two app processes on
one PostgreSQL, and a PostgreSQL killed mid-session. Nothing may be lost, and
answering must never depend on the database."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from traite_qa import FeedbackStore

from feedback_support import AppProcess, PostgresCluster, build_fake_index

pytestmark = [pytest.mark.server, pytest.mark.postgres]
OUT = Path(__file__).parent / "out"
QUESTIONS = ["Où en est la mesure {n} ?", "Quel est le statut de la mesure {n} ?", "La mesure {n} a-t-elle été réalisée ?"]


@pytest.fixture(scope="module")
def index_root(tmp_path_factory, settings):
    root = tmp_path_factory.mktemp("feedback-processes")
    build_fake_index(root, settings)
    return root


@pytest.fixture
def apps():
    started: list[AppProcess] = []
    yield started
    for app in started:
        app.stop()


def start(apps, index_root, url: str, **env) -> AppProcess:
    OUT.mkdir(exist_ok=True)
    app = AppProcess(index_root, url, OUT / f"feedback-app-{len(apps)}-{uuid.uuid4().hex[:6]}.log", **env)
    apps.append(app)
    return app


def session(base_url: str, tag: str, rounds: int, sent: list[str], errors: list[str]) -> None:
    """One user: asks, rates the answer with a comment naming this exact rating."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for i in range(rounds):
            try:
                question = QUESTIONS[i % len(QUESTIONS)].format(n=1 + (sum(map(ord, tag)) + i) % 45)
                answer = client.post("/api/ask", json={"question": question})
                assert answer.status_code == 200, answer.text
                comment = f"{tag}-{i}"
                rating = {"answer_id": answer.json()["answer_id"], "rating": "down" if i % 2 else "up", "comment": comment}
                if i % 2:
                    rating["reason"] = "autre"
                saved = client.post("/api/feedback", json=rating)
                assert saved.status_code == 201, saved.text
                sent.append(comment)
            except Exception as err:  # noqa: BLE001 - collected and asserted by the test
                errors.append(f"{tag}-{i}: {err!r}"[:300])


def run_sessions(targets: list[tuple[str, str]], rounds: int) -> tuple[list[str], list[str]]:
    sent: list[str] = []
    errors: list[str] = []
    threads = [threading.Thread(target=session, args=(url, tag, rounds, sent, errors)) for url, tag in targets]
    [t.start() for t in threads]
    [t.join(timeout=300) for t in threads]
    return sent, errors


def test_fifty_concurrent_sessions_lose_nothing_on_sqlite(apps, index_root, tmp_path):
    url = f"sqlite:///{tmp_path / 'feedback.sqlite3'}"
    app = start(apps, index_root, url)
    sent, errors = run_sessions([(app.url, f"s{n}") for n in range(50)], rounds=4)
    assert not errors, errors[:3]
    stored = [r.comment for r in FeedbackStore(url).feedback()]
    assert len(sent) == 200 and sorted(stored) == sorted(sent)
    assert "Traceback" not in app.log()


def test_two_app_processes_on_one_postgresql_lose_nothing(apps, index_root, pg):
    url = pg.create_database(f"two_{uuid.uuid4().hex[:8]}")
    first, second = start(apps, index_root, url), start(apps, index_root, url)
    targets = [(app.url, f"{name}{n}") for name, app in (("a", first), ("b", second)) for n in range(25)]
    sent, errors = run_sessions(targets, rounds=4)
    assert not errors, errors[:3]
    records = FeedbackStore(url).feedback()
    assert len(sent) == 200 and sorted(r.comment for r in records) == sorted(sent)
    assert {r.comment[0] for r in records} == {"a", "b"}  # both processes wrote
    assert all(r.rating == ("down" if int(r.comment.rsplit("-", 1)[1]) % 2 else "up") for r in records)
    assert FeedbackStore(url).schema_version() == 3  # two processes migrated once between them
    for app in (first, second):
        assert "Traceback" not in app.log(), app.log()


def test_a_database_killed_mid_session_leaves_answering_intact(apps, index_root):
    with PostgresCluster() as cluster:  # its own cluster: this test kills it
        url = cluster.create_database("killed")
        app = start(apps, index_root, url, TRAITE_QA_DATABASE_TIMEOUT="2", TRAITE_QA_LOG_QUESTIONS="1")
        with httpx.Client(base_url=app.url, timeout=30) as http:
            before = http.post("/api/ask", json={"question": "Où en est la mesure 16 ?"}).json()
            assert http.post("/api/feedback", json={"answer_id": before["answer_id"], "rating": "up"}).status_code == 201

            cluster.crash()
            for n in (16, 17, 3, 16):  # answering goes on, same answers, and fast
                started = time.monotonic()
                response = http.post("/api/ask", json={"question": f"Où en est la mesure {n} ?"})
                assert response.status_code == 200 and time.monotonic() - started < 2
            assert response.json() == before
            refused = http.post("/api/feedback", json={"answer_id": before["answer_id"], "rating": "down", "comment": "perdu ?"})
            assert refused.status_code == 503, refused.text
            error = refused.json()["error"]
            assert error["code"] == "feedback_unavailable" and "nothing was saved" in error["message"]
            assert http.get("/healthz").status_code == 200

            cluster.start()  # the database comes back: feedback works again, same process
            again = http.post("/api/feedback", json={"answer_id": before["answer_id"], "rating": "down", "comment": "revenu"})
            assert again.status_code == 201, again.text
        comments = [r.comment for r in FeedbackStore(url).feedback()]
        assert comments == ["revenu", None]
        assert app.process.poll() is None and "Traceback" not in app.log(), app.log()
        assert "a question was not logged" in app.log()  # the question log met the dead database too, in the background


# --------------------------------------- issue 23: the 503 does not say where the database is
def test_an_unavailable_database_is_not_described_to_clients(apps, index_root, tmp_path):
    from feedback_support import free_port

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    port = free_port()
    cases = {
        f"sqlite:///{blocker}/secret-sqlite-dir/fb.sqlite3": ["secret-sqlite-dir", str(tmp_path), "Not a directory"],
        f"postgresql://secretuser@127.0.0.1:{port}/secretdb": ["secretuser", "secretdb", str(port), "127.0.0.1"],
    }
    for url, secrets in cases.items():
        app = start(apps, index_root, url)
        with httpx.Client(base_url=app.url, timeout=60) as http:
            answer = http.post("/api/ask", json={"question": "Où en est la mesure 16 ?"}).json()
            refused = [http.post("/api/feedback", json={"answer_id": answer["answer_id"], "rating": "up"}),
                       http.get("/api/feedback/summary")]
        assert refused[0].status_code == 503, refused[0].text
        assert refused[1].status_code in (200, 503), refused[1].text  # a SQLite file not created yet reads as empty
        for response in refused:
            if response.status_code == 200:
                continue
            error = response.json()["error"]
            assert error["code"] == "feedback_unavailable" and "nothing was saved" in error["message"], error
            for secret in secrets:
                assert secret not in response.text, (secret, response.text)
        deadline = time.monotonic() + 5
        while secrets[0] not in app.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert secrets[0] in app.log(), app.log()  # the detail is for the operator, in the server log
        app.stop()
