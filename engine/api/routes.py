"""The FastAPI app: ``/v1/ocr``, ``/v1/status``, ``/v1/load``, ``/v1/unload``, ``/v1/models`` (+ OpenAI chat).

Built and run in the server thread only. Handlers are coroutines that never block the loop for long
(file checks run in a worker thread) and reach the engine only through the ``ApiBridge``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine import __version__
from engine.jobs import ErrorKind
from engine.lifecycle import State

from . import bridge as b
from . import jobrun, schemas, uploads
from .errors import ApiError, error_body, status_for
from .uploads import MB

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"


@dataclass
class ServerContext:
    bridge: b.ApiBridge
    upload_root: Path
    max_upload_bytes: int | None = None  # None: the "api/max_upload_mb" setting

    def upload_limit(self) -> int:
        if self.max_upload_bytes is not None:
            return self.max_upload_bytes
        return int(self.bridge.values.get("api/max_upload_mb", 200)) * MB


def build_app(ctx: ServerContext) -> FastAPI:
    app = FastAPI(
        title="OCR Tray local API", version=__version__, docs_url="/docs", redoc_url=None,
        openapi_url="/openapi.json",
        description="OCR with the model the app holds: one queue, one model, for the window, the tray and "
                    "every client. Every request needs `Authorization: Bearer <token>` (the token is in the "
                    "app's discovery file). See docs/api.md.",
    )

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, e: ApiError) -> JSONResponse:
        return JSONResponse(e.body(), e.status, headers=e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, e: StarletteHTTPException) -> JSONResponse:
        kind = ErrorKind.NOT_FOUND if e.status_code == 404 else ErrorKind.REQUEST
        return JSONResponse(error_body(kind, str(e.detail)), e.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ())) or "body"
        return JSONResponse(error_body(ErrorKind.REQUEST, f"{where}: {first.get('msg', 'invalid')}"), 400)

    @app.exception_handler(Exception)
    async def crashed(_request: Request, e: Exception) -> JSONResponse:
        log.error("local API request failed: %s", type(e).__name__)
        return JSONResponse(error_body(ErrorKind.ENGINE, f"internal error ({type(e).__name__})"), 500)

    # ------------------------------------------------------------------ OCR
    @app.post(
        "/v1/ocr", summary="OCR one image or PDF", response_model=schemas.OcrResponse,
        responses=schemas.ERROR_RESPONSES,
        openapi_extra={"requestBody": {"content": {
            "application/json": {"schema": schemas.PathRequest.model_json_schema()},
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"},
                **{k: {"type": "string"} for k in schemas.OPTION_NAMES}}}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        }}},
    )
    async def ocr(request: Request) -> Any:
        """A file upload (multipart, or the raw body with ``?filename=``) or ``{"path": ...}`` for a file this
        user can read, plus the command line's options. ``stream=true`` answers NDJSON events as the engine
        emits them (``job.queued``, ``job.started``, ``page.started``, ``text.delta``, ``page.done``,
        ``job.done``); otherwise one JSON document with every page."""
        content_type = request.headers.get("content-type", "").lower()
        upload: uploads.Upload | None = None
        try:
            if content_type.startswith("application/json"):
                body = await uploads.read_body(request, uploads.JSON_LIMIT)
                data = _json(body)
                data = {**dict(request.query_params), **data} if isinstance(data, dict) else data
                req = schemas.validate(schemas.PathRequest, data)
                opts: schemas.Options = req
                path, shown = req.path, req.path
                if not Path(path).is_absolute():
                    raise ApiError(ErrorKind.REQUEST, "path: give an absolute path")
            else:
                upload = await uploads.save_upload(request, ctx.upload_root, ctx.upload_limit())
                fields = {k: v for k, v in request.query_params.items() if k != "filename"}
                fields.update(upload.fields)
                opts = schemas.from_form(fields)
                path, shown = str(upload.path), upload.filename
            options = schemas.ocr_options(opts, ctx.bridge.values, ctx.bridge.spec)
            await anyio.to_thread.run_sync(jobrun.check_document, path)
        except uploads.ClientGone:
            return JSONResponse(error_body(ErrorKind.REQUEST, "the client went away"), 400)
        except ApiError as e:
            if upload is not None:
                upload.discard()
                e.message = e.message.replace(str(upload.path), upload.filename)
            raise
        except BaseException:
            if upload is not None:
                upload.discard()
            raise
        job = await jobrun.submit(ctx.bridge, request, path, options, upload_dir=upload.folder if upload else None,
                                  shown_path=shown, deltas=opts.stream)
        if opts.stream:
            return jobrun.StreamingEvents(_ndjson_events(job, ctx.bridge), NDJSON,
                                          lambda: ctx.bridge.cancel(job.stream))
        result = await jobrun.wait_done(job, ctx.bridge, request)
        if result is None:
            return JSONResponse(error_body(ErrorKind.REQUEST, "the client went away"), 400)
        out = schemas.result_json(result, shown)
        if result.failed:
            kind = result.error_kind or ErrorKind.ENGINE
            return JSONResponse(error_body(kind, out["error"]["message"]), status_for(kind))
        return JSONResponse(out)

    # ------------------------------------------------------------------ the model
    @app.get("/v1/status", summary="The engine: state, model, memory, queue, idle deadline")
    async def status() -> Any:
        return status_json(await ctx.bridge.fresh_status(), ctx.bridge)

    @app.post("/v1/unload", summary="Unload now, or after the current job (as the tray's Unload Model)")
    async def unload() -> Any:
        before = await ctx.bridge.call(lambda: (ctx.bridge.status, ctx.bridge.controller.unload_now())[0])
        after = await _settled(ctx.bridge, lambda s: s.unload_pending or s.state in (State.UNLOADING,
                                                                                   State.UNLOADED))
        deferred = after.unload_pending or (before.state in (State.BUSY, State.LOADING) and after.state
                                            in (State.BUSY, State.LOADING))
        return {"requested": "unload", "deferred": bool(deferred),
                "loaded": before.state not in (State.UNLOADED,), "status": status_json(after, ctx.bridge)}

    @app.post("/v1/load", summary="Load the model now (prewarm); keep_alive as for a job", status_code=202)
    async def load(request: Request) -> Any:
        body = await uploads.read_body(request, uploads.JSON_LIMIT)
        req = schemas.validate(schemas.KeepAlive, _json(body) if body.strip() else {})
        keep = schemas.check_keep_alive(req.keep_alive)
        await ctx.bridge.call(lambda: ctx.bridge.controller.load_now(keep))
        after = await _settled(ctx.bridge, lambda s: s.state is not State.UNLOADED or s.error is not None)
        return JSONResponse({"requested": "load", "status": status_json(after, ctx.bridge)}, 202)

    @app.get("/v1/models", summary="The presets, what is downloaded, and the app's model")
    async def models() -> Any:
        return await anyio.to_thread.run_sync(models_json, ctx.bridge.spec)

    from . import openai_compat

    openai_compat.register(app, ctx)
    return app


async def _ndjson_events(job: jobrun.Submitted, bridge: b.ApiBridge):
    try:
        async for name, payload in jobrun.events(job, bridge):
            yield jobrun.ndjson(jobrun.event_json(name, payload, job.shown_path))
    except ApiError as e:
        yield jobrun.ndjson({"event": "error", "job_id": job.job_id, **e.body()})


async def _settled(bridge: b.ApiBridge, done: Any, tries: int = 10) -> Any:
    """A fresh status that shows a request took effect (bounded: the last one after ``tries`` reports)."""
    status = bridge.status
    for _ in range(tries):
        status = await bridge.fresh_status(timeout=0.5)
        if done(status):
            break
    return status


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError:
        raise ApiError(ErrorKind.REQUEST, "the body is not JSON") from None


def status_json(s: Any, bridge: b.ApiBridge) -> dict[str, Any]:
    import os
    import time

    return {
        "state": s.state.value, "mode": s.mode.value, "idle_timeout_s": s.idle_timeout_s,
        "model": s.model_label, "model_source": bridge.spec.source, "model_bytes": s.model_bytes,
        "memory": {"rss": s.rss, "mlx_active": s.active_memory},
        "queue": s.queued, "unload_pending": s.unload_pending,
        "deadline": s.deadline, "deadline_in_s": round(s.deadline - time.time(), 1) if s.deadline else None,
        "loads": s.loads,
        "error": {"kind": (s.error_kind or ErrorKind.MODEL).value, "message": s.error} if s.error else None,
        "version": __version__, "pid": os.getpid(),
    }


def models_json(spec: Any) -> dict[str, Any]:
    from engine.formats import tasks_for
    from engine.models import downloads
    from engine.models.presets import PRESETS

    data = []
    for p in PRESETS:
        state = downloads.cache_state(p.repo_id)
        data.append({"id": p.id, "object": "model", "owned_by": "ocr-tray", "label": p.label, "repo_id": p.repo_id,
                     "downloaded": state.downloaded, "size": state.size_on_disk if state.downloaded else p.approx_bytes,
                     "current": spec.source == p.repo_id,
                     "tasks": [t.id for t in tasks_for(p.id)]})  # the `task` option's values (the first: default)
    if not any(row["current"] for row in data):
        data.append({"id": spec.source, "object": "model", "owned_by": "ocr-tray", "label": spec.label,
                     "repo_id": None, "downloaded": True, "size": None, "current": True, "tasks": []})
    return {"object": "list", "current": next(r["id"] for r in data if r["current"]), "data": data}
