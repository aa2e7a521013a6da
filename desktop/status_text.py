"""How the engine's state reads to a person: one line for the tray's first row, tooltip and status bar."""

from __future__ import annotations

from engine.human import size_text
from engine.jobs import EngineStatus
from engine.lifecycle import State


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
        words += f" · {size_text(status.model_bytes)}"
    return words


def model_line(status: EngineStatus) -> str:
    """``PaddleOCR-VL 1.5 · ready · 1.9 GB`` or ``PaddleOCR-VL 1.5 · not loaded``."""
    return f"{status.model_label} · {state_words(status)}" if status.model_label else state_words(status)
