"""A build killed with SIGKILL at any point leaves the previous index loadable,
and the next complete build succeeds and removes what the killed ones left.

`traite-qa build --force` runs in a subprocess on a copy of the session index
(the real layout: a `build` symlink to `.build.versions/<stamp>`), with the
normal model cache so nothing is reconverted and every embedding is cached.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fakes import CLI, cli_env, clean_stderr, copy_index_as_link
from traite_qa.index import index_problem
from traite_qa.search import Searcher

pytestmark = pytest.mark.slow

SEED = 20230112  # the CNCDH's evaluation date
UNIFORM_TRIALS = 8  # delays drawn uniformly in [0, build duration]
WRITE_PHASE_TRIALS = 6  # delays drawn after the build's tmp folder appears


def _state(link: Path) -> dict:
    versions = link.parent / f".{link.name}.versions"
    entries = sorted(p.name for p in versions.iterdir() if p.name != ".lock")
    return {
        "target": os.readlink(link) if link.is_symlink() else None,
        "tmp": [e for e in entries if e.startswith("tmp-")],
        "versions": [e for e in entries if not e.startswith(("tmp-", "old-"))],
        "links": sorted(p.name for p in link.parent.glob(f".{link.name}.link-*")),
    }


def _start(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [CLI, "build", "--force", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _kill(proc: subprocess.Popen) -> bool:
    """SIGKILL the build; True when it was still running."""
    running = proc.poll() is None
    if running:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    return running


def _wait_for_tmp(proc: subprocess.Popen, versions: Path, timeout: float) -> float | None:
    """Poll until the build creates its tmp folder; returns the time it appeared."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name.startswith("tmp-") for p in versions.iterdir()):
            return time.monotonic()
        time.sleep(0.002)
    return None


def test_build_killed_at_random_points(tmp_path, index_settings, searcher):
    link = copy_index_as_link(index_settings.index_dir, tmp_path)
    versions = tmp_path / ".build.versions"
    settings = index_settings.with_(index_dir=link)
    env = cli_env(
        TRAITE_QA_INDEX_DIR=link,
        TRAITE_QA_SOURCE=index_settings.source,
        TRAITE_QA_MODEL_CACHE=index_settings.model_cache,
    )

    def check_loadable(label: str) -> None:
        assert link.is_symlink(), f"{label}: {link} is no longer a symlink: {_state(link)}"
        loaded = Searcher.load(settings=settings, embedder=searcher.embedder)
        hits = loaded.search("mécanisme national de référence", k=3)
        assert hits and 16 in hits[0].measures, f"{label}: {[h.id for h in hits]}"
        assert index_problem(settings, searcher.embedder) is None, label

    check_loadable("the copy")

    # One complete build: times the whole run and the write phase (tmp folder -> exit).
    started = time.monotonic()
    proc = _start(env)
    tmp_seen = _wait_for_tmp(proc, versions, timeout=600)
    out, err = proc.communicate(timeout=600)
    ended = time.monotonic()
    assert proc.returncode == 0, clean_stderr(err)[-3000:]
    assert json.loads(out.decode().strip().splitlines()[-1])["skipped"] is False
    duration = ended - started
    write_window = ended - tmp_seen if tmp_seen else duration / 3
    check_loadable("after a complete build")

    rng = random.Random(SEED)
    outcomes = []
    for trial in range(UNIFORM_TRIALS):
        delay = rng.uniform(0, duration)
        before = _state(link)
        proc = _start(env)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            pass
        was_running = _kill(proc)
        after = _state(link)
        outcomes.append({"trial": f"uniform-{trial}", "delay": round(delay, 3), "killed": was_running,
                         "swapped": after["target"] != before["target"], **after})
        check_loadable(f"uniform trial {trial} (killed after {delay:.2f} s)")

    for trial in range(WRITE_PHASE_TRIALS):
        before = _state(link)
        proc = _start(env)
        seen = _wait_for_tmp(proc, versions, timeout=600)
        delay = rng.uniform(0, write_window)
        if seen is not None:
            try:
                proc.wait(timeout=max(0.0, seen + delay - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        was_running = _kill(proc)
        after = _state(link)
        outcomes.append({"trial": f"write-{trial}", "delay": round(delay, 3), "killed": was_running,
                         "swapped": after["target"] != before["target"], **after})
        check_loadable(f"write-phase trial {trial} (killed {delay:.2f} s into the write)")

    summary = json.dumps(outcomes, indent=1)
    print(f"build: {duration:.2f} s, write phase: {write_window:.2f} s\n{summary}")  # shown with `pytest -s`
    # The test must have hit the interesting window at least once: a build killed
    # while its new version was being written (its tmp folder left behind).
    assert any(o["killed"] and o["tmp"] for o in outcomes), f"no kill landed inside the write phase:\n{summary}"

    # A following complete build succeeds and removes every leftover.
    proc = subprocess.run([CLI, "build", "--force", "--json"], env=env, capture_output=True, timeout=600)
    assert proc.returncode == 0, clean_stderr(proc.stderr)[-3000:]
    final = _state(link)
    assert final["tmp"] == [] and final["links"] == [], f"leftovers after a complete build: {final}\n{summary}"
    assert final["versions"] == [Path(final["target"]).name], f"stale versions kept: {final}\n{summary}"
    assert not [p.name for p in versions.iterdir() if p.name.startswith("old-")], final
    check_loadable("after the final build")

    # And a plain `traite-qa build` now finds it up to date.
    proc = subprocess.run([CLI, "build", "--json"], env=env, capture_output=True, timeout=600)
    assert proc.returncode == 0, clean_stderr(proc.stderr)[-3000:]
    assert json.loads(proc.stdout.decode().strip().splitlines()[-1])["skipped"] is True
