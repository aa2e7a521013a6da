"""The app's folders: per platform, per user, private; temporary files swept after a crash."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from engine import paths


def test_platform_folders(monkeypatch, tmp_path):
    for var in ("OCR_TRAY_DATA_DIR", "OCR_TRAY_LOG_DIR", "OCR_TRAY_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", "/d")
    monkeypatch.setenv("XDG_STATE_HOME", "/s")
    monkeypatch.setenv("XDG_CACHE_HOME", "/c")
    assert (str(paths.data_dir()), str(paths.log_dir()), str(paths.cache_dir())) == (
        "/d/OCR Tray", "/s/ocr-tray/log", "/c/ocr-tray")
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.data_dir() == tmp_path / "Library" / "Application Support" / "OCR Tray"
    assert paths.log_dir() == tmp_path / "Library" / "Logs" / "OCR Tray"
    assert paths.cache_dir() == tmp_path / "Library" / "Caches" / "OCR Tray"


def test_private_dir_is_made_0700_and_an_open_one_is_closed(tmp_path):
    made = paths.private_dir(tmp_path / "a" / "b")
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    os.chmod(made, 0o777)
    paths.private_dir(made)
    assert stat.S_IMODE(made.stat().st_mode) == 0o700


def test_private_dir_refuses_a_link_and_a_file(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "file").write_text("x")
    for name in ("link", "file"):
        with pytest.raises(paths.InsecureFolder):
            paths.private_dir(tmp_path / name)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can make a folder owned by another user here")
def test_private_dir_refuses_another_users_folder(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)  # nobody
    with pytest.raises(paths.InsecureFolder, match="another user"):
        paths.private_dir(theirs)


def test_runtime_dir_uses_a_private_xdg_runtime_dir_and_not_a_shared_one(monkeypatch, tmp_path):
    monkeypatch.delenv("OCR_TRAY_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("OCR_TRAY_CACHE_DIR", str(tmp_path / "cache"))
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    assert paths.runtime_dir() == xdg / "ocr-tray"
    os.chmod(xdg, 0o777)  # a runtime dir others can write to is not trusted: the cache's run/ instead
    assert paths.runtime_dir() == tmp_path / "cache" / "run"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert paths.runtime_dir() == tmp_path / "cache" / "run"
    assert stat.S_IMODE((tmp_path / "cache" / "run").stat().st_mode) == 0o700


def test_temp_folders_of_dead_processes_are_swept_and_live_ones_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("OCR_TRAY_RUNTIME_DIR", str(tmp_path / "run"))
    mine = paths.new_temp_dir("clipboard")
    (mine / "Clipboard image 1.png").write_bytes(b"png")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    left = paths.temp_root() / f"{pid}-12345"
    (left / "clipboard-x").mkdir(parents=True)
    (left / "clipboard-x" / "secret.png").write_bytes(b"left by a crash")
    assert paths.sweep_temp() == 1
    assert not left.exists() and mine.exists()
