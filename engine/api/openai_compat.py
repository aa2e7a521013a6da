"""``POST /v1/chat/completions``, OpenAI-compatible for images: one image in, its text out.

The last user message carries the image as an ``image_url`` part (a ``data:`` URI, or a ``file://`` URL
of a file this user can read) and, optionally, text parts, which become the prompt (otherwise the
model's own). ``max_tokens`` / ``max_completion_tokens`` and ``keep_alive`` apply; ``stream: true``
answers server-sent events (``chat.completion.chunk``, then ``data: [DONE]``). The ``model`` must be the
app's model (its preset id, repo id, folder or label); any other id is a 404.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from engine.jobs import ErrorKind

from . import bridge as b
from . import jobrun, schemas, uploads
from .errors import ApiError, error_body, status_for

DATA_URI = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*?);base64,", re.I)
SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif",
          "image/tiff": ".tiff", "image/bmp": ".bmp", "application/pdf": ".pdf"}


class ChatRequest(BaseModel):
    """The subset of OpenAI's chat completion request that OCR uses (other fields are accepted and ignored)."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    keep_alive: float | None = None


def register(app: FastAPI, ctx: Any) -> None:
    @app.post("/v1/chat/completions", summary="OpenAI-compatible chat completion for one image",
              responses=schemas.ERROR_RESPONSES,
              openapi_extra={"requestBody": {"content": {"application/json": {
                  "schema": ChatRequest.model_json_schema()}}}})
    async def chat(request: Request) -> Any:
        body = await uploads.read_body(request, ctx.upload_limit() * 4 // 3 + uploads.JSON_LIMIT)
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(ErrorKind.REQUEST, "the body is not JSON") from None
        req: ChatRequest = schemas.validate(ChatRequest, data)
        spec = ctx.bridge.spec
        if req.model not in schemas.model_ids(spec):
            raise ApiError(ErrorKind.NOT_FOUND, f"model {req.model!r} is not the app's model; use "
                           f"{' or '.join(repr(x) for x in sorted(schemas.model_ids(spec)))}")
        image, prompt = _image_and_prompt(req.messages)
        opts = schemas.validate(schemas.Options, {"max_tokens": req.max_completion_tokens or req.max_tokens,
                                                  "keep_alive": req.keep_alive, "prompt": prompt})
        options = schemas.ocr_options(opts, ctx.bridge.values, spec)
        folder: Path | None = None
        if image.startswith("file:"):
            path = _file_url(image)
            shown = path
        else:
            folder = Path(tempfile.mkdtemp(prefix="chat-", dir=ctx.upload_root))
            try:
                path = str(await anyio.to_thread.run_sync(_save_data_uri, image, folder, ctx.upload_limit()))
            except BaseException:
                uploads.shutil.rmtree(folder, ignore_errors=True)
                raise
            shown = "image"
        try:
            await anyio.to_thread.run_sync(jobrun.check_document, path)
        except BaseException:
            if folder is not None:
                uploads.shutil.rmtree(folder, ignore_errors=True)
            raise
        job = await jobrun.submit(ctx.bridge, request, path, options, upload_dir=folder, shown_path=shown,
                                  deltas=req.stream)
        created = int(time.time())
        ident = f"chatcmpl-{job.job_id}-{created}"
        if req.stream:
            return jobrun.StreamingEvents(_sse(job, ctx.bridge, ident, created, req.model), "text/event-stream",
                                          lambda: ctx.bridge.cancel(job.stream),
                                          headers={"Cache-Control": "no-cache"})
        result = await jobrun.wait_done(job, ctx.bridge, request)
        if result is None:
            return JSONResponse(error_body(ErrorKind.REQUEST, "the client went away"), 400)
        if result.failed:
            kind = result.error_kind or ErrorKind.ENGINE
            message = (result.error or "failed").replace(path, shown)
            return JSONResponse(error_body(kind, message), status_for(kind))
        return {
            "id": ident, "object": "chat.completion", "created": created, "model": req.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text},
                         "finish_reason": "stop" if result.ok else "cancelled"}],
            "usage": _usage(result.pages),
        }


async def _sse(job: jobrun.Submitted, bridge: b.ApiBridge, ident: str, created: int, model: str):
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        data = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

    yield chunk({"role": "assistant", "content": ""})
    pages_seen = 0
    try:
        async for name, payload in jobrun.events(job, bridge):
            if name == b.PAGE_STARTED and pages_seen:
                yield chunk({"content": "\n\n"})
            elif name == b.DELTA:
                yield chunk({"content": payload.text})
            elif name == b.PAGE_DONE:
                pages_seen += 1
            elif name == b.DONE:
                if payload.failed:
                    kind = payload.error_kind or ErrorKind.ENGINE
                    yield f"data: {json.dumps(error_body(kind, payload.error or 'failed'))}\n\n".encode()
                else:
                    yield chunk({}, "stop" if payload.ok else "cancelled", usage=_usage(payload.pages))
    except ApiError as e:
        yield f"data: {json.dumps(e.body())}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _usage(pages: Any) -> dict[str, int]:
    prompt = sum(p.prompt_tokens for p in pages)
    completion = sum(p.generation_tokens for p in pages)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _image_and_prompt(messages: list[dict[str, Any]]) -> tuple[str, str | None]:
    """The one image of the last user message, and its text parts joined (None when there are none)."""
    users = [m for m in messages if m.get("role") == "user"]
    if not users:
        raise ApiError(ErrorKind.REQUEST, "messages: no user message")
    content = users[-1].get("content")
    images: list[str] = []
    texts: list[str] = []
    for part in content if isinstance(content, list) else [{"type": "text", "text": content or ""}]:
        if not isinstance(part, dict):
            raise ApiError(ErrorKind.REQUEST, "messages: a content part is not an object")
        if part.get("type") == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if not isinstance(url, str):
                raise ApiError(ErrorKind.REQUEST, "messages: image_url has no url")
            images.append(url)
        elif part.get("type") == "text" and str(part.get("text", "")).strip():
            texts.append(str(part["text"]).strip())
    if len(images) != 1:
        raise ApiError(ErrorKind.REQUEST, f"messages: send exactly one image_url (got {len(images)})")
    return images[0], ("\n".join(texts) or None)


def _file_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise ApiError(ErrorKind.REQUEST, "image_url: a file URL must be on this machine (file:///…)")
    path = unquote(parsed.path)
    if not os.path.isabs(path):
        raise ApiError(ErrorKind.REQUEST, "image_url: a file URL needs an absolute path")
    return path


def _save_data_uri(url: str, folder: Path, limit: int) -> Path:
    match = DATA_URI.match(url)
    if match is None:
        raise ApiError(ErrorKind.REQUEST, "image_url: a data: URI with base64 content, or a file:// URL")
    encoded = url[match.end():]
    if len(encoded) * 3 // 4 > limit:
        raise uploads.too_large(limit)
    try:
        raw = base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError):
        raise ApiError(ErrorKind.REQUEST, "image_url: the base64 data cannot be decoded") from None
    path = folder / ("image" + SUFFIX.get((match.group("type") or "").lower(), ""))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
    return path
