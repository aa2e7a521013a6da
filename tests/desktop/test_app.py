"""The whole app in-process with the real engine thread and the tiny model: drops, streaming, tray, modes,
copy/save, cancel."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog

from desktop.views.result_view import TEXT_LAYER_LABEL
from engine.jobs import JobStatus
from engine.lifecycle import Mode, State
from engine.testing import samples
from tests.clock import SteppedClock

from .conftest import WAIT_MS, Jobs, drop, job_queue, message_bar, result_view, wait_state

pytestmark = pytest.mark.slow


def headings(app):
    return [(os.path.basename(s.path), s.page, s.pages, s.source) for s in result_view(app).sections]


def test_png_and_pdf_drops_stream_page_by_page(qtbot, make_app, tmp_path):
    app = make_app()
    jobs = Jobs(app.engine)
    png = samples.write_png(tmp_path / "note.png")
    pdf = samples.write_pdf(tmp_path / "letter.pdf", pages=3, text_pages={2})
    view = result_view(app)
    seen_at_page_end = []  # what the view shows the moment each page finishes
    app.engine.pageFinished.connect(lambda r: seen_at_page_end.append((r.page, view.toPlainText())))

    assert drop(app.window.drop_zone, [png])
    [png_result] = jobs.wait(qtbot, 1)
    assert drop(app.window.drop_zone, [pdf])
    _, pdf_result = jobs.wait(qtbot, 2)

    assert png_result.status == pdf_result.status == JobStatus.DONE
    assert headings(app) == [
        ("note.png", 1, 1, "model"),
        ("letter.pdf", 1, 3, "model"),
        ("letter.pdf", 2, 3, "text-layer"),
        ("letter.pdf", 3, 3, "model"),
    ]
    shown = view.toPlainText()
    for section in view.sections:  # what streamed in is what is shown, under its heading
        assert section.text == jobs.streamed(section.job_id, section.page)
        assert section.text.strip() in shown
    assert f"letter.pdf · page 2 of 3 {TEXT_LAYER_LABEL}" in shown
    assert shown.count(TEXT_LAYER_LABEL) == 1
    assert shown.index("note.png · page 1 of 1") < shown.index("letter.pdf · page 1 of 3") \
        < shown.index("letter.pdf · page 2 of 3") < shown.index("letter.pdf · page 3 of 3")
    # page by page: when page k of the PDF finished, page k+1 was not there yet
    pdf_moments = [(page, text) for page, text in seen_at_page_end if "letter.pdf · page 1 of 3" in text]
    assert [page for page, _ in pdf_moments] == [1, 2, 3]
    for page, text in pdf_moments:
        assert f"letter.pdf · page {page} of 3" in text
        if page < 3:
            assert f"letter.pdf · page {page + 1} of 3" not in text
    queue = job_queue(app)
    assert [queue.status_text(j) for j in queue.job_ids()] == ["Done · 1 page", "Done · 3 pages"]


def test_folder_with_an_unsupported_file_names_it_and_reads_the_rest(qtbot, make_app, tmp_path):
    app = make_app()
    jobs = Jobs(app.engine)
    queued = []
    app.engine.jobQueued.connect(queued.append)
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    samples.write_png(folder / "a.png")
    samples.write_pdf(folder / "sub" / "b.pdf", pages=1, text_pages={1})
    (folder / "notes.docx").write_bytes(b"PK\x03\x04 not really a document")
    fake = folder / "photo.png"  # right name, wrong bytes: named too, the rest go on
    fake.write_text("this is not a PNG")

    assert drop(app.window.drop_zone, [folder])
    results = jobs.wait(qtbot, 2)
    assert sorted(os.path.basename(r.path) for r in results) == ["a.png", "b.pdf"]
    assert all(r.status == JobStatus.DONE for r in results)
    messages = message_bar(app)
    assert messages.isVisibleTo(app.window)
    assert any(m.startswith("notes.docx:") for m in messages.messages)
    assert any(m.startswith("photo.png:") for m in messages.messages)
    assert all("\n" not in m for m in messages.messages)
    # what a drop queues is queued at once, with its messages, so by now anything extra would show
    assert len(queued) == 2  # nothing else was queued


def test_web_link_drop_is_named_and_nothing_is_queued(qtbot, make_app, monkeypatch):
    app = make_app()
    handed = []
    monkeypatch.setattr(app.controller, "submit", lambda *a, **k: handed.append(a))  # what reaches the controller
    assert drop(app.window.drop_zone, urls=["https://example.com/invoice.pdf"])
    assert "https://example.com/invoice.pdf" in message_bar(app).text()
    assert handed == []  # refused in the window itself, before anything could be queued
    assert job_queue(app).job_ids() == [] and app.engine.status.state is State.UNLOADED


def test_same_file_dropped_twice_while_queued_runs_once(qtbot, make_app, tmp_path):
    app = make_app()
    jobs = Jobs(app.engine)
    queued = []
    app.engine.jobQueued.connect(queued.append)
    pdf = samples.write_pdf(tmp_path / "twice.pdf", pages=2, text_pages=set())
    png = samples.write_png(tmp_path / "first.png")
    app.submit([png, pdf])
    qtbot.waitUntil(lambda: len(job_queue(app).job_ids()) == 2, timeout=WAIT_MS)
    app.submit([pdf])  # still queued behind first.png
    qtbot.waitUntil(lambda: "twice.pdf: already in the queue" in message_bar(app).text(), timeout=WAIT_MS)
    jobs.wait(qtbot, 2)
    assert len(queued) == 2  # the second drop was turned away in the same step that named it


def _drive_mode(app, qtbot, mode: Mode):
    """Choose a memory mode the way a person does: the radio button in Settings (the panel, when built)."""
    app.open_settings()
    panel = app.settings_panel
    assert panel is not None, "the settings panel did not open"
    name = {Mode.KEEP_RESIDENT: "modeKeepResident", Mode.AUTO_RELEASE: "modeAutoRelease",
            Mode.IDLE_TIMEOUT: "modeIdleTimeout"}[mode]
    from PySide6.QtWidgets import QRadioButton

    button = panel.findChild(QRadioButton, name)
    assert button is not None, f"no {name} in the settings panel"
    button.click()
    assert app.settings.get("memory/mode") == mode.value


def test_memory_modes_change_when_the_model_unloads_and_survive_a_restart(qtbot, make_app, make_settings,
                                                                          settings_path, tmp_path):
    """The engine's clock stands still unless the test moves it, so each mode's promise is
    shown by what happens, not by how long it took: auto-release unloads with the clock
    stopped (at once), idle-timeout keeps the model until the clock passes its deadline, and
    keep-resident keeps it with the clock an hour on."""
    settings = make_settings()
    settings.set("ocr/max_tokens", 4)
    clock = SteppedClock()
    app = make_app(settings, idle_seconds=1.0, clock=clock)
    jobs = Jobs(app.engine)
    png = samples.write_png(tmp_path / "a.png")

    # auto-release: unloads as soon as the queue is empty (no time passes on the engine's clock)
    _drive_mode(app, qtbot, Mode.AUTO_RELEASE)
    app.submit([png])
    jobs.wait(qtbot, 1)
    wait_state(qtbot, app, State.UNLOADED)
    assert app.engine.status.mode is Mode.AUTO_RELEASE

    # idle-timeout (1 s override): stays loaded after the job, with its deadline one second on;
    # unloads when the clock passes it (the engine's own timer notices)
    _drive_mode(app, qtbot, Mode.IDLE_TIMEOUT)
    statuses = []
    app.engine.stateChanged.connect(statuses.append)
    app.submit([png])
    jobs.wait(qtbot, 2)
    qtbot.waitUntil(lambda: app.engine.status.state is State.READY and bool(app.engine.status.deadline),
                    timeout=WAIT_MS)
    assert app.engine.status.deadline == clock() + 1.0 and app.engine.status.mode is Mode.IDLE_TIMEOUT
    assert State.UNLOADING not in [s.state for s in statuses]  # stayed loaded
    clock.advance(1.5)
    wait_state(qtbot, app, State.UNLOADED, timeout=20_000)  # the engine's timer fires about 1 s after arming

    # keep-resident: no deadline at all, and still loaded with the clock an hour on
    _drive_mode(app, qtbot, Mode.KEEP_RESIDENT)
    app.submit([png])
    jobs.wait(qtbot, 3)
    wait_state(qtbot, app, State.READY)
    clock.advance(3600.0)
    statuses.clear()
    app.engine.request_status()  # a round trip through the engine thread, after anything it had to do
    qtbot.waitUntil(lambda: bool(statuses), timeout=WAIT_MS)
    assert app.engine.status.state is State.READY and app.engine.status.deadline is None

    # the choice survives a restart of the window (same settings file, new app)
    _drive_mode(app, qtbot, Mode.AUTO_RELEASE)
    app.shutdown()
    again = make_app(make_settings(settings_path))
    assert again.settings.get("memory/mode") == Mode.AUTO_RELEASE.value
    again.engine.request_status()
    qtbot.waitUntil(lambda: again.engine.status.mode is Mode.AUTO_RELEASE, timeout=5000)
    again.open_settings()
    from PySide6.QtWidgets import QRadioButton

    assert again.settings_panel.findChild(QRadioButton, "modeAutoRelease").isChecked()


def test_copy_and_save_as_give_the_streamed_text(qtbot, make_app, tmp_path):
    app = make_app()
    jobs = Jobs(app.engine)
    pdf = samples.write_pdf(tmp_path / "report.pdf", pages=3, text_pages={2})
    app.submit([pdf])
    [result] = jobs.wait(qtbot, 1)
    assert result.status == JobStatus.DONE
    window = app.window
    streamed = [jobs.streamed(result.job_id, p) for p in (1, 2, 3)]

    labels = {2: " (text layer)"}

    def expected(heading):  # built from what streamed in, not from the view
        return "\n".join(f"{heading(f'report.pdf · page {i} of 3{labels.get(i, chr(32))}'.rstrip())}\n\n"
                         f"{streamed[i - 1].strip(chr(10))}\n" for i in (1, 2, 3))

    copy = window.findChild(type(window.copy_action), "copyText")
    assert copy.isEnabled() and copy.shortcut() == QKeySequence(QKeySequence.StandardKey.Copy)
    QGuiApplication.clipboard().clear()
    copy.trigger()
    copied = QGuiApplication.clipboard().text()
    assert copied == "\n\n".join(s.strip("\n") for s in streamed) + "\n"  # the text, no page headings
    assert "Page 2" in copied and "report.pdf · page" not in copied  # the text layer's own words

    def save(name):
        window.findChild(type(window.save_action), "saveAs").trigger()
        [dialog] = [d for d in window.findChildren(QFileDialog, "saveDialog") if d.isVisible()]
        target = str(tmp_path / name)
        dialog.selectFile(target)
        dialog.accept()
        qtbot.waitUntil(lambda: os.path.exists(target), timeout=5000)
        with open(target, encoding="utf-8") as f:
            return f.read()

    assert save("report.md") == expected(lambda h: f"## {h}")
    assert save("report.txt") == expected(lambda h: f"--- {h} ---")


def test_cancel_mid_job_stops_it_and_the_app_stays_usable(qtbot, make_app, tmp_path):
    app = make_app(max_tokens=64)
    jobs = Jobs(app.engine)
    pdf = samples.write_pdf(tmp_path / "long.pdf", pages=6, text_pages=set())
    clicked = []

    def on_delta(delta):
        if not clicked:
            clicked.append(delta.job_id)
            job_queue(app).cancel_button(delta.job_id).click()

    app.engine.textDelta.connect(on_delta)
    app.submit([pdf])
    [result] = jobs.wait(qtbot, 1)
    app.engine.textDelta.disconnect(on_delta)
    assert result.status == JobStatus.CANCELLED and len(result.pages) < 6
    assert job_queue(app).status_text(result.job_id) == "Cancelled"
    assert result_view(app).toPlainText().rstrip().endswith("— cancelled —")
    wait_state(qtbot, app, State.READY)

    app.submit([samples.write_png(tmp_path / "after.png")])
    [_, after] = jobs.wait(qtbot, 2)
    assert after.status == JobStatus.DONE and len(after.pages) == 1

    # Cancel All empties the queue, running job included (a long first job: it is surely still running)
    more = [samples.write_pdf(tmp_path / f"more{i}.pdf", pages=30 if i == 0 else 2, text_pages=set()) for i in range(3)]
    app.engine.pageStarted.connect(
        lambda p: job_queue(app).cancel_all.click() if p.path == str(more[0]) and p.page == 1 else None
    )
    app.submit(more)
    done = jobs.wait(qtbot, 5)
    seen = [(os.path.basename(r.path), r.status, len(r.pages)) for r in done]
    assert [r.status for r in done[2:]] == [JobStatus.CANCELLED] * 3, seen
    assert not job_queue(app).cancel_all.isEnabled()


def test_gui_stays_responsive_while_a_pdf_is_read(qtbot, make_app, tmp_path):
    """A 5 ms heartbeat in the GUI thread while a 3-page PDF loads the model and is read."""
    app = make_app(max_tokens=24)
    jobs = Jobs(app.engine)
    pdf = samples.write_pdf(tmp_path / "heart.pdf", pages=3, text_pages={2})
    gaps = []
    clock = QElapsedTimer()
    beat = QTimer()
    beat.setInterval(5)

    def tick():
        gaps.append(clock.restart())

    beat.timeout.connect(tick)
    clock.start()
    beat.start()
    app.submit([pdf])
    [result] = jobs.wait(qtbot, 1)
    beat.stop()
    assert result.status == JobStatus.DONE and len(result.pages) == 3
    gaps.sort()
    longest = gaps[-1]
    p99 = gaps[int(len(gaps) * 0.99) - 1]
    print(f"\nheartbeat: {len(gaps)} beats, longest gap {longest} ms, p99 {p99} ms")
    assert longest <= 250, f"the GUI thread stalled for {longest} ms"


def test_closing_the_window_hides_it_and_the_app_stays_in_the_tray(qtbot, make_app, tmp_path):
    app = make_app(tray=True, show_window=True)
    if not app.tray.visible:
        pytest.skip("this platform shows no tray icon even when asked (the app then quits on close)")
    quit_calls = []
    app.quitting.connect(lambda: quit_calls.append(True))
    app.window.close()
    assert not app.window.isVisible() and not quit_calls
    app.tray.action("openWindow").trigger()
    assert app.window.isVisible()


def test_without_a_tray_closing_the_window_quits(qtbot, make_app):
    app = make_app(tray=False)
    assert app.window.isVisible()  # no tray icon: the window is the app
    quit_calls = []
    app.quitting.connect(lambda: quit_calls.append(True))
    app.window.close()
    assert quit_calls and app.engine._thread is None


def test_changing_the_model_in_settings_applies_to_the_engine(qtbot, make_app, tiny_model_dir, tmp_path):
    app = make_app(mode=Mode.KEEP_RESIDENT)
    jobs = Jobs(app.engine)
    app.submit([samples.write_png(tmp_path / "a.png")])
    jobs.wait(qtbot, 1)
    wait_state(qtbot, app, State.READY)
    other = tmp_path / "other-model"
    other.symlink_to(tiny_model_dir, target_is_directory=True)
    app.settings.set("model/custom_source", str(other))
    assert app.engine.spec.source == str(other)
    wait_state(qtbot, app, State.UNLOADED)  # the loaded model goes; the next job loads the new one
    app.submit([samples.write_png(tmp_path / "b.png")])
    [_, second] = jobs.wait(qtbot, 2)
    assert second.status == JobStatus.DONE and second.pages[0].model == "other-model"
