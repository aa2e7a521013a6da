"""Who may talk to the API: token, Host, CORS, the discovery file; and uploads that are too large."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time

import psutil
import pytest

from engine.api import auth, discovery
from engine.jobs import ErrorKind
from engine.testing import samples

from .conftest import httpx, temp_files, upload_root

GB = 1024**3


# ------------------------------------------------------------------ units
def test_token_is_compared_whole_and_only_as_a_bearer():
    token = auth.new_token()
    assert len(token) >= 40
    assert auth.token_ok(f"Bearer {token}", token)
    assert auth.token_ok(f"bearer  {token} ", token)
    for wrong in (None, "", token, f"Basic {token}", f"Bearer {token[:-1]}", f"Bearer {token}x", "Bearer "):
        assert not auth.token_ok(wrong, token), wrong


def test_host_allow_list_is_loopback_names_with_our_port_or_none():
    for ok in ("127.0.0.1:8123", "localhost:8123", "[::1]:8123", "LOCALHOST:8123", "localhost"):
        assert auth.host_ok(ok, 8123), ok
    for bad in (None, "", "evil.example:8123", "127.0.0.1:9999", "localhost.evil.example:8123", "0.0.0.0:8123",
                "127.0.0.2:8123", "[::1]:1"):
        assert not auth.host_ok(bad, 8123), bad


def test_discovery_file_is_private_atomic_and_ignored_when_its_process_is_gone(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    path = folder / "api.json"
    info = discovery.for_this_process(4321, "t0ken")
    discovery.write(info, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert discovery.read(path) == info
    assert json.loads(path.read_text())["url"] == "http://127.0.0.1:4321"

    os.chmod(path, 0o644)  # readable by others: not trusted
    assert discovery.read(path) is None
    os.chmod(path, 0o600)

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    gone = discovery.Discovery(4321, "t0ken", child.pid, "0.1.0", time.time())
    discovery.write(gone, path)
    assert discovery.read(path) is None  # its process is gone

    recycled = discovery.Discovery(4321, "t0ken", os.getpid(), "0.1.0", 12345.0)  # our pid, another start time
    discovery.write(recycled, path)
    assert discovery.read(path) is None

    discovery.remove(path, pid=os.getpid() + 1)  # not ours: left alone
    assert path.exists()
    discovery.remove(path)
    assert not path.exists()


# ------------------------------------------------------------------ a real server
@pytest.mark.slow
def test_every_request_needs_the_token_and_a_loopback_host(make_api, tmp_path):
    api = make_api()
    png = samples.write_png(tmp_path / "a.png")
    targets = [("GET", "/v1/status", {}), ("GET", "/v1/models", {}), ("POST", "/v1/unload", {}),
               ("POST", "/v1/load", {"json": {}}), ("GET", "/docs", {}), ("GET", "/openapi.json", {}),
               ("POST", "/v1/ocr", {"json": {"path": str(png)}}),
               ("POST", "/v1/chat/completions", {"json": {"model": "x", "messages": []}})]

    def go():
        out = []
        with httpx.Client(base_url=api.url, timeout=30, trust_env=False) as c:
            for method, path, kw in targets:
                out.append(("none", c.request(method, path, **kw)))
                out.append(("wrong", c.request(method, path, headers={"Authorization": "Bearer nope"}, **kw)))
                out.append(("basic", c.request(method, path, headers={"Authorization": f"Basic {api.server.token}"},
                                               **kw)))
                out.append(("host", c.request(method, path, headers={**api.auth, "Host": "evil.example"}, **kw)))
                out.append(("host+port", c.request(method, path, headers={
                    **api.auth, "Host": f"rebound.example:{api.server.port}"}, **kw)))
            out.append(("preflight", c.request("OPTIONS", "/v1/ocr", headers={
                "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})))
            out.append(("origin", c.request("GET", "/v1/status", headers={**api.auth, "Origin": "http://evil.example"})))
            out.append(("docs", c.request("GET", "/docs", headers=api.auth)))
            out.append(("openapi", c.request("GET", "/openapi.json", headers=api.auth)))
        return out

    answers = api.call(go)
    for what, r in answers:
        assert "access-control-allow-origin" not in {k.lower() for k in r.headers}, (what, r.request.url)
        if what in ("none", "wrong", "basic", "preflight"):
            assert r.status_code == 401, (what, r.request.url, r.status_code)
            assert r.json()["error"]["kind"] == ErrorKind.AUTH
        elif what.startswith("host"):
            assert r.status_code == 403, (what, r.request.url)
            assert r.json()["error"]["kind"] == ErrorKind.AUTH
    answered = dict(answers[-3:])
    assert answered["origin"].status_code == 200
    assert answered["docs"].status_code == 200 and "swagger" in answered["docs"].text.lower()
    spec = answered["openapi"].json()
    assert {"/v1/ocr", "/v1/status", "/v1/load", "/v1/unload", "/v1/models", "/v1/chat/completions"} <= set(
        spec["paths"])
    assert not [n for n, _ in api.events if n == "jobQueued"]  # nothing refused reached the engine


@pytest.mark.slow
def test_the_server_listens_on_loopback_only_and_its_discovery_file_goes_at_stop(make_api, runtime_dir):
    api = make_api()
    path = api.server.discovery_path
    assert path.parent == runtime_dir and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(runtime_dir).st_mode) == 0o700
    info = discovery.read(path)
    assert info is not None and info.port == api.server.port and info.token == api.server.token
    assert info.pid == os.getpid() and info.version
    listening = [c for c in psutil.Process().net_connections("tcp") if c.status == psutil.CONN_LISTEN
                 and c.laddr.port == api.server.port]
    assert [c.laddr.ip for c in listening] == ["127.0.0.1"]
    api.server.stop()
    assert not path.exists()


@pytest.mark.slow
def test_a_taken_port_falls_back_to_a_free_one():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        from engine.api.server import bind

        sock = bind(port)
        try:
            assert sock.getsockname()[0] == "127.0.0.1" and sock.getsockname()[1] not in (port, 0)
        finally:
            sock.close()
    finally:
        taken.close()


def _raw_upload(port: int, token: str, declared: int | None, total: int, chunk: int = 1 << 20) -> tuple[str, int]:
    """Send headers and up to ``total`` bytes (chunked when ``declared`` is None) until the server answers
    or closes; returns (the status line, bytes sent)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = ["POST /v1/ocr?filename=big.pdf HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Authorization: Bearer {token}",
            "Content-Type: application/pdf"]
    head.append(f"Content-Length: {declared}" if declared is not None else "Transfer-Encoding: chunked")
    s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    sent = 0
    block = b"%PDF" + b"\0" * (chunk - 4)
    stop = threading.Event()

    def feed():
        nonlocal sent
        try:
            while sent < total and not stop.is_set():
                data = block if declared is not None else b"%x\r\n" % len(block) + block + b"\r\n"
                s.sendall(data)
                sent += len(block)
        except OSError:
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    answer = b""
    try:
        while b"\r\n" not in answer:
            got = s.recv(4096)
            if not got:
                break
            answer += got
    except OSError:
        pass
    stop.set()
    feeder.join(30)
    s.close()
    return answer.split(b"\r\n", 1)[0].decode(), sent


@pytest.mark.slow
def test_a_1_gb_upload_is_refused_with_413_before_it_is_read(make_api):
    api = make_api()  # the default limit: 200 MB
    rss = psutil.Process().memory_info().rss
    status, sent = api.call(lambda: _raw_upload(api.server.port, api.server.token, GB, GB))
    assert status.startswith("HTTP/1.1 413"), status
    assert sent < GB  # refused on its Content-Length, long before the end
    assert psutil.Process().memory_info().rss - rss < 50 * 1024 * 1024
    assert not temp_files(upload_root(api))
    assert not [n for n, _ in api.events if n == "jobQueued"]


@pytest.mark.slow
def test_a_body_without_length_is_cut_off_at_the_limit(make_api):
    api = make_api(max_upload_bytes=4 * 1024 * 1024)
    rss = psutil.Process().memory_info().rss
    status, sent = api.call(lambda: _raw_upload(api.server.port, api.server.token, None, GB))
    assert status.startswith("HTTP/1.1 413"), status
    assert sent < GB // 4
    assert psutil.Process().memory_info().rss - rss < 50 * 1024 * 1024
    api.qtbot.waitUntil(lambda: not temp_files(upload_root(api)), timeout=10_000)  # the partial file went too


@pytest.mark.slow
def test_multipart_over_the_limit_is_413_and_leaves_nothing(make_api, tmp_path):
    api = make_api(max_upload_bytes=64 * 1024)
    big = os.urandom(256 * 1024)
    r = api.request("POST", "/v1/ocr", files={"file": ("big.png", big, "image/png")})
    assert r.status_code == 413 and r.json()["error"]["kind"] == ErrorKind.REQUEST
    assert not temp_files(upload_root(api))
