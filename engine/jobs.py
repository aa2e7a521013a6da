"""The typed contracts that cross the engine thread's boundary: requests in, results out.

Every status, error kind, page source and client is a ``StrEnum`` defined here and nowhere
else: a value compares equal to its string (``JobStatus.DONE == "done"``), so JSON output and
the history's stored values stay plain strings, while code compares members, never literals.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

from .lifecycle import Mode, State

DEFAULT_MAX_TOKENS = 1024
DEFAULT_DPI = 144


class JobStatus(enum.StrEnum):
    """How a job ended."""

    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class DocumentStatus(enum.StrEnum):
    """A document in the history: how its job ended, or that it is being read or was cut off."""

    RUNNING = "running"
    DONE = JobStatus.DONE.value
    CANCELLED = JobStatus.CANCELLED.value
    FAILED = JobStatus.FAILED.value
    INTERRUPTED = "interrupted"  # its writer stopped without finishing it (killed, crashed, power cut)
    INCOMPLETE = "incomplete"  # done, but a page is missing (it could not be saved, or only some were asked)

    @property
    def resumable(self) -> bool:
        return self in (DocumentStatus.INTERRUPTED, DocumentStatus.INCOMPLETE, DocumentStatus.CANCELLED,
                        DocumentStatus.FAILED)


class ErrorKind(enum.StrEnum):
    """Why a job failed; clients choose what to offer from it (a password prompt, a download, a retry)."""

    DOCUMENT = "document"  # the file cannot be read (one line names it and the problem)
    PASSWORD = "password"  # an encrypted PDF: ask for the password and submit it again
    MODEL_MISSING = "model-missing"  # the model is not downloaded: offer the download, then run it again
    MODEL = "model"  # the model could not be loaded or failed while reading
    MEMORY = "memory"  # the model does not fit in the memory available now
    QUEUE = "queue"  # not queued: the queue is full
    ENGINE = "engine"  # the engine thread stopped unexpectedly
    AUTH = "auth"  # local API: no token, a wrong token, or a Host that is not a loopback name
    REQUEST = "request"  # local API: the request itself is wrong (a field, a size, a method)
    NOT_FOUND = "not-found"  # local API: no such endpoint, or a model id that is not the app's


class PageSource(enum.StrEnum):
    """Where a page's text came from."""

    MODEL = "model"
    TEXT_LAYER = "text-layer"
    FAILED = "failed"  # the page could not be read; the document went on with the next one


class TextLayer(enum.StrEnum):
    """When a PDF page's own text is used instead of the model."""

    AUTO = "auto"  # when it is there and reads as text
    ALWAYS = "always"  # whenever there is some
    NEVER = "never"  # always read the page with the model

    @classmethod
    def parse(cls, value: str | bool | None) -> TextLayer:
        """``"off"`` and ``False`` (the older setting) mean NEVER; ``True`` and ``None`` mean AUTO."""
        if value is None or value is True:
            return cls.AUTO
        if value is False or value == "off":
            return cls.NEVER
        return cls(value)


class Client(enum.StrEnum):
    """Who submitted a job: the window, the tray, the CLI, the local API, a screen capture…"""

    WINDOW = "window"
    TRAY = "tray"
    CLIPBOARD = "clipboard"
    HISTORY = "history"  # a resume from the history
    CLI = "cli"
    API = "api"
    CAPTURE = "capture"


@dataclass(frozen=True)
class OcrOptions:
    """How one job is read; carried by the job and its result (a retry reuses them)."""

    max_tokens: int = DEFAULT_MAX_TOKENS
    dpi: int = DEFAULT_DPI
    max_side: int | None = None  # a user cap on the image side, below the model's own limit
    text_layer: TextLayer = TextLayer.AUTO
    password: str | None = None
    pages: frozenset[int] | None = None  # only these 1-based pages (resume); None = all
    history_id: int | None = None  # resume into this history record instead of starting a new one
    prompt: str | None = None  # the model's prompt for this job (a task); None = the model's own
    keep_alive: float | None = None  # seconds the model stays after this job (0: release, -1: for ever); None = mode
    record_history: bool = True  # commit this job's pages to the history (False: an API job kept out of it)
    task: str | None = None  # the model's task (engine.formats.tasks: "text", "table"…); None = its default
    output: str = ""  # the format of the model's answers (engine.formats.OutputFormat); "" = not resolved yet

    def __post_init__(self) -> None:
        object.__setattr__(self, "text_layer", TextLayer.parse(self.text_layer))

    def as_json(self) -> dict[str, Any]:
        """What may be stored or shown (never the password)."""
        return {
            "max_tokens": self.max_tokens,
            "dpi": self.dpi,
            "max_side": self.max_side,
            "text_layer": self.text_layer.value,
            "pages": sorted(self.pages) if self.pages is not None else None,
            "prompt": self.prompt,
            "task": self.task,
            "output": self.output,
        }


@dataclass(frozen=True)
class JobInfo:
    job_id: int
    path: str
    position: int = 0  # place in the queue when queued (0 = next)
    options: OcrOptions = field(default_factory=OcrOptions)
    client: Client = Client.WINDOW
    client_name: str = ""  # e.g. an API client's User-Agent, shown in the queue
    temporary: bool = False  # the file is the app's own (clipboard, capture, upload): removed after the job
    priority: bool = False  # interactive (a screen capture): runs next, between two pages of the running job


@dataclass(frozen=True)
class PageProgress:
    job_id: int
    path: str
    page: int  # 1-based
    pages: int


@dataclass(frozen=True)
class TextDelta:
    job_id: int
    page: int
    text: str


@dataclass(frozen=True)
class PageResult:
    """One finished page, as the engine reports it and as the history stores and returns it."""

    job_id: int
    path: str
    page: int
    pages: int
    text: str
    source: PageSource
    model: str = ""
    prompt_tokens: int = 0
    generation_tokens: int = 0
    seconds: float = 0.0
    first_token_seconds: float = 0.0
    tokens_per_second: float = 0.0
    peak_memory: int = 0
    error: str | None = None  # the page could not be read (source FAILED): one line
    text_layer_rejected: str | None = None  # a text layer was there but did not read as text: why
    finished: float = 0.0  # wall-clock time the page was committed to the history (0 when not stored)
    output: str = ""  # the format of ``text`` (engine.formats.OutputFormat: "plain" for a text layer); "" = not known

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", PageSource(self.source))

    def as_json(self) -> dict[str, Any]:
        """The fields ``ocr-tray ocr --json`` and the local API print for a page."""
        out: dict[str, Any] = {
            "path": self.path,
            "page": self.page,
            "pages": self.pages,
            "text": self.text,
            "source": self.source.value,
            "prompt_tokens": self.prompt_tokens,
            "generation_tokens": self.generation_tokens,
            "seconds": round(self.seconds, 4),
        }
        if self.error is not None:
            out["error"] = self.error
        if self.text_layer_rejected is not None:
            out["text_layer_rejected"] = self.text_layer_rejected
        return out


@dataclass(frozen=True)
class JobResult:
    job_id: int
    path: str
    status: JobStatus
    pages: tuple[PageResult, ...] = ()
    page_count: int = 0
    error: str | None = None  # one line naming the file, when failed
    error_kind: ErrorKind | None = None
    seconds: float = 0.0
    peak_memory: int = 0
    options: OcrOptions = field(default_factory=OcrOptions)
    client: Client = Client.WINDOW
    temporary: bool = False
    history_id: int | None = None  # the history record its pages went to (a retry or resume continues it)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", JobStatus(self.status))
        if self.error_kind is not None:
            object.__setattr__(self, "error_kind", ErrorKind(self.error_kind))

    @property
    def needs_password(self) -> bool:
        return self.error_kind is ErrorKind.PASSWORD

    @property
    def needs_model(self) -> bool:
        return self.error_kind is ErrorKind.MODEL_MISSING

    @property
    def ok(self) -> bool:
        return self.status is JobStatus.DONE

    @property
    def failed(self) -> bool:
        return self.status is JobStatus.FAILED

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.pages)

    @property
    def missing_pages(self) -> frozenset[int]:
        """The pages not read (a failed page counts as missing); empty when the document never opened."""
        if not self.page_count:
            return frozenset()
        wanted = self.options.pages if self.options.pages is not None else range(1, self.page_count + 1)
        read = {p.page for p in self.pages if p.source is not PageSource.FAILED}
        return frozenset(n for n in wanted if n not in read)


@dataclass(frozen=True)
class EngineStatus:
    state: State
    mode: Mode
    idle_timeout_s: float
    model_label: str = ""
    model_bytes: int = 0  # weights on disk of the loaded model (0 when unloaded)
    active_memory: int = 0  # MLX active memory
    rss: int = 0  # process resident memory
    unload_pending: bool = False
    deadline: float | None = None  # wall-clock time of the idle unload
    queued: int = 0
    error: str | None = None  # last load error, if the last load failed
    error_kind: ErrorKind | None = None
    loads: int = 0  # models loaded since the engine started (one model, many clients: tests count these)


class HistorySink(Protocol):
    """Where the engine commits each finished page the moment it is done (``engine.history.HistoryStore``)."""

    def start_document(
        self,
        path: str,
        pages: int,
        model: str,
        history_id: int | None = None,
        options: OcrOptions | None = None,
        model_source: str = "",
    ) -> int: ...

    def add_page(self, record: int, page: PageResult) -> None: ...

    def finish_document(
        self, record: int, status: JobStatus, error: str | None = None, kind: ErrorKind | None = None
    ) -> None: ...
