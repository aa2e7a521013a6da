"""Who may talk to the local API: a bearer token, a loopback ``Host``, and never a browser's cross-origin read.

- The token is 32 random bytes (``secrets``), new at every start, written only to the 0600 discovery
  file; it is compared with ``hmac.compare_digest`` (constant time).
- ``Host`` must be a loopback name (``127.0.0.1``, ``localhost``, ``[::1]``), with this server's port
  or none: a web page that rebinds its own domain to 127.0.0.1 (DNS rebinding) sends its domain as
  ``Host`` and is refused (403) before anything else happens.
- No CORS headers are ever sent (no ``Access-Control-Allow-Origin``, whatever the app below does), so a
  browser page can neither read an answer nor get a preflight through.

``Guard`` is plain ASGI middleware (it never buffers a body, so streams stream).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from engine.jobs import ErrorKind

from .errors import error_bytes

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def allowed_hosts(port: int) -> frozenset[str]:
    """Every ``Host`` value accepted: each loopback name, bare or with this port."""
    return frozenset([*LOOPBACK_NAMES, *(f"{name}:{port}" for name in LOOPBACK_NAMES)])


def host_ok(host: str | None, port: int) -> bool:
    return host is not None and host.strip().lower() in allowed_hosts(port)


def token_ok(authorization: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    if not authorization:
        return False
    scheme, _, given = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


class Guard:
    """Refuses a foreign Host (403) and a missing or wrong token (401); strips any CORS header."""

    def __init__(self, app: App, token: str, port: int) -> None:
        self.app = app
        self.token = token
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # none are served (uvicorn runs with ws="none"); refuse any that come
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not host_ok(headers.get("host"), self.port):
            await _refuse(send, 403, "the Host header is not a loopback name; refused")
            return
        if not token_ok(headers.get("authorization"), self.token):
            await _refuse(send, 401, "a bearer token is required: the one in the app's discovery file")
            return

        async def send_without_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [(k, v) for k, v in message.get("headers", [])
                                      if not k.lower().startswith(b"access-control-")]
            await send(message)

        await self.app(scope, receive, send_without_cors)


async def _refuse(send: Send, status: int, message: str) -> None:
    body = error_bytes(ErrorKind.AUTH, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="ocr-tray"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
