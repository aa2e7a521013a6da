"""Plain dataclasses that cross the engine thread's boundary: requests in, results out."""

from __future__ import annotations

from dataclasses import dataclass

from .lifecycle import Mode, State

DEFAULT_MAX_TOKENS = 1024


@dataclass(frozen=True)
class OcrOptions:
    max_tokens: int = DEFAULT_MAX_TOKENS
    dpi: int = 144
    max_side: int | None = None  # a user cap on the image side, below the model's own limit
    text_layer: str = "auto"  # "auto": take a born-digital PDF page's text directly; "off": always OCR
    password: str | None = None
    pages: frozenset[int] | None = None  # only these 1-based pages (resume); None = all
    history_id: int | None = None  # resume into this history record instead of starting a new one


@dataclass(frozen=True)
class JobInfo:
    job_id: int
    path: str
    position: int = 0  # place in the queue when queued (0 = next)


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
    job_id: int
    path: str
    page: int
    pages: int
    text: str
    source: str  # "model" or "text-layer"
    model: str = ""
    prompt_tokens: int = 0
    generation_tokens: int = 0
    seconds: float = 0.0
    first_token_seconds: float = 0.0
    tokens_per_second: float = 0.0
    peak_memory: int = 0

    def as_json(self) -> dict:
        return {
            "path": self.path,
            "page": self.page,
            "pages": self.pages,
            "text": self.text,
            "source": self.source,
            "prompt_tokens": self.prompt_tokens,
            "generation_tokens": self.generation_tokens,
            "seconds": round(self.seconds, 4),
        }


@dataclass(frozen=True)
class JobResult:
    job_id: int
    path: str
    status: str  # "done", "cancelled" or "failed"
    pages: tuple[PageResult, ...] = ()
    page_count: int = 0
    error: str | None = None  # one line naming the file, when failed
    error_kind: str | None = None  # "document", "password", "model-missing", "model", "queue", "engine"
    seconds: float = 0.0
    peak_memory: int = 0

    @property
    def needs_password(self) -> bool:
        return self.error_kind == "password"

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.pages)


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
    error_kind: str | None = None
