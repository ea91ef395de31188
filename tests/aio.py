"""Run a coroutine to completion from a synchronous test.

`asyncio.run` refuses to start when the thread already has a running loop, and
the session-wide sync Playwright (the browser tests) keeps one running on the
main thread for the rest of the session. A fresh thread has no loop, so the
outcome does not depend on which tests ran before."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="aio-run")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
