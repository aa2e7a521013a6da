"""The app's folders, per platform and per user: data, logs, cache, runtime and temporary files.

=========  ===========================================  ====================================  ==========================
folder     macOS                                        Linux                                 override
=========  ===========================================  ====================================  ==========================
data       ``~/Library/Application Support/OCR Tray``   ``$XDG_DATA_HOME/OCR Tray``           ``OCR_TRAY_DATA_DIR``
logs       ``~/Library/Logs/OCR Tray``                  ``$XDG_STATE_HOME/ocr-tray/log``      ``OCR_TRAY_LOG_DIR``
cache      ``~/Library/Caches/OCR Tray``                ``$XDG_CACHE_HOME/ocr-tray``          ``OCR_TRAY_CACHE_DIR``
runtime    ``$TMPDIR/ocr-tray`` (per-user on macOS)     ``$XDG_RUNTIME_DIR/ocr-tray``, else   ``OCR_TRAY_RUNTIME_DIR``
                                                        ``<cache>/run``
=========  ===========================================  ====================================  ==========================

Windows uses ``%APPDATA%`` and ``%LOCALAPPDATA%``. The runtime folder holds the single-instance
lock and socket and the local API's discovery file; temporary files (clipboard images, captures,
uploads) live in ``<runtime>/tmp/<pid>-<start time>``. Nothing is ever put at a fixed name in a
shared temporary folder such as ``/tmp``: another local user could create it first.

``private_dir`` makes (or checks) a folder that only this user can enter: a real directory, not a
symbolic link, owned by this user, mode 0700. A folder that fails the check is never used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

APP_DIR_NAME = "OCR Tray"
SHORT_NAME = "ocr-tray"


class InsecureFolder(OSError):
    """A folder the app would keep private files in is not private (another owner, a link, open modes)."""


def _home() -> Path:
    return Path.home()


def data_dir() -> Path:
    override = os.environ.get("OCR_TRAY_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / APP_DIR_NAME
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or _home() / "AppData" / "Roaming") / APP_DIR_NAME
    return Path(os.environ.get("XDG_DATA_HOME") or _home() / ".local" / "share") / APP_DIR_NAME


def log_dir() -> Path:
    override = os.environ.get("OCR_TRAY_LOG_DIR")
    if override:
        return Path(override)
    if sys.platform == "darwin":
        return _home() / "Library" / "Logs" / APP_DIR_NAME
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or _home() / "AppData" / "Local") / APP_DIR_NAME / "Logs"
    return Path(os.environ.get("XDG_STATE_HOME") or _home() / ".local" / "state") / SHORT_NAME / "log"


def cache_dir() -> Path:
    override = os.environ.get("OCR_TRAY_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "darwin":
        return _home() / "Library" / "Caches" / APP_DIR_NAME
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or _home() / "AppData" / "Local") / APP_DIR_NAME / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or _home() / ".cache") / SHORT_NAME


def runtime_dir() -> Path:
    """The private folder for the lock, the socket and the API discovery file (made and checked here)."""
    override = os.environ.get("OCR_TRAY_RUNTIME_DIR")
    if override:
        return private_dir(Path(override))
    candidates: list[Path] = []
    if sys.platform == "darwin":
        # $TMPDIR is /var/folders/…/T/, private to the user; gettempdir() falls back to it
        candidates.append(Path(tempfile.gettempdir()) / SHORT_NAME)
    elif sys.platform.startswith("linux") and os.environ.get("XDG_RUNTIME_DIR"):
        candidates.append(Path(os.environ["XDG_RUNTIME_DIR"]) / SHORT_NAME)
    candidates.append(cache_dir() / "run")
    problem: OSError | None = None
    for folder in candidates:
        try:
            parent = folder.parent
            if folder is candidates[0] and len(candidates) > 1:
                check_private_parent(parent)
            return private_dir(folder)
        except OSError as e:
            problem = e
    raise InsecureFolder(f"no private runtime folder could be made ({problem})")


def check_private_parent(folder: Path) -> None:
    """``$XDG_RUNTIME_DIR`` (or ``$TMPDIR`` on macOS) must itself be ours and closed to others."""
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise InsecureFolder(f"{folder} is not a folder")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise InsecureFolder(f"{folder} belongs to another user")
    if stat.S_IMODE(st.st_mode) & 0o022:
        raise InsecureFolder(f"{folder} can be written by others")


def private_dir(folder: Path) -> Path:
    """``folder``, made 0700 if missing; InsecureFolder if it is a link, another user's, or open to others."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise InsecureFolder(f"{folder} is not a real folder (a link or a file); refused")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise InsecureFolder(f"{folder} belongs to another user; refused")
    if stat.S_IMODE(st.st_mode) & 0o077:  # ours but open: close it
        os.chmod(folder, 0o700)
    return folder


# ------------------------------------------------------------------ temporary files
def temp_root() -> Path:
    """The private parent of every temporary folder this user's app processes make."""
    return private_dir(runtime_dir() / "tmp")


def _process_tag(pid: int | None = None) -> str | None:
    import psutil

    pid = os.getpid() if pid is None else pid
    try:
        return f"{pid}-{int(psutil.Process(pid).create_time())}"
    except (psutil.Error, OSError):
        return None


def new_temp_dir(kind: str) -> Path:
    """A fresh private folder for this process's temporary files of one kind (``clipboard``, ``upload``…)."""
    tag = _process_tag() or str(os.getpid())
    owner = private_dir(temp_root() / tag)
    return Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=owner))


def sweep_temp() -> int:
    """Remove the temporary folders of processes that are gone (a crash, a kill). Returns how many went."""
    try:
        root = temp_root()
    except OSError:
        return 0
    removed = 0
    for entry in list(root.iterdir()):
        pid_text = entry.name.split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        if _process_tag(int(pid_text)) == entry.name:
            continue  # that process still runs
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
    return removed
