"""One app per user: the second launch hands its files over through QLocalServer; a crashed instance's lock is
taken over."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from desktop.single_instance import SingleInstance
from tests.processes import child_env


def run_python(code: str, timeout: float = 30) -> subprocess.CompletedProcess:
    env = child_env()
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)


FORWARD = """
import sys
from PySide6.QtCore import QCoreApplication
from desktop.single_instance import SingleInstance
app = QCoreApplication([])
instance = SingleInstance({key!r})
if instance.acquire():
    print("became first"); sys.exit(3)
sys.exit(0 if instance.forward({paths!r}) else 4)
"""


@pytest.fixture
def key():
    return f"ocr-tray-test-{uuid.uuid4().hex[:8]}"


def test_second_launch_hands_its_paths_to_the_first(qtbot, key, tmp_path):
    first = SingleInstance(key)
    try:
        assert first.acquire()
        assert not SingleInstance(key).acquire()  # the lock is held
        got = []
        first.pathsReceived.connect(got.append)
        names = [str(tmp_path / "a.png"), str(tmp_path / "ünïcode folder")]
        proc = subprocess.Popen(
            [sys.executable, "-c", FORWARD.format(key=key, paths=names)],
            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        qtbot.waitUntil(lambda: len(got) == 1, timeout=20_000)
        assert proc.wait(20) == 0, proc.stderr.read()
        assert got == [names]
        # an empty hand-over means "show the window"
        proc = subprocess.Popen([sys.executable, "-c", FORWARD.format(key=key, paths=[])],
                                env=child_env())
        qtbot.waitUntil(lambda: len(got) == 2, timeout=20_000)
        assert proc.wait(20) == 0 and got[1] == []
    finally:
        first.release()
    assert SingleInstance(key).acquire()  # released: the next launch is first


def test_a_crashed_instance_does_not_block_the_next_launch(key):
    crashed = run_python(
        "import os\nfrom PySide6.QtCore import QCoreApplication\n"
        "from desktop.single_instance import SingleInstance\n"
        f"app = QCoreApplication([]); i = SingleInstance({key!r}); assert i.acquire()\n"
        "os._exit(9)  # no clean-up: lock file and socket stay behind\n"
    )
    assert crashed.returncode == 9
    instance = SingleInstance(key)
    try:
        assert instance.acquire()
    finally:
        instance.release()


def test_forward_gives_up_when_nobody_answers(key):
    done = run_python(FORWARD.format(key=key, paths=["x"]).replace("if instance.acquire():", "if False:"))
    assert done.returncode == 4


# ------------------------------------------------------------------ a hostile neighbour (issue 12)
def test_lock_and_socket_live_in_the_private_runtime_folder(key):
    from engine import paths

    instance = SingleInstance(key)
    folder = str(paths.runtime_dir())
    assert os.path.dirname(instance.socket_path) == folder  # not the old shared name, /tmp/ocr-tray-<uid>
    assert (os.stat(folder).st_mode & 0o777) == 0o700 and os.stat(folder).st_uid == os.getuid()


def test_the_peer_is_asked_who_it_is():
    import socket

    from desktop.single_instance import peer_uid, same_user

    a, b = socket.socketpair(socket.AF_UNIX)
    try:
        if sys.platform.startswith("linux") or sys.platform == "darwin":
            assert peer_uid(a.fileno()) == os.getuid()
        assert same_user(a.fileno())
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("data", [
    b"[" * 200_000,  # nested deeper than the parser goes: no RecursionError escapes
    b'{"paths": "ab"}',  # a string is not a list of paths ("a" and "b" were queued)
    b'{"paths": ["relative.pdf"]}',
    b'{"paths": ["/a.pdf"], "more": 1}',
    b'{"paths": [1]}',
    b"\xff\xfe not json",
])
def test_a_message_that_is_not_a_list_of_absolute_paths_is_dropped(data):
    from desktop.single_instance import parse_message

    assert parse_message(data) is None
    assert parse_message(b'{"paths": ["/docs/a.pdf", "/x y/\xc3\xbc.png"]}') == ["/docs/a.pdf", "/x y/ü.png"]


def test_held_and_flooding_connections_are_bounded(qtbot, key):
    """60 clients holding their connection open with half a message each: a few are served, the rest
    refused, and what the app keeps of them is bounded by the cap on connections times the cap on a message."""
    import socket

    from desktop import single_instance as si

    first = SingleInstance(key)
    assert first.acquire()
    got = []
    first.pathsReceived.connect(got.append)
    clients = []
    try:
        for _ in range(60):
            c = socket.socket(socket.AF_UNIX)
            c.setblocking(False)
            try:
                c.connect(first.socket_path)
                c.send(b"x" * (si.MAX_MESSAGE_BYTES // 2))  # never finished with a newline
            except (BlockingIOError, OSError):
                pass
            clients.append(c)
        # the server takes what it can hold, turns the rest away, and buffers at most a message each
        qtbot.waitUntil(lambda: len(first._buffers) == si.MAX_CONNECTIONS, timeout=20_000)
        assert sum(map(len, first._buffers.values())) <= si.MAX_CONNECTIONS * si.MAX_MESSAGE_BYTES
        qtbot.waitUntil(lambda: not first._buffers, timeout=si.IDLE_MS * 3)  # silent ones are closed
        assert got == []
    finally:
        for c in clients:
            c.close()
        first.release()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user ('nobody')")
def test_a_hand_over_from_another_user_is_refused(qtbot, key, tmp_path, monkeypatch, caplog):
    """A socket another user can reach (as in a shared folder): their hand-over is dropped, never queued."""
    import shutil

    from desktop import single_instance as si

    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv is not installed")
    import tempfile
    from pathlib import Path

    # outside the test's own temporary folder: its parents are private, and the other user
    # must really reach the socket (or the test would pass without the check ever running)
    shared = Path(tempfile.mkdtemp(prefix="ocr-tray-shared-"))
    os.chmod(shared, 0o777)
    monkeypatch.setattr(si.paths, "runtime_dir", lambda: shared)
    first = SingleInstance(key)
    assert first.acquire()
    os.chmod(first.socket_path, 0o777)
    got = []
    first.pathsReceived.connect(got.append)
    code = (f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({first.socket_path!r}); "
            "s.sendall(b'{\"paths\": [\"/etc/passwd\"]}\\n'); print(s.recv(10))")
    nobody = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    proc = subprocess.Popen([*nobody, sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=20_000)
        out, err = proc.communicate(timeout=5)
        assert b"Permission denied" not in err, err  # it reached the app
        qtbot.waitUntil(lambda: "a connection was refused (another user)" in caplog.text, timeout=20_000)
        assert got == []
    finally:
        first.release()
        shutil.rmtree(shared, ignore_errors=True)


DROPPED_WHILE_DELETING = """
import gc, socket, sys
from PySide6.QtCore import QCoreApplication, QEvent
from desktop.single_instance import SingleInstance

app = QCoreApplication([])
first = SingleInstance({key!r})
assert first.acquire()
got = []
first.pathsReceived.connect(got.append)
client = socket.socket(socket.AF_UNIX)
client.connect(first.socket_path)
client.sendall(b'{{"paths": ["/a.pdf"]}}\\n')
while not got:
    app.processEvents()
first.release()
del first  # the last reference outside Qt, while the served socket's deleteLater is still pending
gc.collect()
QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
app.processEvents()
print("survived")
"""


def test_the_instance_can_go_while_a_served_socket_is_being_deleted(key):
    """A served socket's slots used to hold the instance alive: deleting the socket (its deleteLater,
    run after the test or at quit) dropped the last reference, which deleted the instance, its
    server and that same socket again: "pure virtual method called" or a segfault at random in
    the suite. Deterministic here: the instance is dropped with the socket's deletion pending."""
    run = run_python(DROPPED_WHILE_DELETING.format(key=key))
    assert run.returncode == 0 and run.stdout.strip() == "survived", (run.returncode, run.stderr[-1500:])
    assert "shared QObject was deleted directly" not in run.stderr
