"""MCP progress notifications during a first-use index build, with the
official MCP client (`ClientSession.call_tool(..., progress_callback=...)`).

The server runs as an installed package would on a new machine: no checkout
(so the default index lives in the per-user data dir, here a temp folder) and
no index. Only the converted model is shared, by a symlink, and the embedding
cache is a copy of the session's with one vector in four left out: the build
really embeds those (some 185 texts: three slices, each reported) rather than
all 740 (over a minute on two busy cores, for the same code path)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import aio

pytest.importorskip("mcp")
pytestmark = pytest.mark.slow

# `traite-qa mcp` as installed: without a checkout, the default index is the per-user one.
INSTALLED_MCP = ("import traite_qa.settings as s; s.CHECKOUT = None; "
                 "from traite_qa.cli import main; raise SystemExit(main(['mcp']))")


LEFT_OUT = 4  # one cached vector in LEFT_OUT is dropped: the build embeds those


def partial_cache(shared: Path, target: Path) -> None:
    """Copy each model's embedding cache without one vector in LEFT_OUT."""
    target.mkdir()
    for path in sorted(shared.glob("*.npz")):
        with np.load(path, allow_pickle=False) as npz:
            keys, vectors = npz["keys"], npz["vectors"]
        keep = np.arange(len(keys)) % LEFT_OUT != 0
        np.savez(target / path.name, keys=keys[keep], vectors=vectors[keep])


def test_a_first_build_sends_progress_to_the_client(tmp_path, settings, index_settings):
    # index_settings: the session's build has filled the shared embedding cache.
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    models = tmp_path / "models"
    models.mkdir()
    for entry in settings.model_cache.iterdir():
        if entry.name != "embeddings":  # the converted model only: the passages must really be embedded
            (models / entry.name).symlink_to(entry)
    # An empty cache would embed all ~740 texts (a minute or more); without one in
    # LEFT_OUT, some 185 are embedded, in slices of 64, with the same progress.
    if (settings.model_cache / "embeddings").is_dir():
        partial_cache(settings.model_cache / "embeddings", models / "embeddings")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAITE_QA_")}
    env.update({"XDG_DATA_HOME": str(tmp_path / "data"), "TRAITE_QA_MODEL_CACHE": str(models),
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    steps: list[tuple[float, float | None, str | None]] = []
    later: list = []

    async def first(progress, total, message):
        steps.append((progress, total, message))

    async def second(progress, total, message):
        later.append(progress)

    async def session():
        params = StdioServerParameters(command=sys.executable, args=["-c", INSTALLED_MCP], env=env, cwd=str(tmp_path))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as client:
                await client.initialize()
                answer = await client.call_tool("ask", {"question": "Où en est la mesure 16 ?"}, progress_callback=first)
                again = await client.call_tool("search", {"query": "mesure 16", "k": 1}, progress_callback=second)
                return answer, again

    answer, again = aio.run(asyncio.wait_for(session(), timeout=900))
    assert not answer.is_error, answer.content
    assert json.loads(answer.content[0].text)["measures"] == {"16": "Non réalisée"}
    assert not again.is_error and later == []  # the index is loaded: nothing to report
    # The build really happened, where an installed package keeps its index.
    built = list((tmp_path / "data").rglob("manifest.json"))
    assert built and (models / "embeddings").is_dir()

    values = [p for p, _, _ in steps]
    assert values == sorted(values) and len(set(values)) == len(values), steps  # strictly increasing, as the spec asks
    assert {t for _, t, _ in steps} == {100.0} and values[-1] == 100.0
    messages = [m for _, _, m in steps]
    embeds = [m for m in messages if "embedding" in m]
    assert len(embeds) >= 3, messages  # slice by slice, not one jump
    assert embeds[-1].endswith(f"{embeds[-1].split('/')[1].split()[0]}/{embeds[-1].split('/')[1].split()[0]} texts")
    assert "writing" in messages[-1]


def test_a_loaded_index_sends_no_progress(index_settings, settings):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAITE_QA_")}
    env.update({"TRAITE_QA_INDEX_DIR": str(index_settings.index_dir), "TRAITE_QA_MODEL_CACHE": str(settings.model_cache),
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    steps: list = []

    async def record(progress, total, message):
        steps.append(progress)

    async def session():
        params = StdioServerParameters(command=sys.executable, args=["-m", "traite_qa", "mcp"], env=env)
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as client:
                await client.initialize()
                return await client.call_tool("search", {"query": "mesure 16", "k": 1}, progress_callback=record)

    result = aio.run(asyncio.wait_for(session(), timeout=300))
    assert not result.is_error and steps == []
    assert Path(index_settings.index_dir).exists()
