"""The whole app with its local API: API jobs in the window's queue, cancelled there, the tray's Unload state,
the discovery file at start and quit."""

from __future__ import annotations

import json
import threading

import pytest

from engine.api import discovery
from engine.jobs import Client, JobStatus
from engine.lifecycle import State
from engine.testing import samples

from .conftest import httpx

pytestmark = pytest.mark.slow


@pytest.fixture
def make_tray_app(qtbot, runtime_dir, make_settings):
    from desktop.app import OcrTrayApp

    apps = []

    def make(**values):
        settings = make_settings(api__port=0, **values)
        app = OcrTrayApp(settings, tray=False, api=True)
        qtbot.addWidget(app.window)
        apps.append(app)
        qtbot.waitUntil(lambda: app.api is not None and app.api.discovery_path is not None, timeout=30_000)
        return app

    yield make
    for app in apps:
        app.shutdown()


def stream_in_thread(app, body: dict, agent: str, seen: list) -> threading.Thread:
    def run():
        with httpx.Client(base_url=f"http://127.0.0.1:{app.api.port}", timeout=90, trust_env=False,
                          headers={"Authorization": f"Bearer {app.api.token}", "User-Agent": agent}) as c, \
                c.stream("POST", "/v1/ocr", json={**body, "stream": True}) as r:
            for line in r.iter_lines():
                if line.strip():
                    seen.append(json.loads(line))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_api_jobs_show_in_the_queue_with_their_client_and_cancel_there(qtbot, make_tray_app, tmp_path):
    from desktop.views.job_queue import JobQueue

    app = make_tray_app()

    queue = app.window.findChild(JobQueue, "jobQueue")
    pdf = samples.write_pdf(tmp_path / "long.pdf", pages=6, text_pages=set())
    seen: list = []
    started = []
    app.controller.jobStarted.connect(started.append)
    t = stream_in_thread(app, {"path": str(pdf), "max_tokens": 200}, "Shortcuts/1.0", seen)
    qtbot.waitUntil(lambda: bool(started), timeout=60_000)
    job = started[0].job_id
    assert started[0].client is Client.API and started[0].client_name == "Shortcuts/1.0"
    assert queue.name_text(job) == "long.pdf · Shortcuts/1.0 (API)"
    button = queue.cancel_button(job)
    assert button is not None and button.isEnabled()
    button.click()  # cancelled from the window, like any job
    qtbot.waitUntil(lambda: not t.is_alive(), timeout=60_000)
    assert seen[-1]["event"] == "job.done" and seen[-1]["status"] == JobStatus.CANCELLED
    assert queue.status_text(job) == "Cancelled"


def test_unload_through_the_api_mid_job_is_deferred_and_the_tray_says_so(qtbot, make_tray_app, tmp_path):
    app = make_tray_app()
    unload = app.tray.action("unloadModel")
    pdf = samples.write_pdf(tmp_path / "six.pdf", pages=6, text_pages=set())
    seen: list = []
    answers = []
    pages_started = []
    app.controller.pageStarted.connect(pages_started.append)

    t = stream_in_thread(app, {"path": str(pdf), "max_tokens": 200}, "test", seen)
    qtbot.waitUntil(lambda: bool(pages_started), timeout=60_000)

    def ask_unload():
        with httpx.Client(base_url=f"http://127.0.0.1:{app.api.port}", timeout=30, trust_env=False,
                          headers={"Authorization": f"Bearer {app.api.token}"}) as c:
            answers.append(c.post("/v1/unload").json())

    u = threading.Thread(target=ask_unload, daemon=True)
    u.start()
    qtbot.waitUntil(lambda: not u.is_alive(), timeout=30_000)
    assert answers[0]["deferred"] is True and answers[0]["status"]["unload_pending"] is True
    assert app.engine.status.unload_pending  # the job is long: still running
    # the tray shows the same state as after its own Unload Model mid-job
    assert unload.text() == "Unloads After Current Job" and not unload.isEnabled()
    qtbot.waitUntil(lambda: not t.is_alive(), timeout=90_000)
    assert seen[-1]["status"] == JobStatus.DONE and seen[-1]["pages"] == 6  # the job was not cut short
    qtbot.waitUntil(lambda: app.engine.status.state is State.UNLOADED, timeout=30_000)
    assert app.tray.menu.actions()[0].text().endswith("· not loaded")


def test_the_discovery_file_comes_with_the_app_and_goes_at_quit(qtbot, make_tray_app, runtime_dir):
    app = make_tray_app()
    path = app.api.discovery_path
    info = discovery.read(path)
    assert info is not None and info.port == app.api.port
    app.settings.set("api/enabled", False)  # the setting turns it off at once…
    assert app.api is None and not path.exists()
    app.settings.set("api/enabled", True)  # …and on again, with a new token
    qtbot.waitUntil(lambda: app.api is not None and app.api.discovery_path is not None, timeout=30_000)
    assert discovery.read(app.api.discovery_path).token != info.token
    app.shutdown()
    assert not (runtime_dir / discovery.FILE_NAME).exists()


def test_the_api_is_off_when_its_setting_is(qtbot, runtime_dir, make_settings):
    from PySide6.QtCore import QTimer

    from desktop.app import OcrTrayApp

    app = OcrTrayApp(make_settings(api__enabled=False), tray=False, api=True)
    qtbot.addWidget(app.window)
    try:
        after = []  # a zero timer queued after the app's own (which starts the API when it is on)
        QTimer.singleShot(0, lambda: after.append(True))
        qtbot.waitUntil(lambda: bool(after), timeout=10_000)
        assert app.api is None and not (runtime_dir / discovery.FILE_NAME).exists()
    finally:
        app.shutdown()
