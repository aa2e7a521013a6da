"""``ApiServer.start(defer=True)``: the port and the discovery file at once, FastAPI's import only once the app
wakes the server, a client knocks, or the wait's bound passes; and the app wakes it only when nothing a person
waits for is under way (ADR 0025)."""

from __future__ import annotations

import time

import pytest

from engine.api import discovery
from engine.api import server as server_module
from engine.testing import samples

from .conftest import Api, httpx

pytestmark = pytest.mark.slow


@pytest.fixture
def deferred(qtbot, runtime_dir, make_settings, tmp_path):
    """An ApiServer over a real engine, started deferred; stopped (and checked stopped) afterwards."""
    from engine.api.server import ApiServer
    from engine.controller import JobController

    made: list[Api] = []

    def make() -> Api:
        settings = make_settings()
        controller = JobController(JobController.engine_for(settings), settings)
        server = ApiServer(controller, settings, port=0, discovery_path=tmp_path / "api.json")
        server.start(defer=True)
        api = Api(server, controller, settings, qtbot)
        made.append(api)
        return api

    yield make
    for api in made:
        assert api.server.stop(), "the API thread did not stop"
        assert api.controller.shutdown(10), "the engine did not stop"


def built(api: Api) -> bool:
    """Whether the server thread got past its wait: it builds uvicorn's server only after FastAPI's import."""
    return api.server._server is not None


def test_a_deferred_server_is_found_at_once_but_builds_nothing_until_woken(qtbot, deferred):
    api = deferred()
    qtbot.waitUntil(lambda: api.server.discovery_path is not None, timeout=10_000)
    info = discovery.read(api.server.discovery_path)
    assert info is not None and info.port == api.server.port  # clients find it before it serves
    time.sleep(0.5)
    assert not built(api) and not api.server.wait_listening(0)  # still waiting: nothing imported or served
    api.server.wake()
    assert api.server.wait_listening(60)
    assert built(api)
    assert api.request("GET", "/v1/status").status_code == 200


def test_a_client_that_knocks_wakes_a_deferred_server_itself(qtbot, deferred):
    api = deferred()
    qtbot.waitUntil(lambda: api.server.discovery_path is not None, timeout=10_000)
    time.sleep(0.3)
    assert not built(api)
    response = api.request("GET", "/v1/status")  # connects to the listening socket: the server wakes and answers
    assert response.status_code == 200 and response.json()["state"]
    assert built(api)


def test_a_deferred_server_stops_at_once_and_leaves_no_discovery_file(qtbot, deferred):
    api = deferred()
    qtbot.waitUntil(lambda: api.server.discovery_path is not None, timeout=10_000)
    path = api.server.discovery_path
    assert path.exists()
    thread = api.server._thread
    t0 = time.monotonic()
    assert api.server.stop()
    assert time.monotonic() - t0 < 1.0  # the wake-up pair ends the wait; no timeout is waited out
    assert not thread.is_alive() and not path.exists() and not built(api)
    with pytest.raises(httpx.TransportError):  # the socket is closed: nobody is left waiting on it
        httpx.get(f"http://127.0.0.1:{api.server.port}/v1/status", timeout=2, trust_env=False)


def test_a_deferred_server_serves_by_its_bound_without_being_woken(qtbot, deferred, monkeypatch):
    monkeypatch.setattr(server_module, "DEFER_MAX_S", 0.5)
    api = deferred()
    assert api.server.wait_listening(60)  # nobody woke it or knocked
    assert built(api)


def test_the_app_loads_the_api_only_after_its_launch_document_is_read(qtbot, runtime_dir, make_settings, tmp_path,
                                                                      monkeypatch):
    """A launch with a file: the window paints, the file goes to the engine through the pool thread, the model
    loads and reads it, and only then does the API's server import its code; a client could have woken it."""
    from desktop.app import OcrTrayApp

    monkeypatch.setattr(server_module, "DEFER_MAX_S", 600.0)  # only the app's wake-up can start it in time
    waited: list[float] = []  # when the server thread's wait ended (its import begins right after)
    wait = server_module.ApiServer._wait_until_wanted

    def timed_wait(self):
        wait(self)
        waited.append(time.monotonic())

    monkeypatch.setattr(server_module.ApiServer, "_wait_until_wanted", timed_wait)
    settings = make_settings(api__port=0)
    app = OcrTrayApp(settings, tray=False, api=True)
    qtbot.addWidget(app.window)
    try:
        pdf = samples.write_pdf(tmp_path / "scan.pdf", pages=2, text_pages=set())
        app.open_paths([str(pdf)])  # as run_app does right after building the app
        pages_read: list[float] = []  # when each page's result came (the app wakes the API at the job's end,
        app.controller.pageFinished.connect(lambda _p: pages_read.append(time.monotonic()))  # a moment later)
        ended: list[object] = []
        app.controller.jobEnded.connect(ended.append)
        qtbot.waitUntil(lambda: bool(ended), timeout=120_000)
        assert app.api is not None and app.api.discovery_path is not None  # it could be found all along
        qtbot.waitUntil(lambda: app.api.wait_listening(0), timeout=60_000)  # the document read: it serves
        assert len(pages_read) == 2 and len(waited) == 1
        assert waited[0] > pages_read[-1], (waited, pages_read)  # and not while a page was being read
    finally:
        app.shutdown()


def test_the_app_does_not_wake_the_api_while_files_are_on_their_way(qtbot, runtime_dir, make_settings, tmp_path,
                                                                   monkeypatch):
    """The moment between a drop (or a launch's files) and the engine's queue: the files are walked on a pool
    thread, the engine is idle, and a paint or a status change then must not wake the API's import."""
    from desktop.app import OcrTrayApp

    app = OcrTrayApp(make_settings(api__port=0), tray=False, api=True)
    qtbot.addWidget(app.window)
    try:
        qtbot.waitUntil(lambda: app.api is not None and app._window_painted, timeout=30_000)
        woken: list[bool] = []  # at each wake: was a job in hand or on its way?
        monkeypatch.setattr(app.api, "wake", lambda: woken.append(app.controller.busy or app.controller.submitting))
        pdf = samples.write_pdf(tmp_path / "scan.pdf", pages=1, text_pages=set())
        app.submit([str(pdf)])
        assert app.controller.submitting and not app.controller.busy  # walked on the pool thread
        app._maybe_wake_api()  # what a paint or a status change now would do
        assert woken == []
        ended: list[object] = []
        app.controller.jobEnded.connect(ended.append)
        qtbot.waitUntil(lambda: bool(ended) and bool(woken), timeout=120_000)
        assert woken and not any(woken)  # woken once the document was read, never while it was under way
    finally:
        app.shutdown()
