"""Shared pieces of the reliability suite: engines on the tiny model, bounded waits, and a recorder
of everything the engine says (the network guard is on for every test: tests/conftest.py).

Every wait here has a bound: a test that would hang fails instead.
"""

from __future__ import annotations

import os
import time

import pytest
from PySide6.QtCore import QCoreApplication

from engine.engine_thread import Engine
from engine.jobs import OcrOptions
from engine.lifecycle import Mode, State
from engine.models.presets import ModelSpec

WAIT_S = 60.0
TOKENS = 3  # tiny random model: a few tokens per page keeps each page well under a second


# ---------------------------------------------------------------- waiting
def wait_until(predicate, timeout_s: float = WAIT_S, what: str = "condition") -> None:
    """Run the event loop until ``predicate()`` is true; fail (never hang) after ``timeout_s``."""
    app = QCoreApplication.instance()
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        app.processEvents()
        time.sleep(0.001)


class Recorder:
    """Everything the engine emits, in order."""

    NAMES = ("stateChanged", "jobQueued", "jobStarted", "pageStarted", "textDelta", "pageFinished",
             "jobFinished", "jobFailed", "notice")

    def __init__(self, engine: Engine) -> None:
        self.events: list[tuple[str, object]] = []
        self.engine = engine
        self._slots = []
        for name in self.NAMES:
            def slot(payload, n=name):
                self.events.append((n, payload))

            getattr(engine, name).connect(slot)
            self._slots.append((name, slot))

    def detach(self) -> None:
        for name, slot in self._slots:
            try:
                getattr(self.engine, name).disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        self._slots.clear()

    def of(self, name: str) -> list:
        return [p for n, p in self.events if n == name]

    def results(self) -> list:
        return [p for n, p in self.events if n in ("jobFinished", "jobFailed")]

    def result(self, job_id: int):
        return next(r for r in self.results() if r.job_id == job_id)

    def notices(self) -> list[str]:
        return self.of("notice")

    def clear(self) -> None:
        self.events.clear()

    def wait_results(self, n: int, timeout_s: float = WAIT_S) -> list:
        wait_until(lambda: len(self.results()) >= n, timeout_s, f"{n} job result(s)")
        return self.results()

    def run(self, paths, options: OcrOptions | None = None, timeout_s: float = WAIT_S) -> dict:
        """Submit ``paths``; wait for each of their results. Returns {path: JobResult} (and the ids)."""
        ids = self.engine.submit([os.fspath(p) for p in paths], options or OcrOptions(max_tokens=TOKENS))
        wait_until(lambda: {r.job_id for r in self.results()} >= set(ids), timeout_s, f"jobs {ids}")
        return {r.path: r for r in self.results() if r.job_id in ids}


def settle(engine: Engine, timeout_s: float = WAIT_S) -> None:
    """Wait until nothing is queued or running and the lifecycle is at rest."""
    wait_until(lambda: not engine.busy and engine.status.state in (State.READY, State.UNLOADED),
               timeout_s, "the engine to be idle")


# ----------------------------------------------------------------- engines
@pytest.fixture(scope="module")
def module_engine(qapp, tiny_model_dir):
    """One engine on the tiny model, model kept loaded, shared by a module's cheap cases."""
    engine = Engine(ModelSpec.resolve(str(tiny_model_dir)), Mode.KEEP_RESIDENT)
    yield engine
    assert engine.shutdown(10), "engine thread did not stop"


@pytest.fixture
def recorder(module_engine):
    rec = Recorder(module_engine)
    yield rec
    module_engine.cancel_all()  # a failed test leaves nothing running for the next one
    settle(module_engine)
    rec.detach()


@pytest.fixture
def make_engine(qapp, tiny_model_dir):
    """Engines of a test's own (faults, shutdowns); every one shut down (bounded) at the end."""
    engines = []

    def make(model=None, mode=Mode.KEEP_RESIDENT, idle=300.0, **kw) -> tuple[Engine, Recorder]:
        engine = Engine(ModelSpec.resolve(str(model or tiny_model_dir)), mode, idle, **kw)
        engines.append(engine)
        return engine, Recorder(engine)

    yield make
    for engine in engines:
        assert engine.shutdown(10), "engine thread did not stop"


def one_line(message: str | None, name: str) -> None:
    """The shape every problem report has: one line that starts with the file's name."""
    assert message, "no message"
    assert "\n" not in message, message
    assert message.startswith(f"{name}: "), message
