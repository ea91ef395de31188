"""The docs' "Use it from another app" (docs/integrations.md): every code block of the
page runs as written, from an empty directory, against the session's index
(`TRAITE_QA_INDEX_DIR`). The HTTP (curl), gradio_client and OpenAI blocks talk to a live
`traite-qa chat`, with the page's URL replaced by the server's; the MCP
config's command is started with the SDK's stdio client; the Python blocks run
in one fresh interpreter, each in its own namespace (so none leans on another's
imports)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import aio
import live

from fakes import REPO, VENV_BIN

PAGE = REPO / "docs" / "integrations.md"
README_URL = "http://127.0.0.1:7860"
OUT = Path(__file__).parent / "out"
# subsection (title prefix) -> the languages of its code blocks, in order
EXPECTED = {
    "Python API": ["python"],
    "HTTP": ["bash"],
    "gradio_client": ["python"],
    "OpenAI": ["python"],
    "LangChain": ["python"],
    "LlamaIndex": ["python"],
    "MCP": ["json"],
    "Export": ["bash", "python"],
}


def _blocks() -> dict[str, list[tuple[str, str]]]:
    section = PAGE.read_text(encoding="utf-8")
    found = {}
    for part in re.split(r"\n## ", section)[1:]:
        title = part.splitlines()[0]
        key = next((k for k in EXPECTED if title.startswith(k)), title)
        found[key] = re.findall(r"```(\w+)\n(.*?)```", part, flags=re.S)
    return found


def test_the_section_has_a_runnable_example_for_each_path():
    blocks = _blocks()
    assert {k: [lang for lang, _ in v] for k, v in blocks.items()} == EXPECTED
    json.loads(blocks["MCP"][0][1])  # the config snippet is valid JSON


# ------------------------------------------------------------------ slow
RUNNER = r"""
import contextlib, io, json, sys, traceback
blocks = json.load(sys.stdin)
out = []
for name, code in blocks:
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            exec(compile(code, f"<README {name}>", "exec"), {"__name__": "__main__"})
        out.append({"name": name, "stdout": buffer.getvalue(), "error": None})
    except Exception:
        out.append({"name": name, "stdout": buffer.getvalue(), "error": traceback.format_exc()})
print(json.dumps(out))
"""


@pytest.fixture(scope="session")
def live_server(index_settings):  # shared with the other server tests (tests/live.py counts the users)
    server = live.acquire(index_settings.index_dir, OUT)
    yield server
    live.release(server)


@pytest.fixture(scope="module")
def env(index_settings, settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAITE_QA_") and k != "PYTHONPATH"}
    env.update({"TRAITE_QA_INDEX_DIR": str(index_settings.index_dir), "TRAITE_QA_MODEL_CACHE": str(settings.model_cache),
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "GRADIO_ANALYTICS_ENABLED": "False", "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"})
    return env


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("readme-app")  # empty: nothing of the checkout around


def _bash(code: str, cwd: Path, env: dict) -> str:
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _json_documents(text: str) -> list:
    decoder, docs, i = json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        doc, i = decoder.raw_decode(text, i)
        docs.append(doc)
    return docs


@pytest.mark.slow
@pytest.mark.server
def test_http_block_against_a_live_server(live_server, workdir, env):
    (code,) = [c for _, c in _blocks()["HTTP"]]
    assert README_URL in code
    search, answer, measure = _json_documents(_bash(code.replace(README_URL, live_server.url), workdir, env))
    assert search["hits"][0]["measures"] == [16] and len(search["hits"]) == 2
    assert answer["status"] == "answered" and answer["measures"] == {"16": "Non réalisée"}
    assert measure["number"] == 16 and measure["status"] == "Non réalisée"


@pytest.mark.slow
@pytest.mark.server
def test_python_blocks_and_the_export(live_server, workdir, env, searcher):
    blocks = _blocks()
    (_, export_shell), (_, export_python) = blocks["Export"]
    output = _bash(export_shell, workdir, env)
    assert (workdir / "export" / "chunks.jsonl").exists() and (workdir / "export" / "vectors.npz").exists()
    assert "219 chunks" in output

    python = [(name, blocks[name][0][1]) for name in ("Python API", "gradio_client", "OpenAI", "LangChain", "LlamaIndex")]
    python = [(n, c.replace(README_URL, live_server.url)) for n, c in python] + [("Export", export_python)]
    proc = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(python), cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {r["name"]: r for r in json.loads(proc.stdout.strip().splitlines()[-1])}
    for name, result in results.items():
        assert result["error"] is None, f"README block {name!r} failed:\n{result['error']}"

    api = results["Python API"]["stdout"].splitlines()
    assert api[0].startswith("1 mesure-16#") and "Non réalisée" in api[0]
    assert api[3].startswith("answered ['mesure-16") and "non réalisée" in api[4].lower()

    gradio = results["gradio_client"]["stdout"].splitlines()
    assert gradio[0] == "answered {'16': 'Non réalisée'}" and gradio[1].startswith("['mesure-16#")

    chat = results["OpenAI"]["stdout"].splitlines()
    assert chat[0] == "['Mesure 16']" and chat[1].startswith("La mesure 17")
    assert "[Mesure 17]" in results["OpenAI"]["stdout"] and "- [Mesure 17] " in results["OpenAI"]["stdout"]

    llama = results["LlamaIndex"]["stdout"].splitlines()
    nodes = eval(llama[0])  # (id, status, score) of the top 3
    assert len(nodes) == 3 and all("Non réalisée" in searcher.chunk(i).statuses for i, _, _ in nodes)
    assert llama[1].startswith("answered [('mesure-16#") and "Mesure 16" in llama[1] and "non réalisée" in llama[2]

    chain = results["LangChain"]["stdout"].splitlines()
    assert chain[0].startswith("[('mesure-16#")
    ids = eval(chain[1])  # a printed list of ids
    assert len(ids) == 2 and all("Non réalisée" in searcher.chunk(i).statuses for i in ids)
    filtered = eval(chain[2])  # (id, title, dense) of axis 3's measures
    assert filtered and all(searcher.chunk(i).axis == 3 and title and 0 < dense <= 1 for i, title, dense in filtered)
    assert chain[3].startswith("Human: Contexte :") and "[mesure-16#" in results["LangChain"]["stdout"]

    top3 = eval(results["Export"]["stdout"].strip())
    assert top3 == [h.id for h in searcher.search("mécanisme national de référence", k=3, mode="dense")]


@pytest.mark.slow
def test_mcp_config_snippet_starts_a_working_server(workdir, env):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    config = json.loads(_blocks()["MCP"][0][1])["mcpServers"]["traite-qa"]
    command = shutil.which(config["command"], path=env["PATH"])
    assert command and Path(command).parent == VENV_BIN

    async def session():
        params = StdioServerParameters(command=command, args=config["args"], env=env, cwd=str(workdir))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as client:
                await client.initialize()
                tools = {t.name for t in (await client.list_tools()).tools}
                return tools, await client.call_tool("get_measure", {"number": 16})

    tools, result = aio.run(asyncio.wait_for(session(), timeout=300))
    assert tools == {"search", "ask", "get_measure", "list_measures"}
    assert not result.is_error and json.loads(result.content[0].text)["status"] == "Non réalisée"
