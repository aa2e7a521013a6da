"""How the engine's state reads to a person."""

from __future__ import annotations

from desktop.status_text import model_line
from engine.human import duration
from engine.human import size_text as size
from engine.jobs import EngineStatus
from engine.lifecycle import Mode, State


def test_status_lines():
    status = EngineStatus(State.READY, Mode.IDLE_TIMEOUT, 300, "PaddleOCR-VL 1.5", model_bytes=1_900_000_000)
    assert model_line(status) == "PaddleOCR-VL 1.5 · ready · 1.9 GB"
    unloaded = EngineStatus(State.UNLOADED, Mode.IDLE_TIMEOUT, 300, "PaddleOCR-VL 1.5")
    assert model_line(unloaded) == "PaddleOCR-VL 1.5 · not loaded"
    busy = EngineStatus(State.BUSY, Mode.KEEP_RESIDENT, 300, "M", model_bytes=5_000_000, unload_pending=True)
    assert model_line(busy) == "M · working · unloads after this job · 5.0 MB"
    assert duration(272) == "4:32" and duration(3723) == "1:02:03"
    assert size(812_400_000) == "812 MB" and size(999) == "999 bytes"
