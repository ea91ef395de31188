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
from hypothesis import settings as hypothesis_settings  # noqa: E402

# `make test` (and so CI) runs the property and fuzz tests derandomized: the
# same 1,000+ inputs per entry point every run, so a red build is a regression,
# not a new random draw. Plain `pytest` explores new inputs each time.
hypothesis_settings.register_profile("ci", derandomize=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

from traite_qa.document import parse  # noqa: E402
from traite_qa.settings import Settings  # noqa: E402

# The longest files (seconds measured under `make test`), handed out first:
# `-n 2 --dist loadfile --no-loadscope-reorder` gives each worker whole files
# in collection order, so a long file started last leaves the other worker
# idle. (Naming them first on the command line does nothing since pytest 8:
# `tests` after them re-sorts; and without --no-loadscope-reorder xdist hands
# out the files with the most tests first, whatever they cost.)
SLOW_FIRST = [
    "test_fuzz.py", "test_index_faults.py", "test_load.py", "test_browser.py", "test_cli.py", "test_browser_a11y.py",
    "test_browser_pages.py", "test_api_fuzz.py", "test_feedback_processes.py", "test_processes.py", "test_mcp.py",
    "test_schemathesis.py", "test_abuse.py", "test_security.py", "test_feedback_cli.py", "test_export.py",
    "test_readme_apps.py", "test_encoders.py", "test_cli_table.py", "test_e5convert.py", "test_forged_index.py",
    "test_langchain_standard.py", "test_generator.py", "test_openai_api.py", "test_mcp_progress.py",
]


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))  # stable: each file's own order kept


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def source(settings) -> str:
    return settings.source.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def evaluation(source):
    return parse(source)


@pytest.fixture(scope="session")
def index_settings(tmp_path_factory, settings) -> Settings:
    """A real index built once per session in a temporary folder (slow tier).

    Embeddings are cached next to the model (by passage hash), so after the
    first run this build takes a few seconds."""
    from traite_qa.index import build_index

    built = settings.with_(index_dir=tmp_path_factory.mktemp("index") / "build")
    build_index(built, force=True)
    return built


@pytest.fixture(scope="session")
def assistant(index_settings):
    from traite_qa.answer import Assistant

    assistant = Assistant.load(settings=index_settings)
    assistant.warm_up()
    return assistant


@pytest.fixture(scope="session")
def searcher(assistant):
    return assistant.searcher


@pytest.fixture(scope="session")
def pg():
    """A throwaway PostgreSQL cluster shared by the session's feedback tests
    (initdb/pg_ctl on a free port; fails with the install command when the
    server binaries are missing)."""
    from feedback_support import PostgresCluster

    cluster = PostgresCluster().start()
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium through Playwright, one for the whole session (two
    sync Playwright instances cannot run in one process)."""
    from browser_support import ARGS, CHROMIUM

    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is missing: `make browser-deps` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()
