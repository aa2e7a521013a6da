"""The small HTTP client the command line uses to talk to the running app (httpx).

    client = ApiClient.find()          # None when no app is running (no discovery file, or its process is gone)
    client.status()                    # GET /v1/status
    for event in client.ocr_events(path, {"max_tokens": 100}): ...   # POST /v1/ocr, stream=true (NDJSON)

Errors come back as ``ApiError`` (status, kind, one-line message); a connection that fails is
``Unreachable``. Every wait is bounded (connect in 2 s; a streamed answer may be silent for an hour at
most, while the job waits its turn in the app's queue).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from engine import __version__

from .discovery import Discovery, read

CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 3600.0
USER_AGENT = f"ocr-tray-cli/{__version__}"


class ApiError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


class Unreachable(Exception):
    """The discovery file names an app, but it does not answer."""


def _httpx() -> Any:
    try:
        import httpx  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # the same client under its newer distribution name
        import httpx2 as httpx  # type: ignore[import-not-found,no-redef,unused-ignore]
    return httpx


def transport() -> Any:
    """An HTTP transport with TCP_NODELAY: a request's headers and body go out at once (with Nagle's algorithm
    the body would wait for the server's delayed ACK, about 40 ms on loopback, on every request)."""
    import socket

    httpx = _httpx()
    return httpx.HTTPTransport(trust_env=False, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])


class ApiClient:
    def __init__(self, info: Discovery, user_agent: str = USER_AGENT) -> None:
        httpx = _httpx()
        self.info = info
        self._httpx = httpx
        self._client = httpx.Client(
            base_url=info.url, headers={"Authorization": f"Bearer {info.token}", "User-Agent": user_agent},
            timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S), trust_env=False, transport=transport(),
        )

    @classmethod
    def find(cls, discovery_path: Path | None = None) -> ApiClient | None:
        info = read(discovery_path)
        return cls(info) if info is not None else None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ requests
    def status(self) -> dict[str, Any]:
        return self._json("GET", "/v1/status")

    def unload(self) -> dict[str, Any]:
        return self._json("POST", "/v1/unload")

    def load(self, keep_alive: float | None = None) -> dict[str, Any]:
        return self._json("POST", "/v1/load", json={"keep_alive": keep_alive})

    def models(self) -> dict[str, Any]:
        return self._json("GET", "/v1/models")

    def ocr(self, path: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._json("POST", "/v1/ocr", json={"path": path, **dict(options or {}), "stream": False})

    def ocr_events(self, path: str, options: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """The job's NDJSON events as they come (``job.queued`` … ``job.done``); ApiError when refused."""
        body = {"path": path, **dict(options or {}), "stream": True}
        try:
            with self._client.stream("POST", "/v1/ocr", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise _error(response)
                for line in response.iter_lines():
                    if line.strip():
                        yield json.loads(line)
        except self._httpx.TransportError as e:
            raise Unreachable(f"the running app did not answer ({type(e).__name__})") from None

    def _json(self, method: str, url: str, **kw: Any) -> dict[str, Any]:
        try:
            response = self._client.request(method, url, **kw)
        except self._httpx.TransportError as e:
            raise Unreachable(f"the running app did not answer ({type(e).__name__})") from None
        if response.status_code >= 400:
            raise _error(response)
        data: dict[str, Any] = response.json()
        return data


def _error(response: Any) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(response.status_code, str(error["kind"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        return ApiError(response.status_code, "request", f"HTTP {response.status_code}")
