"""The discovery file: how a client on this machine finds the running app's API (port and token).

``<runtime folder>/api.json``, mode 0600 in the private 0700 runtime folder (``engine.paths``), written
atomically when the server listens and removed at quit. A file whose process is gone (a crash, a kill)
is ignored: ``read`` checks the pid and that process's start time, so a recycled pid does not count.
No Qt and no web framework here: the command line reads it before deciding to start an engine.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

FILE_NAME = "api.json"


@dataclass(frozen=True)
class Discovery:
    port: int
    token: str
    pid: int
    version: str
    started: float = 0.0  # the process's start time (psutil), to tell a recycled pid apart
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def as_json(self) -> dict:
        return dict(asdict(self), url=self.url)


def default_path() -> Path:
    from engine import paths

    return paths.runtime_dir() / FILE_NAME


def process_started(pid: int) -> float | None:
    """The start time of process ``pid``, or None when there is no such process."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError):
        return None


def for_this_process(port: int, token: str, host: str = "127.0.0.1") -> Discovery:
    from engine import __version__

    pid = os.getpid()
    return Discovery(port, token, pid, __version__, process_started(pid) or 0.0, host)


def write(info: Discovery, path: Path | None = None) -> Path:
    """Write the file atomically, readable by this user only (0600 from the start, never wider)."""
    path = Path(path) if path is not None else default_path()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(info.as_json(), f)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def read(path: Path | None = None) -> Discovery | None:
    """The running app's discovery, or None: no file, not ours, unreadable, or its process is gone."""
    try:
        path = Path(path) if path is not None else default_path()
        st = os.lstat(path)
        if not _private_file(st):
            return None
        data = json.loads(path.read_text())
        info = Discovery(int(data["port"]), str(data["token"]), int(data["pid"]), str(data.get("version", "")),
                         float(data.get("started", 0.0)), str(data.get("host", "127.0.0.1")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    started = process_started(info.pid)
    if started is None:
        return None  # the app is gone: the file is stale
    if info.started and abs(started - info.started) > 1.0:
        return None  # another process has that pid now
    return info


def remove(path: Path | None = None, pid: int | None = None) -> None:
    """Remove the file if it is this process's (a newer app's file is left alone)."""
    try:
        path = Path(path) if path is not None else default_path()
        data = json.loads(path.read_text())
        if int(data.get("pid", -1)) != (os.getpid() if pid is None else pid):
            return
        path.unlink()
    except (OSError, ValueError, TypeError):
        pass


def _private_file(st: os.stat_result) -> bool:
    import stat

    if not stat.S_ISREG(st.st_mode):
        return False  # a link or anything else is never trusted
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return False
    return not stat.S_IMODE(st.st_mode) & 0o077
