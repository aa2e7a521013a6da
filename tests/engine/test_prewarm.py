"""Prewarm through the engine thread (ADR 0018): ``Engine.load_now()`` without ``keep_alive`` loads the model
and holds it for the job it announces; the memory check applies to it as to any load."""

from __future__ import annotations

import psutil
import pytest

from engine.jobs import ErrorKind, JobStatus, OcrOptions
from engine.lifecycle import PREWARM_WAIT_S, Mode, State
from engine.models.presets import ModelSpec
from engine.models.store import vet
from engine.testing import samples
from tests.clock import SteppedClock

pytestmark = pytest.mark.slow

WAIT_MS = 60_000


def test_a_prewarm_holds_the_model_for_its_job_and_the_job_decides_when_it_goes(qtbot, engines, tmp_path):
    clock = SteppedClock()
    engine = engines(mode=Mode.AUTO_RELEASE, clock=clock)
    engine.load_now()
    qtbot.waitUntil(lambda: engine.status.state is State.READY, timeout=WAIT_MS)
    assert engine.status.deadline == clock() + PREWARM_WAIT_S  # auto-release, but held for the announced job
    done = []
    engine.jobFinished.connect(done.append)
    clock.advance(5)
    engine.submit([samples.write_png(tmp_path / "a.png")], OcrOptions(max_tokens=3))
    qtbot.waitUntil(lambda: len(done) == 1, timeout=WAIT_MS)
    assert done[0].status is JobStatus.DONE
    qtbot.waitUntil(lambda: engine.status.state is State.UNLOADED, timeout=WAIT_MS)  # when the job ended
    assert engine.status.loads == 1


def test_a_prewarm_of_a_model_that_does_not_fit_loads_nothing(qtbot, engines, tiny_model_dir, monkeypatch):
    spec = ModelSpec.resolve(str(tiny_model_dir))
    need = vet(tiny_model_dir, spec.max_pixels).estimated_bytes
    real = psutil.virtual_memory

    class Short:  # the system reports half of what the model needs
        def __init__(self):
            self._real = real()
            self.available = need // 2

        def __getattr__(self, name):
            return getattr(self._real, name)

    monkeypatch.setattr(psutil, "virtual_memory", Short)
    engine = engines(mode=Mode.KEEP_RESIDENT)
    states = []
    engine.stateChanged.connect(lambda s: states.append(s.state))
    engine.load_now()
    qtbot.waitUntil(lambda: engine.status.state is State.UNLOADED and engine.status.error is not None,
                    timeout=WAIT_MS)
    assert engine.status.error_kind is ErrorKind.MEMORY and engine.status.loads == 0
    assert State.READY not in states
    assert engine._worker is not None and not engine._worker.backend.loaded
