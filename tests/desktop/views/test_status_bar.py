"""The status bar on its own: the idle countdown, the loading time, memory."""

from __future__ import annotations

from desktop.views.status_bar import StatusBar
from engine.jobs import EngineStatus
from engine.lifecycle import Mode, State


def test_status_bar_counts_down_and_shows_loading_time(qtbot):
    now = [1000.0]
    bar = StatusBar(clock=lambda: now[0])
    qtbot.addWidget(bar)
    bar.show()
    bar.set_status(EngineStatus(State.LOADING, Mode.IDLE_TIMEOUT, 300, "Tiny"))
    assert bar.model_label.text().startswith("Loading Tiny… 0:0")
    bar.set_status(EngineStatus(State.READY, Mode.IDLE_TIMEOUT, 300, "Tiny", model_bytes=10_000_000,
                                active_memory=12_000_000, deadline=1272.0))
    assert bar.model_label.text() == "Tiny · ready · 10.0 MB"
    assert bar.idle_label.text() == "Unloads in 4:32"
    assert "MLX 12.0 MB" in bar.memory_label.text() and bar.memory_label.text().startswith("Memory ")
    now[0] = 1271.0
    bar._render_clock()
    assert bar.idle_label.text() == "Unloads in 0:01"
    assert bar._tick.isActive()
    bar.set_status(EngineStatus(State.UNLOADED, Mode.IDLE_TIMEOUT, 300, "Tiny"))
    assert not bar._tick.isActive() and bar.idle_label.text() == ""


def test_a_hidden_window_is_not_woken_every_second_and_is_right_again_when_shown(qtbot):
    """The app in the menu bar (its window hidden) with a model counting down to its idle unload: the clock
    stops while nobody can see it, and says the right time again the moment the window comes back."""
    now = [1000.0]
    bar = StatusBar(clock=lambda: now[0])
    qtbot.addWidget(bar)
    bar.show()
    bar.set_status(EngineStatus(State.READY, Mode.IDLE_TIMEOUT, 300, "Tiny", deadline=1300.0))
    assert bar._tick.isActive() and bar.idle_label.text() == "Unloads in 5:00"
    bar.hide()
    assert not bar._tick.isActive() and not bar._poll.isActive()
    bar.set_status(EngineStatus(State.READY, Mode.IDLE_TIMEOUT, 300, "Tiny", deadline=1300.0))  # a status: still
    assert not bar._tick.isActive()
    now[0] = 1100.0
    bar.show()
    assert bar._tick.isActive() and bar.idle_label.text() == "Unloads in 3:20"
    bar.set_status(EngineStatus(State.READY, Mode.KEEP_RESIDENT, 300, "Tiny"))  # nothing to count
    assert not bar._tick.isActive()


def test_a_status_shows_the_memory_the_engine_measured_without_reading_proc_on_the_gui_thread(qtbot):
    """Every state change and page brings a status with the RSS the engine just measured on its own thread;
    reading /proc here as well cost the window a wait for Python's lock after each read (figure 4). Only the
    timer's poll (between statuses) reads it here."""
    bar = StatusBar()
    qtbot.addWidget(bar)
    reads = []
    real = bar._process.memory_info
    bar._process.memory_info = lambda: reads.append(1) or real()
    bar.set_status(EngineStatus(State.BUSY, Mode.IDLE_TIMEOUT, 300, "Tiny", model_bytes=10_000_000,
                                active_memory=12_000_000, rss=345_000_000))
    assert reads == []
    assert bar.memory_label.text() == "Memory 345 MB · MLX 12.0 MB"
    bar._poll_memory()  # between statuses the bar reads it itself
    assert reads == [1] and bar.memory_label.text() != "Memory 345 MB · MLX 12.0 MB"
