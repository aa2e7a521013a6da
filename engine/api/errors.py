"""``ApiError`` and the one shape of every error body: ``{"error": {"kind": ..., "message": ...}}``.

The kinds are the engine's ``ErrorKind`` values; the HTTP status follows from the kind (``STATUS``)
unless the raiser names one (413 and 409 are ``request`` and ``queue`` errors with their own codes).
"""

from __future__ import annotations

import json

from engine.jobs import ErrorKind

STATUS: dict[ErrorKind, int] = {
    ErrorKind.DOCUMENT: 422,
    ErrorKind.PASSWORD: 422,
    ErrorKind.MODEL_MISSING: 503,
    ErrorKind.MEMORY: 503,
    ErrorKind.MODEL: 500,
    ErrorKind.ENGINE: 503,
    ErrorKind.QUEUE: 429,
    ErrorKind.AUTH: 401,
    ErrorKind.REQUEST: 400,
    ErrorKind.NOT_FOUND: 404,
}
RETRY_AFTER_S = 2  # what a 429 asks the client to wait


class ApiError(Exception):
    def __init__(self, kind: ErrorKind, message: str, status: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.kind = ErrorKind(kind)
        self.message = " ".join(str(message).split())  # always one line
        self.status = status or STATUS[self.kind]
        self.headers = dict(headers or {})
        if self.status == 429:
            self.headers.setdefault("Retry-After", str(RETRY_AFTER_S))

    def body(self) -> dict:
        return error_body(self.kind, self.message)


def error_body(kind: ErrorKind | str, message: str) -> dict:
    return {"error": {"kind": str(ErrorKind(kind).value), "message": message}}


def error_bytes(kind: ErrorKind | str, message: str) -> bytes:
    return json.dumps(error_body(kind, message)).encode()


def status_for(kind: ErrorKind | None) -> int:
    return STATUS.get(kind, 500) if kind is not None else 500
