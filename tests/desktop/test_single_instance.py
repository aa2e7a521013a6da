"""One app per user: the second launch hands its files over through QLocalServer; a crashed instance's lock is
taken over."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from desktop.single_instance import SingleInstance

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_python(code: str, timeout: float = 30) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT)
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
            env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        qtbot.waitUntil(lambda: len(got) == 1, timeout=20_000)
        assert proc.wait(20) == 0, proc.stderr.read()
        assert got == [names]
        # an empty hand-over means "show the window"
        proc = subprocess.Popen([sys.executable, "-c", FORWARD.format(key=key, paths=[])],
                                env=dict(os.environ, PYTHONPATH=ROOT))
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
