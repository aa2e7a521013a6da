"""How the engine's state reads to a person: one line for the tray's first row, tooltip and status bar."""

from __future__ import annotations

from engine.jobs import EngineStatus
from engine.lifecycle import State


def size(n: int | float) -> str:
    """Bytes as a Finder would print them (decimal units)."""
    n = float(n)
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{int(n)} bytes"


def duration(seconds: float) -> str:
    """``0:42``, ``4:05``, ``1:02:03``."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def state_words(status: EngineStatus) -> str:
    """The state part: ``ready · 1.9 GB``, ``not loaded``, ``loading…``."""
    state = status.state
    if state is State.UNLOADED:
        return "not loaded"
    if state is State.LOADING:
        return "loading…"
    if state is State.UNLOADING:
        return "unloading…"
    words = "working" if state is State.BUSY else "ready"
    if status.unload_pending:
        words += " · unloads after this job"
    if status.model_bytes:
        words += f" · {size(status.model_bytes)}"
    return words


def model_line(status: EngineStatus) -> str:
    """``PaddleOCR-VL 1.5 · ready · 1.9 GB`` or ``PaddleOCR-VL 1.5 · not loaded``."""
    return f"{status.model_label} · {state_words(status)}" if status.model_label else state_words(status)
