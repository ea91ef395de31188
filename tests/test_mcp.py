"""`traite-qa mcp` (issue 13): a subprocess driven by the MCP SDK's own stdio
client. Four tools with French and English descriptions; good calls answer in
the search and Answer contracts; bad arguments are tool errors naming the fix,
and the server keeps serving after them. Slow: the session's real index."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

import aio
from traite_qa import MissingExtraError

from fakes import answer_dict_problems, hit_dict_problems

pytestmark = pytest.mark.slow

TOOLS = {"search", "ask", "get_measure", "list_measures"}
GOOD = [
    ("search", {"query": "mécanisme national de référence", "k": 3}),
    ("search", {"query": "hébergement", "k": 4, "status": "non-realisee", "axis": 2, "kind": "measure"}),
    ("ask", {"question": "Où en est la mesure 16 ?"}),
    ("get_measure", {"number": 16}),
    ("list_measures", {}),
    ("list_measures", {"status": "realisee"}),
    ("list_measures", {"status": "non-realisee", "axis": 2}),
]
BAD = [  # (tool, arguments, a fragment of the error text)
    ("search", {"query": "x", "k": 0}, "greater than or equal to 1"),
    ("search", {"query": "x", "k": 51}, "less than or equal to 50"),
    ("search", {"query": "x", "k": "beaucoup"}, "valid integer"),
    ("search", {"query": ""}, "the question is empty"),
    ("search", {"query": "mesure 52"}, "unknown measure 52"),
    ("search", {"query": "x", "status": "fini"}, "'realisee', 'partiellement-realisee' or 'non-realisee'"),
    ("search", {"query": "x", "axis": 9}, "less than or equal to 6"),
    ("search", {"query": "x", "kind": "poème"}, "'measure', 'footnote'"),
    ("search", {}, "query"),
    ("ask", {"question": 42}, "valid string"),
    ("get_measure", {"number": 99}, "less than or equal to 45"),
    ("get_measure", {"number": 0}, "greater than or equal to 1"),
    ("get_measure", {"number": "seize"}, "valid integer"),
    ("list_measures", {"axis": 7}, "less than or equal to 6"),
    ("no_such_tool", {}, "Unknown tool"),
]


def _run_session(env: dict, calls: list[tuple[str, dict]]):
    """Start `python -m traite_qa mcp`, list the tools, make the calls in order."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    async def session():
        params = StdioServerParameters(command=sys.executable, args=["-m", "traite_qa", "mcp"], env=env)
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as client:
                await client.initialize()
                tools = (await client.list_tools()).tools
                results = [await client.call_tool(name, args) for name, args in calls]
                return tools, results

    return aio.run(asyncio.wait_for(session(), timeout=600))


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAITE_QA_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}, **extra)
    return env


@pytest.fixture(scope="module")
def session(index_settings, settings):
    env = _env(TRAITE_QA_INDEX_DIR=str(index_settings.index_dir), TRAITE_QA_MODEL_CACHE=str(settings.model_cache))
    # The bad calls come between good ones: the last good call proves the server survived them.
    calls = GOOD + [(name, args) for name, args, _ in BAD] + GOOD[:1]
    tools, results = _run_session(env, calls)
    return {t.name: t for t in tools}, results


def _payload(result) -> dict:
    assert not result.is_error, result.content[0].text
    payload = json.loads(result.content[0].text)
    assert result.structured_content in (payload, {"result": payload})
    return payload


def test_four_tools_described_in_french_and_english(session):
    tools, _ = session
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert "FR :" in tool.description and "EN:" in tool.description, tool.name
        assert tool.annotations.read_only_hint is True
        for name, prop in tool.input_schema["properties"].items():
            assert "FR :" in prop["description"] and "EN:" in prop["description"], (tool.name, name)
    search = tools["search"].input_schema
    assert set(search["properties"]) == {"query", "k", "status", "axis", "kind"} and search["required"] == ["query"]
    assert (search["properties"]["k"]["minimum"], search["properties"]["k"]["maximum"]) == (1, 50)
    assert tools["get_measure"].input_schema["required"] == ["number"]
    assert "required" not in tools["list_measures"].input_schema


def test_inputs_are_bounded_and_outputs_have_the_http_apis_schemas(session):
    from traite_qa_app.models import AnswerModel, MeasureDetail, MeasureList, SearchResponse

    tools, _ = session
    search = tools["search"].input_schema
    assert search["$defs"]["StatusFilter"]["enum"] == ["realisee", "partiellement-realisee", "non-realisee"]
    for schema in (search, tools["list_measures"].input_schema):
        axis = next(s for s in schema["properties"]["axis"]["anyOf"] if s.get("type") == "integer")
        assert (axis["minimum"], axis["maximum"]) == (1, 6)
    assert {"measure", "footnote"} <= set(next(s for s in search["properties"]["kind"]["anyOf"] if "enum" in s)["enum"])
    number = tools["get_measure"].input_schema["properties"]["number"]
    assert (number["minimum"], number["maximum"]) == (1, 45)
    for name, model in [("search", SearchResponse), ("ask", AnswerModel), ("get_measure", MeasureDetail),
                        ("list_measures", MeasureList)]:
        out = tools[name].output_schema
        assert out["properties"] == model.model_json_schema()["properties"], name
        assert set(out["required"]) == set(model.model_json_schema()["required"]), name


def test_search_returns_hits_in_the_search_contract(session, source):
    _, results = session
    first = _payload(results[0])
    assert first["query"] == "mécanisme national de référence" and len(first["hits"]) == 3
    assert first["hits"][0]["measures"] == [16]
    filtered = _payload(results[1])["hits"]
    assert filtered and all(h["kind"] == "measure" and h["axis"] == 2 and "Non réalisée" in h["statuses"] for h in filtered)
    for hit in first["hits"] + filtered:
        assert not hit_dict_problems(hit, source=source), hit_dict_problems(hit, source=source)


def test_ask_returns_the_answer_json(session, source):
    _, results = session
    answer = _payload(results[2])
    assert not answer_dict_problems(answer, source), answer_dict_problems(answer, source)
    assert answer["status"] == "answered" and answer["measures"] == {"16": "Non réalisée"}


def test_measures(session, evaluation):
    _, results = session
    detail = _payload(results[3])
    m16 = evaluation.measure(16)
    assert (detail["number"], detail["title"], detail["status"], detail["axis"], detail["action"]) == (
        16, m16.title, "Non réalisée", m16.axis, m16.action)
    assert detail["body"] == m16.body and [f["number"] for f in detail["footnotes"]] == list(m16.footnotes)
    everything, done, axis2 = (_payload(r) for r in results[4:7])
    assert everything["count"] == 45 and [m["number"] for m in everything["measures"]] == list(range(1, 46))
    assert [m["number"] for m in done["measures"]] == [m.number for m in evaluation.measures if m.status.slug == "realisee"]
    assert axis2["count"] == len(axis2["measures"]) > 0
    assert all(m["axis"] == 2 and m["status"] == "Non réalisée" for m in axis2["measures"])


@pytest.mark.parametrize("position", range(len(BAD)), ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD)])
def test_bad_arguments_are_tool_errors_naming_the_fix(session, position):
    _, results = session
    result = results[len(GOOD) + position]
    assert result.is_error, result.content
    assert BAD[position][2] in result.content[0].text, result.content[0].text


def test_the_server_keeps_serving_after_bad_calls(session):
    _, results = session
    assert _payload(results[-1]) == _payload(results[0])


def test_an_index_that_cannot_be_loaded_is_reported_by_every_call(tmp_path):
    env = _env(TRAITE_QA_INDEX_DIR=str(tmp_path / "nowhere"))
    tools, results = _run_session(env, [("list_measures", {}), ("ask", {"question": "mesure 16"})])
    assert {t.name for t in tools} == TOOLS
    for result in results:
        assert result.is_error and "no index at" in result.content[0].text and "traite-qa build" in result.content[0].text


def test_without_the_extra_the_command_names_the_pip_command(monkeypatch, capsys):
    from traite_qa.cli import main

    monkeypatch.setitem(sys.modules, "mcp", None)  # as if not installed
    assert main(["mcp"]) == 1
    assert "pip install 'traite-qa[mcp]'" in capsys.readouterr().err
    with pytest.raises(MissingExtraError):
        from traite_qa.integrations import require_extra

        require_extra("mcp", "mcp")


# ------------------------------------------ issue 23: every request gets an answer
def test_every_line_gets_an_answer_even_a_lone_surrogate_or_bad_json(index_settings, settings):
    """Raw JSON-RPC lines to a real `traite-qa mcp`: a lone surrogate in a tool
    argument and malformed JSON each get a reply (a result or a JSON-RPC
    error); before, neither got one and the client hung."""
    import subprocess
    import threading

    env = _env(TRAITE_QA_INDEX_DIR=str(index_settings.index_dir), TRAITE_QA_MODEL_CACHE=str(settings.model_cache))
    proc = subprocess.Popen([sys.executable, "-m", "traite_qa", "mcp"], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    replies: list[dict] = []
    reader = threading.Thread(target=lambda: [replies.append(json.loads(line)) for line in proc.stdout], daemon=True)
    reader.start()

    def send(line: str) -> None:
        proc.stdin.write(line.encode("utf-8", "surrogatepass") + b"\n")
        proc.stdin.flush()

    def wait_for(count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(replies) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(replies) >= count, f"no reply to line {count}: {replies}"

    import time

    try:
        send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}))
        wait_for(1)
        send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        send('{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "search", '
             '"arguments": {"query": "\\ud800 mesure 16", "k": 2}}}')
        wait_for(2)
        send("{this is not json")
        wait_for(3)
        send(json.dumps({"jsonrpc": "2.0", "id": 5, "method": "tools/list"}))
        wait_for(4)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    by_id = {r.get("id"): r for r in replies}
    assert "result" in by_id[2] and not by_id[2]["result"].get("isError"), by_id[2]
    assert by_id[None]["error"]["code"] == -32700, replies
    assert {t["name"] for t in by_id[5]["result"]["tools"]} == TOOLS


# Each raw line and the reply it must get: (id, error code), or (id, None) for a result.
_BAD_LINES = [
    ("id-no-method", b'{"jsonrpc": "2.0", "id": 7}', (7, -32600)),
    ("id-and-params-no-method", b'{"jsonrpc": "2.0", "id": 8, "params": {}}', (8, -32600)),
    ("no-jsonrpc-field", b'{"id": 9, "method": "tools/list"}', (9, -32600)),
    ("method-not-a-string", b'{"jsonrpc": "2.0", "id": 10, "method": 7}', (10, -32600)),
    ("an-array", b"[1]", (None, -32600)),
    ("a-number", b"123", (None, -32600)),
    ("an-empty-object", b"{}", (None, -32600)),
    ("null-id", b'{"jsonrpc": "2.0", "id": null, "method": "tools/list"}', (None, -32600)),
    ("fractional-id", b'{"jsonrpc": "2.0", "id": 1.5, "method": "tools/list"}', (None, -32600)),
    ("not-json", b"{this is not json", (None, -32700)),
    ("invalid-utf8", b'\xff\xfe{"jsonrpc": "2.0", "id": 11, "method": "tools/list"}', (None, -32700)),
    ("nested-too-deep", b"[" * 100_000 + b"]" * 100_000, (None, -32700)),
    ("surrogate-in-tool-name", b'{"jsonrpc": "2.0", "id": 12, "method": "tools/call", "params": '
                               b'{"name": "\\udc00search", "arguments": {"query": "x"}}}', (12, None)),
    ("surrogate-in-argument-name", b'{"jsonrpc": "2.0", "id": 13, "method": "tools/call", "params": '
                                   b'{"name": "search", "arguments": {"\\ud800query": "x"}}}', (13, None)),
    ("raw-surrogate-bytes", b'{"jsonrpc": "2.0", "id": 14, "method": "tools/call", "params": {"name": "search", '
                            b'"arguments": {"query": "\xed\xa0\x80 mesure 16", "k": 1}}}', (14, None)),
]


def test_every_bad_line_gets_a_json_rpc_reply_and_the_server_lives_on(index_settings, settings):
    """Issue 23: lines with an id but no method, a null or fractional id, JSON
    that is not a message, and JSON nested past the parser's depth got no
    reply (the client waited forever), or killed the server."""
    import subprocess
    import threading
    import time

    env = _env(TRAITE_QA_INDEX_DIR=str(index_settings.index_dir), TRAITE_QA_MODEL_CACHE=str(settings.model_cache))
    proc = subprocess.Popen([sys.executable, "-m", "traite_qa", "mcp"], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    replies: list[dict] = []
    threading.Thread(target=lambda: [replies.append(json.loads(line)) for line in proc.stdout], daemon=True).start()

    def exchange(line: bytes, timeout: float = 60) -> dict | None:
        before = len(replies)
        try:
            proc.stdin.write(line + b"\n")
            proc.stdin.flush()
        except BrokenPipeError:  # the server died on an earlier line
            return None
        deadline = time.monotonic() + timeout
        while len(replies) == before and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        return replies[before] if len(replies) > before else None

    got = {}
    try:
        assert "result" in exchange(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}).encode())
        proc.stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
        for name, line, _ in _BAD_LINES:
            got[name] = exchange(line, timeout=60)  # a tool call may wait for the model to load
        alive = exchange(b'{"jsonrpc": "2.0", "id": 99, "method": "tools/list"}')
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
        proc.wait(timeout=30)
    for name, _, (request_id, code) in _BAD_LINES:
        reply = got[name]
        assert reply is not None, f"{name}: no reply"
        assert reply.get("id") == request_id, (name, reply)
        if code is None:
            assert "result" in reply, (name, reply)
        else:
            assert reply.get("error", {}).get("code") == code, (name, reply)
    assert alive and {t["name"] for t in alive["result"]["tools"]} == TOOLS


# ------------------------------------------------- resources, prompt, stderr
def test_resources_prompt_and_a_quiet_stderr(index_settings, settings, evaluation, tmp_path):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client
    from mcp.shared.exceptions import MCPError

    env = _env(TRAITE_QA_INDEX_DIR=str(index_settings.index_dir), TRAITE_QA_MODEL_CACHE=str(settings.model_cache))
    stderr_path = tmp_path / "stderr.txt"

    async def session():
        with open(stderr_path, "w") as errlog:
            params = StdioServerParameters(command=sys.executable, args=["-m", "traite_qa", "mcp"], env=env)
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as client:
                    await client.initialize()
                    listed = [str(r.uri) for r in (await client.list_resources()).resources]
                    templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
                    texts = {uri: (await client.read_resource(uri)).contents[0].text
                             for uri in ("traite-qa://mesure/16", "traite-qa://note/32", "traite-qa://outline")}
                    missing = []
                    for uri in ("traite-qa://mesure/52", "traite-qa://note/999"):
                        try:
                            await client.read_resource(uri)
                        except MCPError as err:
                            missing.append(str(err))
                    prompts = (await client.list_prompts()).prompts
                    prompt = await client.get_prompt("answer_with_citations", {"question": "Où en est la mesure 16 ?"})
                    await client.call_tool("search", {"query": "x", "axis": 9})  # a bad call is not a warning
                    await client.call_tool("ask", {"question": "mesure 16"})
                    return listed, templates, texts, missing, prompts, prompt

    listed, templates, texts, missing, prompts, prompt = aio.run(asyncio.wait_for(session(), timeout=600))
    assert "traite-qa://outline" in listed and [f"traite-qa://mesure/{n}" for n in range(1, 46)] == [
        u for u in listed if "/mesure/" in u]
    assert set(templates) == {"traite-qa://mesure/{number}", "traite-qa://note/{number}"}
    m16 = evaluation.measure(16)
    assert texts["traite-qa://mesure/16"].startswith(f"# Mesure 16 : {m16.title}") and m16.body in texts["traite-qa://mesure/16"]
    assert "Statut : Non réalisée" in texts["traite-qa://mesure/16"]
    assert texts["traite-qa://note/32"].startswith(f"(32) {evaluation.footnote(32).text}")
    assert json.loads(texts["traite-qa://outline"]) == json.loads(json.dumps(evaluation.outline()))
    assert "unknown measure 52" in missing[0] and "unknown footnote 999" in missing[1]
    assert [p.name for p in prompts] == ["answer_with_citations"] and prompts[0].arguments[0].name == "question"
    text = prompt.messages[0].content.text
    assert "[mesure-16#1]" in text and m16.body.split("\n")[0][:200] in text and text.endswith("Question : Où en est la mesure 16 ?")
    assert stderr_path.read_text() == ""  # nothing but real warnings, and there were none
