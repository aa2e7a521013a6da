"""The API's request and response shapes (for validation and the OpenAPI page) and options → ``OcrOptions``.

The options are the command line's, by the same names as its flags (``model``, ``prompt``, ``task``,
``max_tokens``, ``dpi``, ``max_side``, ``text_layer``, ``password``) plus ``pages``, ``keep_alive`` and
``stream``. They are applied over the user's saved settings with ``engine.settings.apply_overrides``,
as ``ocr-tray ocr`` applies its flags, so a value out of bounds is refused with the same message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.jobs import ErrorKind, JobResult, OcrOptions, TextLayer
from engine.models.presets import ModelSpec

from .errors import ApiError

SETTING_FOR = {"max_tokens": "ocr/max_tokens", "dpi": "ocr/pdf_dpi", "max_side": "ocr/max_image_side"}
OPTION_NAMES = ("model", "prompt", "task", "max_tokens", "dpi", "max_side", "text_layer", "password", "pages",
                "keep_alive", "stream")
MAX_PAGES_LISTED = 100_000


class Options(BaseModel):
    """What ``POST /v1/ocr`` takes besides the document (JSON keys, form fields or query parameters)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str | None = Field(None, description="a preset id, a repo id or a folder: must be the app's model "
                                                "(the app reads with one model; another is a 404)")
    prompt: str | None = Field(None, description="the instruction given with each page instead of the model's own")
    task: str | None = Field(None, description="what the app's model reads the document as: one of its tasks (GET "
                                               "/v1/models lists them, e.g. text, table, formula, chart), or "
                                               "\"default\"; not with prompt")
    max_tokens: int | None = Field(None, description="a page stops after this many tokens (1–8192)")
    dpi: int | None = Field(None, description="PDF rendering resolution (72–400)")
    max_side: int | None = Field(None, description="a cap on the image side in pixels (0: the model's limit)")
    text_layer: bool | Literal["auto", "always", "never"] | None = Field(
        None, description="use a born-digital PDF page's own text: true/auto, always, false/never")
    password: str | None = Field(None, description="the password of a protected PDF")
    pages: list[int] | str | None = Field(None, description="only these 1-based pages: [1, 3] or \"1-3,5\"")
    keep_alive: float | None = Field(None, description="seconds the model stays loaded after this job: 0 releases "
                                                       "it when the job is done, -1 keeps it resident; default: the "
                                                       "app's memory mode (the longest hold wins, see docs/api.md)")
    stream: bool = Field(False, description="answer with NDJSON events as the engine emits them")


class PathRequest(Options):
    """``POST /v1/ocr`` with a JSON body: a file the user can read, by its absolute path."""

    path: str = Field(..., description="an absolute path to a regular file (image or PDF) this user can read")


class KeepAlive(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep_alive: float | None = Field(None, description="the hold this load leaves (as for a job)")


class ErrorDetail(BaseModel):
    kind: str = Field(..., description="one of the engine's ErrorKind values")
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class PageOut(BaseModel):
    path: str
    page: int
    pages: int
    text: str
    source: str
    prompt_tokens: int
    generation_tokens: int
    seconds: float
    error: str | None = None
    text_layer_rejected: str | None = None
    format: str | None = Field(None, description="the format of text: the task's answer format (otsl, latex, "
                                                 "markdown, grounded-markdown, …) or plain for a text layer")
    model: str = Field("", description="the model that read the page (empty for a text layer)")
    first_token_seconds: float = 0.0
    tokens_per_second: float = 0.0


class OcrResponse(BaseModel):
    job_id: int
    status: str
    path: str
    page_count: int
    seconds: float
    pages: list[PageOut]
    error: ErrorDetail | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in (
        (400, "a field is wrong (kind request)"), (401, "no token or a wrong one (kind auth)"),
        (403, "the Host is not a loopback name (kind auth)"), (404, "not the app's model (kind not-found)"),
        (409, "this file is already in the queue (kind queue)"),
        (413, "the upload is over the limit (kind request)"),
        (422, "the document cannot be read (kind document or password)"),
        (429, "the queue is full; Retry-After says when to try again (kind queue)"),
        (503, "the model is missing or does not fit, or the app is quitting"),
    )
}


def validate(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "body"
        raise ApiError(ErrorKind.REQUEST, f"{where}: {first.get('msg', 'invalid')}") from None


def from_form(fields: Mapping[str, str]) -> Options:
    """Options from form fields or query parameters (strings), unknown names refused."""
    data: dict[str, Any] = {}
    for key, value in fields.items():
        if key in ("file", "filename"):
            continue
        if key not in OPTION_NAMES:
            raise ApiError(ErrorKind.REQUEST, f"{key}: not an option (options: {', '.join(OPTION_NAMES)})")
        data[key] = value
    if isinstance(data.get("text_layer"), str) and data["text_layer"].lower() in ("true", "false", "on", "off", "1",
                                                                                    "0", "yes", "no"):
        data["text_layer"] = data["text_layer"].lower() in ("true", "on", "1", "yes")
    return validate(Options, data)


def parse_pages(pages: list[int] | str | None) -> frozenset[int] | None:
    if pages is None:
        return None
    numbers: set[int] = set()
    if isinstance(pages, str):
        for part in pages.replace(" ", "").split(","):
            if not part:
                continue
            lo, sep, hi = part.partition("-")
            try:
                first, last = int(lo), int(hi) if sep else int(lo)
            except ValueError:
                raise ApiError(ErrorKind.REQUEST, f"pages: {part!r} is not a page or a range like 2-5") from None
            if last - first > MAX_PAGES_LISTED:
                raise ApiError(ErrorKind.REQUEST, "pages: the range is too long")
            numbers.update(range(first, last + 1))
    else:
        numbers.update(pages)
    if not numbers or min(numbers) < 1:
        raise ApiError(ErrorKind.REQUEST, "pages: page numbers start at 1")
    return frozenset(numbers)


def check_keep_alive(value: float | None) -> float | None:
    if value is not None and (math.isnan(value) or math.isinf(value) and value > 0):
        raise ApiError(ErrorKind.REQUEST, "keep_alive: seconds, 0 to release, or -1 to keep resident")
    return value


def ocr_options(opts: Options, values: Mapping[str, Any], current: ModelSpec) -> OcrOptions:
    """The job's options: the saved settings with the request's options over them; 400 / 404 when wrong."""
    from engine.settings import UnknownModel, apply_overrides, options_from, spec_from

    overrides: dict[str, Any] = {key: getattr(opts, name) for name, key in SETTING_FOR.items()}
    if isinstance(opts.text_layer, bool):
        overrides["ocr/use_text_layer"] = opts.text_layer
    if opts.model is not None:
        overrides["model/preset"] = opts.model
    try:
        merged = apply_overrides(values, overrides)
    except UnknownModel as e:
        raise ApiError(ErrorKind.NOT_FOUND, str(e)) from None
    except ValueError as e:
        raise ApiError(ErrorKind.REQUEST, _api_names(str(e))) from None
    if opts.model is not None:
        check_model(spec_from(merged), current, opts.model)
    fields: dict[str, Any] = {"password": opts.password, "pages": parse_pages(opts.pages),
                              "keep_alive": check_keep_alive(opts.keep_alive),
                              "record_history": bool(values.get("api/keep_history", True))}
    if opts.prompt is not None:
        fields["prompt"] = opts.prompt
    if opts.task is not None:
        fields["task"] = check_task(opts.task, current, opts.prompt is not None)
    if isinstance(opts.text_layer, str):
        fields["text_layer"] = TextLayer(opts.text_layer)
    return options_from(merged, **fields)


def check_task(task: str, current: ModelSpec, prompt_given: bool) -> str:
    """The task to read with (one of the app's model's, or its default); 400 in one line otherwise."""
    from engine.formats import tasks_for
    from engine.settings import DEFAULT_TASK

    tasks = tasks_for(current.preset_id) if current.preset_id != "custom" else ()
    if not tasks:
        raise ApiError(ErrorKind.REQUEST, f"task: the app's model ({current.label}) has no tasks; it reads with its "
                       "own prompt (give prompt instead)")
    if prompt_given:
        raise ApiError(ErrorKind.REQUEST, "task and prompt cannot be used together: the task chooses the prompt")
    ids = [t.id for t in tasks]
    if task != DEFAULT_TASK and task not in ids:
        raise ApiError(ErrorKind.REQUEST, f"task {task!r}: {current.label} has the tasks {', '.join(ids)} "
                       "(the first is its default)")
    return ids[0] if task == DEFAULT_TASK else task


def check_model(wanted: ModelSpec, current: ModelSpec, name: str) -> None:
    if wanted.source != current.source:
        raise ApiError(ErrorKind.NOT_FOUND, f"model {name!r} is not the app's model ({current.label}): the app reads "
                       "with the model chosen in its settings (or run ocr-tray ocr --standalone)")


def model_ids(spec: ModelSpec) -> set[str]:
    """The ids a client may name the app's model by: its preset id, repo id or folder, and its label."""
    return {x for x in (spec.preset_id if spec.preset_id != "custom" else "", spec.source, spec.label) if x}


def _api_names(message: str) -> str:
    for name, key in (("max_tokens", "--max-tokens"), ("dpi", "--dpi"), ("max_side", "--max-side")):
        message = message.replace(key, name)
    return message


def page_json(page: Any, path: str | None = None) -> dict[str, Any]:
    """``ocr-tray ocr --json``'s fields for a page, plus its ``format`` (a client converts ``text`` with it)."""
    out = page.as_json()
    if path is not None:
        out["path"] = path
    if getattr(page, "output", ""):
        out["format"] = page.output
    out.update(model=page.model, first_token_seconds=round(page.first_token_seconds, 4),
               tokens_per_second=round(page.tokens_per_second, 2))
    return out


def result_json(result: JobResult, path: str | None = None) -> dict[str, Any]:
    """A whole job as one JSON document (a non-streamed answer)."""
    return {
        "job_id": result.job_id,
        "status": result.status.value,
        "path": path if path is not None else result.path,
        "page_count": result.page_count,
        "seconds": round(result.seconds, 4),
        "pages": [page_json(p, path) for p in result.pages],
        "error": {"kind": result.error_kind.value if result.error_kind else ErrorKind.ENGINE.value,
                  "message": result.error or ""} if result.error else None,
    }
