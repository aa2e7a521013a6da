"""One API job from the loop's side: submit it through the bridge, read its events, answer or stream them.

Shared by ``POST /v1/ocr`` and the OpenAI-compatible endpoint. Every wait is bounded, and a client that
disconnects (noticed by a watcher on ``receive``, also while the job waits in the queue) cancels its job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.responses import StreamingResponse

from engine.documents import DocumentError, display_name
from engine.jobs import ErrorKind, JobResult, OcrOptions

from . import bridge as b
from .errors import ApiError

log = logging.getLogger(__name__)

EVENT_TIMEOUT_S = 3600.0  # no event for this job in an hour: the job is given up (cancelled) and the client told
SUBMIT_TIMEOUT_S = b.CALL_TIMEOUT_S


@dataclass
class Submitted:
    stream: b.JobStream
    job_id: int
    shown_path: str  # the path as the client knows it (an upload's file name)
    first: tuple[str, Any] | None = None  # the job.queued event, read while submitting


def client_name(request: Any) -> str:
    agent = " ".join(str(request.headers.get("user-agent", "")).split())[:80]
    return agent or "API client"


def check_document(path: str) -> None:
    """The same checks, and the same one-line messages, as a file dropped on the window (422 when not OCR-able)."""
    from engine.controller import expand_and_check

    if os.path.isdir(path):
        raise ApiError(ErrorKind.DOCUMENT, str(DocumentError(path, "is a folder, not a file")))
    files, problems = expand_and_check([path])
    if problems:
        raise ApiError(ErrorKind.DOCUMENT, str(problems[0]))
    if not files:
        raise ApiError(ErrorKind.DOCUMENT, str(DocumentError(path, "the file does not exist")))


async def submit(bridge: b.ApiBridge, request: Any, path: str, options: OcrOptions, *, upload_dir: Path | None,
                 shown_path: str, deltas: bool) -> Submitted:
    """Queue the job; raises ApiError for a full queue (429), a duplicate (409) or a quitting app (503)."""
    stream = b.JobStream(asyncio.get_running_loop(), deltas=deltas)
    stream.upload_dir = upload_dir
    bridge.submit(stream, path, options, client_name(request), temporary=upload_dir is not None)
    try:
        name, payload = await stream.next(SUBMIT_TIMEOUT_S)
    except TimeoutError:
        bridge.cancel(stream)
        raise ApiError(ErrorKind.ENGINE, "the app did not take the job in time; try again") from None
    if name == b.QUEUED:
        assert stream.job_id is not None
        return Submitted(stream, stream.job_id, shown_path, (name, payload))
    if name == b.REJECTED:
        raise ApiError(ErrorKind.QUEUE, _shown(payload.error or "the queue is full", path, shown_path), status=429)
    if name == b.DUPLICATE:
        raise ApiError(ErrorKind.QUEUE, f"{display_name(shown_path)}: already in the queue", status=409)
    raise ApiError(ErrorKind.ENGINE, "the app is quitting")


async def events(job: Submitted, bridge: b.ApiBridge) -> AsyncIterator[tuple[str, Any]]:
    """The job's events, starting with ``job.queued``, ending with ``job.done`` (or an ApiError)."""
    if job.first is not None:
        first, job.first = job.first, None
        yield first
    while True:
        try:
            name, payload = await job.stream.next(EVENT_TIMEOUT_S)
        except TimeoutError:
            bridge.cancel(job.stream)
            raise ApiError(ErrorKind.ENGINE, "no progress for an hour; the job was cancelled") from None
        if name == "overflow":
            raise ApiError(ErrorKind.REQUEST, "the client read too slowly; the job was cancelled", status=408)
        if name == b.CLOSED:
            raise ApiError(ErrorKind.ENGINE, "the app is quitting")
        yield name, payload
        if name == b.DONE:
            return


async def wait_done(job: Submitted, bridge: b.ApiBridge, request: Any) -> JobResult | None:
    """The job's result, or None when the client went away first (its job is then cancelled)."""

    async def result() -> JobResult:
        async for name, payload in events(job, bridge):
            if name == b.DONE:
                return payload
        raise ApiError(ErrorKind.ENGINE, "the job ended without a result")

    waiting = asyncio.ensure_future(result())
    watcher = asyncio.ensure_future(wait_disconnect(request.receive))
    try:
        done, _ = await asyncio.wait({waiting, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if waiting in done:
            return waiting.result()
        bridge.cancel(job.stream)
        return None
    finally:
        for task in (waiting, watcher):
            task.cancel()
        for task in (waiting, watcher):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def wait_disconnect(receive: Callable[[], Any]) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def event_json(name: str, payload: Any, shown_path: str) -> dict[str, Any]:
    from .schemas import page_json

    if name == b.QUEUED:
        return {"event": name, "job_id": payload.job_id, "path": shown_path, "position": payload.position}
    if name == b.STARTED:  # with the format the model's answers will be in (the job's task)
        return {"event": name, "job_id": payload.job_id, "path": shown_path, "format": payload.options.output or None}
    if name == b.PAGE_STARTED:
        return {"event": name, "job_id": payload.job_id, "path": shown_path, "page": payload.page,
                "pages": payload.pages}
    if name == b.DELTA:
        return {"event": name, "job_id": payload.job_id, "page": payload.page, "text": payload.text}
    if name == b.PAGE_DONE:
        return {"event": name, "job_id": payload.job_id, **page_json(payload, shown_path)}
    result: JobResult = payload
    return {"event": name, "job_id": result.job_id, "path": shown_path, "status": result.status.value,
            "page_count": result.page_count, "pages": len(result.pages), "seconds": round(result.seconds, 4),
            "error": {"kind": (result.error_kind or ErrorKind.ENGINE).value,
                      "message": _shown(result.error, job_path(result), shown_path)} if result.error else None}


def job_path(result: JobResult) -> str:
    return result.path


def _shown(message: str | None, path: str, shown_path: str) -> str:
    """A message about an upload names the client's file, never the private temp path."""
    text = message or ""
    return text.replace(path, shown_path) if path != shown_path else text


class StreamingEvents(StreamingResponse):
    """A streamed answer that also listens for the client going away (then ``on_disconnect`` runs at once,
    even while nothing is being sent: a job waiting in the queue is cancelled too)."""

    def __init__(self, body: AsyncIterator[bytes], media_type: str, on_disconnect: Callable[[], None],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(body, 200, headers, media_type)
        self.on_disconnect = on_disconnect

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})

        async def pump() -> None:
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        pumping = asyncio.ensure_future(pump())
        watching = asyncio.ensure_future(wait_disconnect(receive))
        try:
            done, _ = await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
            if pumping not in done:
                self.on_disconnect()
            elif pumping.exception() is not None:
                log.warning("a streamed answer failed: %s", type(pumping.exception()).__name__)
        finally:
            for task in (pumping, watching):
                task.cancel()
            for task in (pumping, watching):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]


def ndjson(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False) + "\n").encode()
