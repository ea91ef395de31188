"""LangChain's own standard retriever tests (langchain-tests), run in a
separate pytest process: their async test needs an event loop of its own, and
the browser tests' Playwright keeps one running in this process's main thread."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_langchain_standard_retriever_tests_pass():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(HERE / "langchain_standard_suite.py")],
        capture_output=True, text=True, cwd=HERE.parent, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "5 passed" in result.stdout, result.stdout[-2000:]
