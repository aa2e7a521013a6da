"""Back-pressure and clients that go away: 50 clients at once against a queue of 20, a client killed mid-stream."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from PySide6.QtCore import QTimer

from engine.jobs import Client, ErrorKind, JobStatus
from engine.testing import samples

from .conftest import httpx, temp_files, upload_root

pytestmark = pytest.mark.slow

CLIENTS = 50
QUEUE_BOUND = 20


def test_fifty_clients_against_a_queue_of_twenty(make_api, tmp_path):
    api = make_api(queue_limit=QUEUE_BOUND)
    png = samples.write_png(tmp_path / "a.png").read_bytes()
    answers: list = [None] * CLIENTS
    ready = threading.Barrier(CLIENTS)

    def client(i: int) -> None:
        with httpx.Client(base_url=api.url, headers={**api.auth, "User-Agent": f"load-{i}"}, timeout=120,
                          trust_env=False) as c:
            ready.wait(30)
            answers[i] = c.post("/v1/ocr", files={"file": (f"doc-{i:02d}.png", png, "image/png")},
                                data={"max_tokens": "3"})

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    # Hold the GUI thread until every request has reached the bridge: the 50 submissions then meet the
    # queue in one burst, so exactly QUEUE_BOUND are taken whatever the machine's speed.
    deadline = time.monotonic() + 60
    while api.server.bridge.received < CLIENTS and time.monotonic() < deadline:
        time.sleep(0.01)
    assert api.server.bridge.received == CLIENTS

    beats: list[float] = []
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    heartbeat.start(10)
    api.qtbot.waitUntil(lambda: not any(t.is_alive() for t in threads), timeout=120_000)
    heartbeat.stop()

    accepted = [r for r in answers if r.status_code == 200]
    refused = [r for r in answers if r.status_code == 429]
    assert len(accepted) == QUEUE_BOUND and len(refused) == CLIENTS - QUEUE_BOUND, \
        sorted(r.status_code for r in answers)
    for r in refused:
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["kind"] == ErrorKind.QUEUE and "queue is full" in r.json()["error"]["message"]
    done = [r.json() for r in accepted]
    assert all(d["status"] == JobStatus.DONE and len(d["pages"]) == 1 for d in done)
    ids = sorted(d["job_id"] for d in done)
    assert len(set(ids)) == QUEUE_BOUND  # none duplicated
    ended = [p for n, p in api.events if n == "jobEnded" and p.client is Client.API and p.ok]
    assert [p.job_id for p in ended] == ids  # every accepted job ran, in the order it was queued (FIFO)
    started = [p.job_id for n, p in api.events if n == "jobStarted"]
    assert started == ids
    assert len(beats) > 10, "the GUI heartbeat did not run while the clients were served"
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    assert max(gaps) < 1.0, f"the GUI stalled {max(gaps):.2f} s"
    api.qtbot.waitUntil(lambda: not temp_files(upload_root(api)), timeout=10_000)  # refused uploads went too


def test_a_client_killed_mid_stream_cancels_its_job_and_the_next_one_runs(make_api, tmp_path):
    api = make_api()
    pdf = samples.write_pdf(tmp_path / "long.pdf", pages=6, text_pages=set())
    body = pdf.read_bytes()
    events: list[dict] = []

    def kill_after_first_delta():
        s = socket.create_connection(("127.0.0.1", api.server.port), timeout=60)
        boundary = "XyZ"
        form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"stream\"\r\n\r\ntrue\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"max_tokens\"\r\n\r\n200\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"long.pdf\"\r\n"
                f"Content-Type: application/pdf\r\n\r\n").encode() + body + f"\r\n--{boundary}--\r\n".encode()
        head = (f"POST /v1/ocr HTTP/1.1\r\nHost: 127.0.0.1:{api.server.port}\r\n"
                f"Authorization: Bearer {api.server.token}\r\nContent-Type: multipart/form-data; boundary={boundary}"
                f"\r\nContent-Length: {len(form)}\r\n\r\n").encode()
        s.sendall(head + form)
        buf = b""
        while True:
            got = s.recv(65536)
            assert got, "the server closed first"
            buf += got
            for line in buf.split(b"\n"):
                if line.startswith(b"{"):
                    events.append(json.loads(line))
            if any(e["event"] == "text.delta" for e in events):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()  # killed: a reset, mid-stream
                return
            events.clear()

    api.call(kill_after_first_delta)
    api.qtbot.waitUntil(lambda: any(n == "jobEnded" for n, _ in api.events), timeout=60_000)
    [ended] = [p for n, p in api.events if n == "jobEnded"]
    assert ended.status is JobStatus.CANCELLED and len(ended.pages) < 6
    api.qtbot.waitUntil(lambda: not temp_files(upload_root(api)), timeout=10_000)
    png = samples.write_png(tmp_path / "next.png")
    r = api.request("POST", "/v1/ocr", json={"path": str(png)})
    assert r.status_code == 200 and r.json()["status"] == JobStatus.DONE


def test_a_client_gone_while_its_job_waits_in_the_queue_withdraws_it(make_api, tmp_path):
    api = make_api()
    first = samples.write_pdf(tmp_path / "first.pdf", pages=4, text_pages=set())
    second = samples.write_png(tmp_path / "second.png")
    results = {}

    def long_job():
        results["first"] = api.client().post("/v1/ocr", json={"path": str(first), "max_tokens": 60})

    def waiting_then_gone():
        with api.client() as c, c.stream("POST", "/v1/ocr", json={"path": str(second), "stream": True}) as r:
            for line in r.iter_lines():
                if json.loads(line)["event"] == "job.queued":
                    return json.loads(line)["job_id"]  # leaves while queued behind the first job

    t = threading.Thread(target=long_job, daemon=True)
    t.start()
    api.qtbot.waitUntil(lambda: any(n == "jobStarted" for n, _ in api.events), timeout=60_000)
    job = api.call(waiting_then_gone)
    api.qtbot.waitUntil(lambda: not t.is_alive(), timeout=90_000)
    api.qtbot.waitUntil(lambda: any(n == "jobEnded" and p.job_id == job for n, p in api.events), timeout=30_000)
    [gone] = [p for n, p in api.events if n == "jobEnded" and p.job_id == job]
    assert gone.status is JobStatus.CANCELLED and not gone.pages
    assert job not in [p.job_id for n, p in api.events if n == "jobStarted"]
    assert results["first"].status_code == 200


def test_a_slow_reader_is_dropped_not_buffered(make_api, tmp_path):
    """A stream the client does not drain stops at its bound: the GUI keeps nothing more for it and the job
    is cancelled (the bound is small here; the real one is bridge.STREAM_LIMIT events)."""
    import asyncio

    from engine.api import bridge

    api = make_api()
    pdf = samples.write_pdf(tmp_path / "p.pdf", pages=3, text_pages=set())
    loop = asyncio.new_event_loop()  # never run: nothing drains the stream, as with a client that stopped reading
    try:
        stream = bridge.JobStream(loop, deltas=True, limit=3)
        api.server.bridge.post(lambda: api.server.bridge._submit(stream, str(pdf), api.controller.default_options(),
                                                                 "slow reader", False))
        api.qtbot.waitUntil(lambda: any(n == "jobEnded" for n, _ in api.events), timeout=60_000)
        [ended] = [p for n, p in api.events if n == "jobEnded"]
        assert ended.status is JobStatus.CANCELLED and len(ended.pages) < 3
        assert stream.overflowed and stream._queue.qsize() == 3  # bounded: nothing past the limit was kept
        assert api.server.bridge.api_jobs() == 0
    finally:
        loop.close()
