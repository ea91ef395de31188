"""Every line a client sends `traite-qa mcp` gets an answer (issue 23).

The SDK's stdio transport drops, without a reply, a line it cannot validate
(a lone surrogate in an argument, malformed JSON, an id but no method), and
takes a request whose id is null or fractional for a notification (no reply
either): the client then waits forever. `CheckedLines` wraps the transport's
read stream and answers each such line with a JSON-RPC error, or scrubs a
lone surrogate and replays the line.
"""

from __future__ import annotations

import json
import re
import sys

_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _scrub(value):
    """Lone surrogates (valid JSON escapes, not Unicode) become U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE_RE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


class CheckedLines:
    """The SDK's read stream, with the lines it could not validate answered.

    The stdio transport sends an Exception (not a message) for a line it
    cannot validate, and the session only logs it: the client waits forever.
    Here the raw line is not available any more, so the exception's input is:
    pydantic keeps it. A lone surrogate is scrubbed and the message replayed;
    anything else gets a JSON-RPC error (-32700 parse error, -32600 invalid
    request) with the request's id when it has one."""

    def __init__(self, stream, write_stream):
        self._stream, self._write = stream, write_stream

    def __aiter__(self):
        return self._messages()

    @property
    def last_context(self):  # the sender's contextvars, as the SDK's own stream carries them
        return getattr(self._stream, "last_context", None)

    async def __aenter__(self):
        await self._stream.__aenter__()
        return self

    async def __aexit__(self, *exc):
        return await self._stream.__aexit__(*exc)

    async def aclose(self):
        await self._stream.aclose()

    async def receive(self):
        async for item in self._messages():
            return item
        raise StopAsyncIteration

    async def _messages(self):
        import mcp_types as types
        from mcp.shared.message import SessionMessage

        async for item in self._stream:
            if isinstance(item, Exception):
                data = _line_value(item)
                try:  # a lone surrogate scrubbed, the line replayed
                    if data is not _UNREADABLE:
                        item = SessionMessage(types.jsonrpc_message_adapter.validate_json(
                            json.dumps(_scrub(data), ensure_ascii=False), by_name=False))
                except Exception:  # noqa: BLE001 - not a JSON-RPC message even scrubbed (or too deep): answered below
                    pass
            if not isinstance(item, Exception):
                if _id_lost(item.message):
                    await self._error(-32600, "Invalid Request: a request needs a string or integer id", None)
                    continue
                yield item
                continue
            request_id = data.get("id") if isinstance(data, dict) else None
            if isinstance(request_id, bool) or not isinstance(request_id, (int, str)):
                request_id = None
            request_id = _scrub(request_id)  # an id with a lone surrogate could not be written back
            if isinstance(data, dict) and "method" not in data and ("result" in data or "error" in data):
                continue  # a malformed *response* of the client's: nothing to answer
            code, message = (-32700, "Parse error") if data is _UNREADABLE else (-32600, "Invalid Request")
            await self._error(code, message, request_id)

    async def _error(self, code: int, message: str, request_id) -> None:
        import mcp_types as types
        from mcp.shared.message import SessionMessage

        print(f"traite-qa mcp: {message.lower()} on a line from the client", file=sys.stderr)
        error = types.JSONRPCError(jsonrpc="2.0", id=request_id, error=types.ErrorData(code=code, message=message))
        await self._write.send(SessionMessage(error))


def _id_lost(message) -> bool:
    """A request whose id the SDK dropped: `"id": null`, `1.5` or `true` make
    the line validate as a notification (extra keys are ignored), which gets
    no reply, and the client waits for one. MCP's notifications are all named
    notifications/…; any other method is a request, and needs its reply."""
    import mcp_types as types

    return isinstance(message, types.JSONRPCNotification) and not message.method.startswith("notifications/")


_UNREADABLE = object()  # the line is not JSON (or nests deeper than the parser goes)


def _line_value(exc: Exception):
    """The JSON value of the line a pydantic ValidationError was raised on, or
    _UNREADABLE. Pydantic keeps the raw line when it is not JSON to pydantic
    (its parser also refuses a lone surrogate, which Python's json takes);
    for valid JSON of the wrong shape, it keeps the parsed value: the input of
    a top-level error (a missing field, a value that is not an object)."""
    try:
        errors = exc.errors()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - not a ValidationError: nothing to read the line from
        return _UNREADABLE
    for error in errors:
        value, loc = error.get("input"), error.get("loc", ())
        if error.get("type") == "json_invalid" and isinstance(value, (str, bytes)):
            try:
                return json.loads(value)
            except (ValueError, RecursionError):  # RecursionError: [[[[…]]]] nested too deep
                return _UNREADABLE
        if len(loc) <= 1 or (len(loc) == 2 and error.get("type") == "missing"):
            return value  # loc: (union member,) or (union member, field): the value is the whole line's
    return {}  # valid JSON, not a message, its value not kept: an invalid request without an id
