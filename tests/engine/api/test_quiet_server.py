"""``engine.api.quiet_server``: the local API's server thread sleeps while nobody calls it, and still stops at once."""

from __future__ import annotations

import sys
import time

import psutil
import pytest

from bench.fig52_idle import switches as thread_switches

pytestmark = pytest.mark.slow


def switches(native_id: int) -> int:
    """Context switches of one thread of this process so far (each wake-up is at least one), read as figure 52
    reads them."""
    return thread_switches(psutil.Process())[str(native_id)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's wake-ups are read from /proc (Linux)")
def test_an_idle_api_thread_sleeps_until_it_is_called_or_stopped(make_api):
    api = make_api()
    assert api.server.wait_listening(60)
    assert api.request("GET", "/v1/status").status_code == 200  # it serves (and the client's connection closes)
    thread = api.server._thread
    time.sleep(0.3)  # the request's own tail (the connection's close) is over
    before, ticks = switches(thread.native_id), api.server._server.ticks
    time.sleep(2.0)
    woke = switches(thread.native_id) - before
    # uvicorn's own loop looks at should_exit every 0.1 s: about 20 wake-ups in these 2 s
    assert woke <= 2, f"the idle API thread woke {woke} times in 2 s"
    assert api.server._server.ticks == ticks  # its loop did not go round
    assert api.request("GET", "/v1/status").status_code == 200  # asleep, it still answers at once
    t0 = time.monotonic()
    assert api.server.stop()
    assert time.monotonic() - t0 < 1.0 and not thread.is_alive()  # the stop wakes it: no poll is waited out


def test_the_quiet_server_refuses_a_config_whose_work_needs_uvicorns_tick():
    import uvicorn

    from engine.api.quiet_server import QuietServer

    async def app(scope, receive, send):  # never called
        raise AssertionError

    for needs_tick in ({"date_header": True}, {"date_header": False, "limit_max_requests": 10}):
        with pytest.raises(ValueError, match="no tick"):
            QuietServer(uvicorn.Config(app, **needs_tick))
    QuietServer(uvicorn.Config(app, date_header=False))


def test_a_stop_asked_before_the_server_waits_is_seen_when_it_starts_to():
    import asyncio
    import socket

    import uvicorn

    from engine.api.quiet_server import QuietServer

    async def app(scope, receive, send):  # never called
        raise AssertionError

    server = QuietServer(uvicorn.Config(app, date_header=False, lifespan="off", log_config=None))
    server.request_exit()  # no loop yet: nothing to wake, but the flag is up
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        t0 = time.monotonic()
        asyncio.run(asyncio.wait_for(server.serve(sockets=[sock]), 5))
        assert time.monotonic() - t0 < 2.0
    finally:
        sock.close()
