"""The outermost layer of the served app: what every request and every
response goes through, before any route (ours or Gradio's) sees it.

- `HostPolicy`: the Host header (and a browser's Origin) must name this
  server. A page on another site that rebinds its DNS name to 127.0.0.1
  sends its own name as Host, and is refused (DNS rebinding).
- `Edge` (ASGI middleware):
  - refuses a foreign Host (400) or Origin (403);
  - drops `X-Forwarded-*`, `Forwarded` and `X-Real-IP` unless the peer is a
    trusted proxy (Gradio builds its root URL from `X-Forwarded-Host`);
  - serves HEAD as GET without the body, wherever GET is served;
  - adds the security headers to every response and removes any CORS
    header (the page is same-origin; nothing needs CORS, least of all with
    credentials).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .errors import send_error

# The smallest policy the page works with (found in chromium, checked by
# tests/test_browser.py): Gradio's index.html carries inline scripts, its
# components set inline styles and data: images, and gr.HTML evaluates its
# templates with `new Function` ('unsafe-eval'), as does the dashboard's Vega
# plot. Everything comes from this origin; no frame may embed the page.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_DROPPED_RESPONSE = (b"access-control-", b"content-security-policy", b"x-content-type-options", b"referrer-policy", b"x-frame-options")
_FORWARDED = (b"x-forwarded-", b"forwarded", b"x-real-ip")
_WILDCARD_BINDS = ("", "0.0.0.0", "::")
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


class HostPolicy:
    """Which names the Host and Origin headers may carry.

    Bound to one address: that address, plus localhost/127.0.0.1/::1 when it
    is a loopback one. Bound to all interfaces (0.0.0.0 or ::): any IP
    address (an address typed in the browser cannot be a rebound name),
    localhost and the machine's host name. Always: `Settings.trusted_hosts`
    ("*.example.org" matches the subdomains; "*" anything)."""

    def __init__(self, bound: str, trusted: tuple[str, ...] = ()):
        bound = bound.strip("[]").lower()
        self.any_ip = bound in _WILDCARD_BINDS
        names = {h.strip("[]").lower() for h in trusted}
        if self.any_ip:
            names |= {"localhost", socket.gethostname().lower()}
        else:
            names.add(bound)
            if bound in _LOOPBACK_NAMES or _is_loopback(bound):
                names |= set(_LOOPBACK_NAMES)
        self.anything = "*" in names
        self.suffixes = tuple(n[1:] for n in names if n.startswith("*."))  # ".example.org"
        self.names = frozenset(n for n in names if not n.startswith("*"))

    def allows(self, host: str) -> bool:
        """`host` as sent (name, name:port, [v6]:port), without the scheme."""
        name = _host_name(host)
        if not name:
            return False
        if self.anything or name in self.names or any(name.endswith(s) for s in self.suffixes):
            return True
        return self.any_ip and _is_ip(name)

    def allows_origin(self, origin: str) -> bool:
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and bool(parts.netloc) and self.allows(parts.netloc)


class Edge:
    def __init__(self, app, hosts: HostPolicy, trusted_proxy: str | None = None):
        self.app = app
        self.hosts = hosts
        self.proxies = _networks(trusted_proxy)
        # uvicorn's own handling of X-Forwarded-For/-Proto, applied only to
        # requests that come from a trusted proxy (uvicorn's is turned off).
        self.forwarded_app = ProxyHeadersMiddleware(app, trusted_hosts=trusted_proxy) if trusted_proxy else app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = scope.get("headers") or []
        host = _header(headers, b"host")
        if host is None or not self.hosts.allows(host):
            return await self._refuse(scope, receive, send, 400, "invalid_host",
                                      "this server does not answer to that Host name: add it to TRAITE_QA_TRUSTED_HOSTS")
        origin = _header(headers, b"origin")
        if origin is not None and not self.hosts.allows_origin(origin):
            return await self._refuse(scope, receive, send, 403, "forbidden_origin",
                                      "requests from other sites are refused: add the site to TRAITE_QA_TRUSTED_HOSTS")
        app = self.app
        if self._from_proxy(scope):
            app = self.forwarded_app
        else:
            scope = {**scope, "headers": [(k, v) for k, v in headers if not k.lower().startswith(_FORWARDED)]}
        if scope["type"] == "websocket":  # Gradio 6 uses none; nothing to add headers to
            return await app(scope, receive, send)
        if scope["method"] != "HEAD":
            return await app(scope, receive, _secured(send))
        send, receive = _head_only(_secured(send), receive)
        return await app({**scope, "method": "GET"}, receive, send)

    def _from_proxy(self, scope) -> bool:
        if self.proxies is None:
            return False
        peer = (scope.get("client") or ("", 0))[0]
        if self.proxies == "*":
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.proxies)

    @staticmethod
    async def _refuse(scope, receive, send, status: int, code: str, message: str):
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        if scope["method"] == "HEAD":
            send, receive = _head_only(send, receive)
        await send_error(_secured(send), status, code, message)


def _secured(send):
    """`send` that sets the security headers and strips any CORS header."""

    async def wrapped(message):
        if message["type"] == "http.response.start":
            kept = [(k, v) for k, v in message.get("headers", []) if not k.lower().startswith(_DROPPED_RESPONSE)]
            message = {**message, "headers": kept + SECURITY_HEADERS}
        await send(message)

    return wrapped


def _head_only(send, receive):
    """HEAD served by the GET route: GET's status and headers, no body. The
    response ends with its headers; from then on the application is told the
    client left, so an endless GET (an event stream) stops too."""
    done = False

    async def send_head(message):
        nonlocal done
        if done or message["type"] != "http.response.start":
            return
        await send(message)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        done = True

    async def receive_head():
        if done:
            return {"type": "http.disconnect"}
        return await receive()

    return send_head, receive_head


def _header(headers, name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else ""
    name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    if port and not port.isdigit():
        return ""
    return name.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _networks(trusted_proxy: str | None):
    if not trusted_proxy:
        return None
    items = [item.strip() for item in trusted_proxy.split(",") if item.strip()]
    if "*" in items:
        return "*"
    return [ipaddress.ip_network(item, strict=False) for item in items]
