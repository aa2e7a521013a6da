"""Request bodies, read in chunks with a size limit: JSON into memory (small), files into the private temp folder.

An upload is never held in memory: a ``Content-Length`` over the limit is refused (413) before a byte of
the body is read, and a body without one is counted as it streams and refused the moment it passes the
limit. Files go to ``<upload root>/<fresh 0700 folder>/<the sent file name>`` (the root is the app's
private temp folder, ``JobController.temp_dir("upload")``), so messages name the file as the client
named it; the folder is removed when its job ends, or at once when the request fails.

Multipart bodies (``-F file=@doc.pdf -F stream=true``) are parsed with python-multipart's streaming
parser; any other content type is the file itself (``--data-binary @doc.pdf``), named by the
``filename`` query parameter.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.jobs import ErrorKind

from .errors import ApiError

JSON_LIMIT = 64 * 1024  # a JSON request without an image
FIELD_LIMIT = 64 * 1024  # one form field that is not a file
MB = 1024 * 1024


class ClientGone(Exception):
    """The client disconnected before its request was read."""


@dataclass
class Upload:
    path: Path
    folder: Path
    filename: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def too_large(limit: int) -> ApiError:
    return ApiError(ErrorKind.REQUEST, f"the upload is larger than the limit of {limit // MB} MB", status=413)


def declared_length(headers: Any) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        raise ApiError(ErrorKind.REQUEST, "Content-Length is not a number") from None
    if n < 0:
        raise ApiError(ErrorKind.REQUEST, "Content-Length is negative")
    return n


async def read_body(request: Any, limit: int) -> bytes:
    """The whole body into memory, refused (413) past ``limit`` bytes (declared or counted)."""
    n = declared_length(request.headers)
    if n is not None and n > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in _chunks(request):
        total += len(chunk)
        if total > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def save_upload(request: Any, root: Path, limit: int) -> Upload:
    """The file in the body (multipart, or the raw body) saved under ``root``; 413 past ``limit`` bytes."""
    n = declared_length(request.headers)
    if n is not None and n > limit + FIELD_LIMIT:  # the multipart framing and fields are small
        raise too_large(limit)
    content_type = request.headers.get("content-type", "")
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=root))
    try:
        if content_type.lower().startswith("multipart/form-data"):
            upload = await _multipart(request, folder, content_type, limit)
        else:
            name = request.query_params.get("filename") or "upload"
            upload = await _raw(request, folder, name, limit)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return upload


def safe_name(name: str | None) -> str:
    """A file name from a client, made harmless: no folders, no control characters, not hidden, not empty."""
    base = os.path.basename((name or "").replace("\\", "/"))
    base = re.sub(r"[\x00-\x1f\x7f/]", "", base).strip().lstrip(".")
    return base[:200] or "upload"


async def _raw(request: Any, folder: Path, name: str, limit: int) -> Upload:
    path = folder / safe_name(name)
    size = 0
    with _open_private(path) as f:
        async for chunk in _chunks(request):
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            f.write(chunk)
    if size == 0:
        raise ApiError(ErrorKind.REQUEST, "the request has no file: send it as multipart (file=@…), "
                       "as the body, or send {\"path\": …}")
    return Upload(path, folder, path.name, size)


async def _multipart(request: Any, folder: Path, content_type: str, limit: int) -> Upload:
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(ErrorKind.REQUEST, "a multipart body needs a boundary")
    state: dict[str, Any] = {"headers": {}, "field": b"", "value": b"", "name": None, "file": None, "buf": None,
                             "path": None, "filename": None, "size": 0, "error": None}
    fields: dict[str, str] = {}

    def on_part_begin() -> None:
        state.update(headers={}, name=None, buf=None)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].decode("latin-1").lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(state["headers"].get("content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        state["name"] = name
        if filename is not None:
            if state["file"] is not None or state["path"] is not None:
                state["error"] = ApiError(ErrorKind.REQUEST, "send one file per request")
                return
            path = folder / safe_name(filename.decode("utf-8", "replace"))
            state["path"], state["filename"] = path, path.name
            state["file"] = open(path, "xb")  # noqa: SIM115 - closed in on_part_end or below
            os.chmod(path, 0o600)
        else:
            state["buf"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["error"] is not None:
            return
        if state["file"] is not None:
            state["size"] += end - start
            if state["size"] > limit:
                state["error"] = too_large(limit)
                return
            state["file"].write(data[start:end])
        elif state["buf"] is not None:
            state["buf"] += data[start:end]
            if len(state["buf"]) > FIELD_LIMIT:
                state["error"] = ApiError(ErrorKind.REQUEST, f"the form field {state['name']!r} is too long")

    def on_part_end() -> None:
        if state["file"] is not None:
            state["file"].close()
            state["file"] = None
        elif state["buf"] is not None and state["name"]:
            fields[state["name"]] = bytes(state["buf"]).decode("utf-8", "replace")
            state["buf"] = None

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    })
    try:
        async for chunk in _chunks(request):
            parser.write(chunk)
            if state["error"] is not None:
                raise state["error"]
        parser.finalize()
    except ApiError:
        raise
    except ClientGone:
        raise
    except Exception as e:  # python-multipart's parse errors
        raise ApiError(ErrorKind.REQUEST, f"the multipart body could not be read ({type(e).__name__})") from None
    finally:
        if state["file"] is not None:
            state["file"].close()
    if state["error"] is not None:
        raise state["error"]
    if state["path"] is None or state["size"] == 0:
        raise ApiError(ErrorKind.REQUEST, "the form has no file (or an empty one): send it as file=@…")
    return Upload(state["path"], folder, state["filename"], state["size"], fields)


async def _chunks(request: Any):
    from starlette.requests import ClientDisconnect

    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise ClientGone() from None


@contextlib.contextmanager
def _open_private(path: Path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as f:
        yield f
