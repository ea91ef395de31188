"""uvicorn's HTTP/1.1 protocol (h11) with bounds on the request head.

uvicorn waits for a request line and headers as long as the client keeps
the connection open, buffering up to h11's limit each time: many slow
clients cost memory and sockets for nothing. Here the head must arrive
within `Settings.read_timeout` seconds (else 408 and close) and fit in
`Settings.max_header_bytes` (else 400 and close; h11 enforces it), and both
errors are JSON in the API's shape.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .edge import SECURITY_HEADERS
from .errors import error_body


def bounded_protocol(head_timeout: float, max_head_bytes: int) -> type[H11Protocol]:
    """The protocol class for uvicorn.Config(http=...), with these bounds."""

    class BoundedH11Protocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._head_timer = None
            self._arm_head_timer()

        def _arm_head_timer(self) -> None:
            self._cancel_head_timer()
            self._head_timer = self.loop.call_later(head_timeout, self._head_timed_out)

        def _cancel_head_timer(self) -> None:
            if getattr(self, "_head_timer", None) is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:  # the whole head has arrived (or the connection failed)
                self._cancel_head_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_head_timer()  # a kept-alive connection: the next head has the same deadline

        def connection_lost(self, exc) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if self.conn.trailing_data[0]:  # part of a head was sent: say why the connection ends
                self.transport.write(_raw_response(408, "Request Timeout", "request_timeout",
                                                   f"the request line and headers were not received within {head_timeout:g} s"))
            self.transport.close()

        def send_400_response(self, msg: str) -> None:
            # h11 refused the head: malformed, or over the size limit.
            self.transport.write(_raw_response(400, "Bad Request", "bad_request", (
                f"invalid HTTP request: malformed, or its request line and headers are over {max_head_bytes // 1024} KiB "
                "(send long questions with POST /api/ask)"
            )))
            self.transport.close()

    return BoundedH11Protocol


def _raw_response(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps(error_body(code, message), ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    head = f"HTTP/1.1 {status} {reason}\r\n".encode() + b"".join(k + b": " + v + b"\r\n" for k, v in headers + SECURITY_HEADERS)
    return head + b"\r\n" + body


def __getattr__(name: str):
    """`uvicorn --http traite_qa_app.http:Protocol`: the same bounds for
    `uvicorn --workers` as `traite-qa chat` has, from the environment's
    settings (TRAITE_QA_READ_TIMEOUT, TRAITE_QA_MAX_HEADER_BYTES)."""
    if name == "Protocol":
        from traite_qa import Settings

        settings = Settings.from_env()
        return bounded_protocol(settings.read_timeout, settings.max_header_bytes)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
