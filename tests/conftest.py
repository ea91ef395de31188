"""Shared fixtures. The real document is parsed once per session; tests that
need the real model and index (marked `slow`) share one session-scoped index
built into a temporary folder, so no test depends on another's leftovers or on
the user's own index."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from traite_qa.parser import parse  # noqa: E402
from traite_qa.settings import Settings  # noqa: E402


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def source(settings) -> str:
    return settings.source.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def evaluation(source):
    return parse(source)
