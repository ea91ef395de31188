"""Every command and option of the docs' command table (docs/cli.md) parses,
and the cheap ones run: a documented option never fails.

The fast tests parse each documented command line with `traite-qa`'s own
parser; the slow ones run them as a user would, a subprocess each, against
the session's index (the servers, `chat` and `mcp`, are parsed only).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex

import pytest

from traite_qa.cli import _parser

from fakes import REPO, clean_stderr, run_cli

TABLE = REPO / "docs" / "cli.md"

# A value for each documented option and positional placeholder.
OPTION_VALUES = {
    "-k": "3", "--status": "non-realisee", "--axis": "2", "--action": "5", "--kind": "measure", "--mode": "dense",
    "--rating": "down", "--reason": "erreur_de_statut", "--limit": "5", "--days": "30", "--format": "npz",
    "--host": "127.0.0.1", "--port": "7861", "--index": "{index}", "--source": "{source}", "--model": "{model}",
    "--model-cache": "{model_cache}", "-o": "{tmp}/candidates.yaml",
}
POSITIONAL_VALUES = {"QUERY": "mécanisme national de référence", "QUESTION": "Où en est la mesure 16 ?",
                     "DIR": "{tmp}/export"}
FLAGS = {"--json", "--force"}


def _spans() -> list[str]:
    """The code spans of the table that are command lines (`traite-qa …`)."""
    text = TABLE.read_text(encoding="utf-8")
    start = text.index("| command |")
    table = text[start:text.index("\n\n", start)]
    spans = re.findall(r"`(traite-qa[^`]*)`", table)
    assert len(spans) >= 12, spans
    return [span.replace("\\|", "|") for span in spans]


def _argv(span: str) -> list[str]:
    """A documented command line with a value for every placeholder."""
    tokens = shlex.split(span.replace("[", " ").replace("]", " "))[1:]  # without `traite-qa`
    argv, i = [], 0
    while i < len(tokens):
        token = tokens[i]
        if token in ("…", "COMMAND"):
            i += 1
            continue
        if token in OPTION_VALUES:
            argv += [token, OPTION_VALUES[token]]
            i += 2  # the documented placeholder or value follows
        elif token in FLAGS:
            argv.append(token)
            i += 1
        elif token.startswith("-"):
            raise AssertionError(f"{token} of `{span}`: add a value for it to OPTION_VALUES")
        else:
            argv.append(POSITIONAL_VALUES.get(token, token))
            i += 1
    return argv


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


# ------------------------------------------------------------------ fast
def test_no_parser_takes_abbreviations():
    parsers = list(_parsers(_parser()))
    assert len(parsers) >= 13  # traite-qa, its 8 commands, feedback's 4
    assert [p.prog for p in parsers if p.allow_abbrev] == []


def test_the_table_documents_every_command():
    documented = {" ".join(t for t in span.split()[1:3] if t.isalpha()) for span in _spans()}
    (sub,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for command, parser in sub.choices.items():
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for name in [f"{command} {n}" for n in nested[0].choices] if nested else [command]:
            assert name in documented, f"`traite-qa {name}` is missing from {TABLE.name}'s table"


@pytest.mark.parametrize("span", _spans())
def test_every_documented_command_line_parses(span, tmp_path):
    argv = [a.format(index="i", source="s", model="m", model_cache="c", tmp=tmp_path) for a in _argv(span)]
    if "COMMAND" in span:  # the global options, then a command with its own --mode
        argv += ["search", "q", "--mode", "dense"]
    args = _parser().parse_args(argv)  # SystemExit(2) on an unknown or ambiguous option
    assert args.command == argv[argv.index(args.command)]
    for option, value in OPTION_VALUES.items():
        if option in argv:
            dest = option.lstrip("-").replace("-", "_")
            dest = {"o": "output"}.get(dest, dest)
            assert str(getattr(args, dest)) == value.format(index="i", source="s", model="m", model_cache="c",
                                                            tmp=tmp_path), option


@pytest.mark.parametrize("argv", [
    ["search", "q", "--mode", "dense"],  # --mode against the global --model and --model-cache
    ["--model", "m", "search", "q", "--mode", "lexical"],
    ["--model-cache", "c", "ask", "q"],
])
def test_mode_is_never_taken_for_model(argv):
    args = _parser().parse_args(argv)
    assert getattr(args, "mode", "hybrid") in ("hybrid", "dense", "lexical")


@pytest.mark.parametrize("argv", [["search", "q", "--mod", "dense"], ["--mod", "m", "outline"], ["build", "--forc"]])
def test_an_abbreviation_is_an_error(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        _parser().parse_args(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err or "invalid choice" in err, err


# ------------------------------------------------------------------ slow
SERVERS = ("chat", "mcp")


def _runnable() -> list[str]:
    return [span for span in _spans() if "COMMAND" not in span and span.split()[1] not in SERVERS]


@pytest.mark.slow
@pytest.mark.parametrize("span", _runnable())
def test_every_documented_command_runs(span, index_settings, tmp_path):
    argv = [a.format(index=index_settings.index_dir, source=index_settings.source, model=index_settings.model,
                     model_cache=index_settings.model_cache, tmp=tmp_path) for a in _argv(span)]
    batch = argv in (["search"], ["ask"])
    proc = run_cli("--index", str(index_settings.index_dir), "--source", str(index_settings.source), *argv,
                   input="mesure 16\n" if batch else None, TRAITE_QA_MODEL_CACHE=str(index_settings.model_cache),
                   TRAITE_QA_DATABASE_URL=f"sqlite:///{tmp_path}/feedback.sqlite3")
    stderr = clean_stderr(proc.stderr)
    assert proc.returncode == 0, f"`{span}` -> {argv}: exit {proc.returncode}\n{stderr[-3000:]}"
    assert "Traceback" not in stderr
    if argv[0] == "search" and "--json" in argv:
        hits = [json.loads(line) for line in proc.stdout.decode().splitlines()]
        assert hits and all(h["kind"] == "measure" and h["axis"] == 2 for h in hits)


@pytest.mark.slow
def test_search_mode_dense_as_documented(index_settings, searcher):
    """`traite-qa search "…" --mode dense`: the dense ranking alone, as `Searcher.search(mode="dense")`."""
    query = "mécanisme national de référence"
    proc = run_cli("--index", str(index_settings.index_dir), "search", query, "--mode", "dense", "-k", "3", "--json",
                   TRAITE_QA_MODEL_CACHE=str(index_settings.model_cache))
    assert proc.returncode == 0, clean_stderr(proc.stderr)[-3000:]
    hits = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [h["id"] for h in hits] == [h.id for h in searcher.search(query, k=3, mode="dense")]


@pytest.mark.parametrize("command", SERVERS)
def test_the_servers_parse_their_documented_options(command, tmp_path):
    (span,) = [s for s in _spans() if s.split()[1] == command]
    args = _parser().parse_args(_argv(span))
    assert args.command == command
