"""Progress of a first-use index build, sent to MCP clients.

On a new machine the MCP server's first tool call waits for the index to be
built (about half a minute, more on a busy machine). A client that passes a
`progressToken` with its call gets `notifications/progress` while it waits:
one number from 0 to 100 across the build's stages (parse, chunk, embed in
slices, write), with a message saying which. A call made once the index is
loaded sends none.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable

from ..index import BaseEmbedder, build_index
from ..settings import Settings

TOTAL = 100.0
# Where each stage starts and ends on the 0-100 scale: embedding is nearly all of the time.
SPANS = {"parse": (0.0, 2.0), "chunk": (2.0, 5.0), "embed": (5.0, 90.0), "write": (90.0, 100.0)}
MESSAGES = {
    "parse": "traite-qa: first use, building the index: reading the document",
    "chunk": "traite-qa: first use, building the index: cutting it into passages",
    "embed": "traite-qa: first use, building the index: embedding {done}/{total} texts",
    "write": "traite-qa: first use, building the index: writing it",
}
Report = Callable[[float, float, str], None]


class BuildProgress:
    """The build's `on_progress`, and what the waiting tool calls read."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._latest: tuple[float, str] | None = None
        self._count = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        start, end = SPANS.get(stage, (0.0, 0.0))
        value = start + (end - start) * (done / total if total else 1.0)
        message = MESSAGES.get(stage, "traite-qa: building the index").format(done=done, total=total)
        with self._changed:
            if self._latest is None or value > self._latest[0]:  # the spec: progress increases with each notification
                self._latest = (round(value, 1), message)
                self._count += 1
            self._changed.notify_all()

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def follow(self, done: threading.Event, report: Report) -> None:
        """Until `done` is set, `report(progress, total, message)` each new
        step (the latest one first, when a build is already under way)."""
        seen = 0
        while True:
            with self._changed:
                while self._count == seen and not done.is_set():
                    self._changed.wait(timeout=1.0)
                if self._count == seen:
                    return
                seen = self._count
                value, message = self._latest
            report(value, TOTAL, message)  # outside the lock: it waits for the client's transport


def build_if_missing(settings: Settings, embedder: BaseEmbedder, progress: BuildProgress) -> None:
    """Build the default index when there is none yet (a first use), reporting
    to `progress`, as `Searcher.load()` would build it. A stale or damaged one
    is left to `Searcher.load()` (checking it here would load it twice on every
    start), and another index (TRAITE_QA_INDEX_DIR) is never built, as
    `Searcher.load()` does not build it either."""
    if settings.index_is_default and not settings.index_dir.exists():
        print(f"traite-qa: building the index (no index at {settings.index_dir})", file=sys.stderr, flush=True)
        build_index(settings, force=True, progress=True, embedder=embedder, unless_built_meanwhile=True,
                    on_progress=progress)
