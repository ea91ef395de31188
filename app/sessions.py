"""Who holds what in Gradio's queue and state: per-client fairness and
session lifetime (issue 23).

- `ClientEvents`: the chat events each client address has posted and not
  yet received. GradioGuard refuses more than `client_max_events` (429), so
  one client's flood of joins, or its slow generator streams, takes a few
  of the queue's places and workers, never all of them: the next person's
  turn waits behind at most that many of its events.
- `Sessions`: Gradio keeps a session's state (the chat's turns, a copy of
  the page's config) until `max_sessions` newer ones push it out, and
  undelivered results until someone reads them, that is forever for a
  client that never does. Here a session is dropped once it has no open
  page (the page holds `/gradio_api/heartbeat/<session>` open for as long
  as it is shown), no event waiting or running, and has not been seen for
  `session_idle_seconds`. A page closed and reopened gets a new session
  and restores its conversation from the browser's storage.

Both read Gradio's queue and state holder directly (no public API counts
them): tests/test_fairness.py fails if those move.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import Counter

log = logging.getLogger("traite_qa_app")


def client_key(scope) -> str:
    """The address a client is counted by: its IP, or its /64 for IPv6 (one
    host gets a whole /64, so counting single addresses would count nothing).
    Behind a trusted proxy, Edge has already put the forwarded address here."""
    host = (scope.get("client") or ("", 0))[0] or "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class ClientEvents:
    """Events per client address: reserved while Gradio takes them, then
    held until delivered (Gradio's `pending_event_ids_session`)."""

    def __init__(self, blocks, limit: int):
        self.blocks = blocks
        self.limit = limit
        self.reserved: Counter[str] = Counter()
        self.events: dict[str, dict[str, str]] = {}  # client -> {event_id: session_hash}

    def held(self, client: str) -> int:
        """Events of this client not yet delivered (pruning the delivered ones)."""
        pending = getattr(getattr(self.blocks, "_queue", None), "pending_event_ids_session", None) or {}
        mine = self.events.get(client)
        if mine:
            for event_id, session in list(mine.items()):
                if event_id not in pending.get(session, ()):
                    del mine[event_id]
            if not mine:
                del self.events[client]
        return len(self.events.get(client, ())) + self.reserved[client]

    def reserve(self, client: str) -> bool:
        """Take a place for one more event, or False when the client holds its share."""
        if self.held(client) >= self.limit:
            return False
        self.reserved[client] += 1
        return True

    def settle(self, client: str, event_id: str | None, session: str | None) -> None:
        """The reservation ends; an accepted event is the client's until delivered."""
        self.reserved[client] -= 1
        if self.reserved[client] <= 0:
            del self.reserved[client]
        if event_id:
            self.events.setdefault(client, {})[event_id] = session or event_id


class Sessions:
    """Open pages per session, when each session was last seen, and the sweep
    that drops idle ones from Gradio's state and queue."""

    def __init__(self, blocks, idle_seconds: float):
        self.blocks = blocks
        self.idle_seconds = idle_seconds
        self.open: Counter[str] = Counter()  # session -> open heartbeat (or event stream) connections
        self.seen: dict[str, float] = {}  # session -> time.monotonic() of its last request
        self.dropped = 0

    def touch(self, session: str | None) -> None:
        if session:
            self.seen[session] = time.monotonic()

    async def hold(self, session: str, serve):
        """Run `serve()` (a heartbeat or an event stream) with the session kept alive."""
        self.open[session] += 1
        self.touch(session)
        try:
            return await serve()
        finally:
            self.open[session] -= 1
            if self.open[session] <= 0:
                del self.open[session]
            self.touch(session)

    def sweep(self, now: float | None = None) -> int:
        """Drop the sessions idle past `idle_seconds`; how many were dropped.
        Runs on the event loop, as Gradio's own state clean-up does."""
        now = time.monotonic() if now is None else now
        holder = getattr(self.blocks, "state_holder", None)
        queue = getattr(self.blocks, "_queue", None)
        states = holder.session_data if holder is not None else {}
        messages = queue.pending_messages_per_session if queue is not None else {}
        pending = queue.pending_event_ids_session if queue is not None else {}
        live = queue.event_ids_to_events if queue is not None else {}
        known = set(states) | set(messages) | set(pending)
        dropped = 0
        for session in known:
            last = self.seen.setdefault(session, now)  # first met here: its idle time starts now
            if session in self.open or now - last < self.idle_seconds:
                continue
            if any(event_id in live for event_id in pending.get(session, ())):
                continue  # waiting or running: its result is on its way
            self._drop(session, holder, states, messages, pending)
            dropped += 1
        for session in [s for s in self.seen if s not in known and s not in self.open]:
            del self.seen[session]
        self.dropped += dropped
        return dropped

    def _drop(self, session, holder, states, messages, pending) -> None:
        if session in states:
            holder.delete_state(session)  # State components' delete callbacks, as Gradio's clean-up calls them
            with holder.lock:
                states.pop(session, None)
                holder.time_last_used.pop(session, None)
        messages.pop(session, None)  # results nobody came for
        pending.pop(session, None)
        self.seen.pop(session, None)
        try:
            from gradio import caching

            caching.clear_session_caches(session)
        except (ImportError, AttributeError):  # pragma: no cover - an older or newer Gradio
            pass

    def interval(self) -> float:
        return min(30.0, max(0.5, self.idle_seconds / 4))

    async def run(self) -> None:
        """Sweep every `interval()` seconds, for the server's lifetime."""
        while True:
            await asyncio.sleep(self.interval())
            try:
                if count := self.sweep():
                    log.info("traite-qa: dropped %d idle chat sessions", count)
            except Exception:  # noqa: BLE001 - a failed sweep must not end the loop (the next one retries)
                log.exception("traite-qa: the idle-session sweep failed")
