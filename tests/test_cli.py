"""`traite-qa` as a user runs it: a subprocess per command."""

from __future__ import annotations

import json
import time

import pytest

from fakes import answer_dict_problems, clean_stderr, hit_dict_problems, run_cli, search_line_problems


def _json_lines(proc) -> list:
    text = proc.stdout.decode("utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _ok(proc) -> None:
    assert proc.returncode == 0, clean_stderr(proc.stderr)[-3000:]
    assert "Traceback" not in clean_stderr(proc.stderr)


def _error(proc, *fragments: str) -> str:
    stderr = clean_stderr(proc.stderr)
    assert proc.returncode == 1, f"exit {proc.returncode}: {stderr[-2000:]}"
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith("traite-qa: error: ")]
    assert len(lines) == 1, stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def index_args(index_settings) -> list[str]:
    return ["--index", str(index_settings.index_dir), "--source", str(index_settings.source)]


# ------------------------------------------------------- fast: no model
def test_outline_json(tmp_path):
    started = time.monotonic()
    # No index and an unknown model: the outline needs neither.
    proc = run_cli("outline", "--json", TRAITE_QA_INDEX_DIR=tmp_path / "nowhere", TRAITE_QA_MODEL="no/such-model")
    elapsed = time.monotonic() - started
    _ok(proc)
    (outline,) = _json_lines(proc)
    counts = outline["counts"]
    assert (counts["axes"], counts["actions"], counts["measures"], counts["footnotes"], counts["acronyms"]) == (6, 17, 45, 61, 40)
    assert outline["status_counts"] == {"Réalisée": 3, "Partiellement réalisée": 28, "Non réalisée": 14}
    assert len(outline["axes"]) == 6
    assert sum(len(a["actions"]) for a in outline["axes"]) == 17
    measures = [m for a in outline["axes"] for act in a["actions"] for m in act["measures"]]
    assert [m["number"] for m in measures] == list(range(1, 46))
    assert elapsed < 20, f"outline took {elapsed:.1f} s: it should not load the model"


def test_outline_text():
    proc = run_cli("outline")
    _ok(proc)
    text = proc.stdout.decode()
    assert "6 axes, 17 actions, 45 mesures (3 Réalisée, 28 Partiellement réalisée, 14 Non réalisée), 61 notes, 40 sigles" in text
    assert "Mesure 16 [Non réalisée] Mettre en place un mécanisme national de référence" in text


@pytest.mark.parametrize("command", [["search", "mesure 16"], ["search", "mesure 16", "--json"], ["ask", "Où en est la mesure 16 ?"],
                                     ["ask", "x", "--json"], ["search"], ["ask"]])
def test_index_pointing_nowhere(tmp_path, command):
    proc = run_cli("--index", str(tmp_path / "nowhere"), *command, input="mesure 16\n")
    line = _error(proc, "traite-qa build", str(tmp_path / "nowhere"))
    assert "no index at" in line
    assert proc.stdout == b""


def test_index_env_pointing_nowhere(tmp_path):
    proc = run_cli("search", "mesure 16", TRAITE_QA_INDEX_DIR=tmp_path / "nowhere")
    _error(proc, "traite-qa build")


@pytest.mark.parametrize("env, fragment", [({"TRAITE_QA_CHUNK_SIZE": "abc"}, "TRAITE_QA_CHUNK_SIZE"),
                                           ({"TRAITE_QA_PORT": "70000"}, "TRAITE_QA_PORT"),
                                           ({"TRAITE_QA_LLM_MODEL": "x"}, "TRAITE_QA_LLM_BASE_URL")])
def test_bad_settings(env, fragment):
    proc = run_cli("search", "mesure 16", **env)
    _error(proc, fragment)


def test_missing_source(tmp_path):
    proc = run_cli("--source", str(tmp_path / "none.txt"), "outline")
    assert proc.returncode == 1
    assert "Traceback" not in clean_stderr(proc.stderr), clean_stderr(proc.stderr)
    assert "traite-qa: error: " in clean_stderr(proc.stderr)


def test_no_command_prints_help():
    proc = run_cli()
    assert proc.returncode == 2
    assert b"usage: traite-qa" in proc.stdout


# ------------------------------------------------------------- slow: model
@pytest.mark.slow
def test_search_json_k3(index_args, source):
    proc = run_cli(*index_args, "search", "mécanisme national de référence", "-k", "3", "--json")
    _ok(proc)
    hits = _json_lines(proc)
    assert len(hits) == 3
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert all(hit_dict_problems(h, source=source) == [] for h in hits)
    assert 16 in hits[0]["measures"]


@pytest.mark.slow
def test_search_text_and_filters(index_args):
    proc = run_cli(*index_args, "search", "protection", "-k", "4", "--kind", "footnote", "--axis", "3")
    _ok(proc)
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 4 and all(" note-" in line for line in lines), lines


@pytest.mark.slow
@pytest.mark.parametrize("args, fragments", [
    (["search", "mesure 52"], ["unknown measure 52", "45 measures"]),
    (["search", "x", "-k", "0"], ["k=0 is out of range"]),
    (["search", "x", "--status", "foo"], ["unknown status 'foo'"]),
    (["search", "x", "--axis", "9"], ["unknown axis 9"]),
    (["search", "x", "--kind", "chapitre"], ["unknown kind 'chapitre'"]),
    (["search", "   "], ["empty"]),
])
def test_search_single_errors(index_args, args, fragments):
    proc = run_cli(*index_args, *args)
    _error(proc, *fragments)
    assert proc.stdout == b""


@pytest.mark.slow
def test_ask_json(index_args, source):
    proc = run_cli(*index_args, "ask", "Où en est la mesure 16 ?", "--json")
    _ok(proc)
    (answer,) = _json_lines(proc)
    assert answer_dict_problems(answer, source) == []
    assert answer["status"] == "answered" and answer["measures"] == {"16": "Non réalisée"}


@pytest.mark.slow
def test_ask_text(index_args):
    proc = run_cli(*index_args, "ask", "Que signifie OCRTEH ?")
    _ok(proc)
    text = proc.stdout.decode()
    assert "office central pour la répression de la traite des êtres humains" in text
    assert "  — sigle-OCRTEH:" in text


@pytest.mark.slow
@pytest.mark.parametrize("question, status", [("", "invalid_question"), ("mesure 52", "no_evidence")])
def test_ask_never_fails_on_a_bad_question(index_args, question, status):
    proc = run_cli(*index_args, "ask", question, "--json")
    _ok(proc)
    (answer,) = _json_lines(proc)
    assert answer["status"] == status


@pytest.mark.slow
def test_search_batch(index_args, source):
    queries = ["mesure 16", "note 47", "mesure 52", "Que signifie OCRTEH ?", "x" * 3000, "hébergement des victimes"]
    proc = run_cli(*index_args, "search", "-k", "2", input="\n".join(queries) + "\n")
    _ok(proc)
    lines = _json_lines(proc)
    assert [line["query"] for line in lines] == queries
    for line in lines:
        assert search_line_problems(line, source, k=2) == [], line.get("query", "")[:40]
    assert lines[0]["hits"][0]["measures"] == [16]
    assert lines[1]["hits"][0]["id"] == "note-47"
    assert "unknown measure 52" in lines[2]["error"] and lines[2]["hits"] == []
    assert lines[3]["hits"][0]["id"] == "sigle-OCRTEH"
    assert "limit is 2000" in lines[4]["error"]


@pytest.mark.slow
def test_ask_batch(index_args, source):
    questions = ["Où en est la mesure 16 ?", "Que signifie OCRTEH ?", "mesure 52", "x" * 3000, "Combien de mesures ont été réalisées ?"]
    proc = run_cli(*index_args, "ask", input="\n".join(questions) + "\n")
    _ok(proc)
    answers = _json_lines(proc)
    assert len(answers) == len(questions)
    assert [a["status"] for a in answers] == ["answered", "answered", "no_evidence", "invalid_question", "answered"]
    assert all(answer_dict_problems(a, source) == [] for a in answers)
    assert [a["question"] for a in answers[:3]] == questions[:3]


@pytest.mark.slow
def test_batch_blank_lines_get_a_line_each(index_args):
    """One JSON line per input line, in order: a blank line is an (invalid) question too,
    or the caller cannot pair answers with questions."""
    questions = ["mesure 16", "", "   ", "note 47"]
    proc = run_cli(*index_args, "ask", input="\n".join(questions) + "\n")
    _ok(proc)
    answers = _json_lines(proc)
    assert [a["status"] for a in answers] == ["answered", "invalid_question", "invalid_question", "answered"]


@pytest.mark.slow
def test_build_twice(tmp_path, index_settings):
    env = {"TRAITE_QA_INDEX_DIR": tmp_path / "build", "TRAITE_QA_SOURCE": index_settings.source,
           "TRAITE_QA_MODEL_CACHE": index_settings.model_cache}
    first = run_cli("build", "--json", **env)
    _ok(first)
    report = json.loads(first.stdout.decode().splitlines()[-1])
    assert report["skipped"] is False and report["chunks"] > 200
    assert (tmp_path / "build").is_symlink()

    second = run_cli("build", "--json", **env)
    _ok(second)
    assert json.loads(second.stdout.decode().splitlines()[-1])["skipped"] is True

    third = run_cli("build", **env)
    _ok(third)
    assert "up to date" in third.stdout.decode()
