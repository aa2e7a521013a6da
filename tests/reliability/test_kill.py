"""The kill test: `ocr-tray ocr` on a 20-page scanned PDF is SIGKILLed after page 5; the history keeps
pages 1–5 exactly as printed, lists the document as interrupted, and a resume reads only the rest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from engine.jobs import DocumentStatus, JobStatus, PageSource
from engine.testing import samples

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = 20
KILL_AFTER = 5
TOKENS = "16"


def _env(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_DATA_HOME=str(tmp_path / "xdg-data"),
               XDG_CONFIG_HOME=str(tmp_path / "xdg-config"))
    env.pop("OCR_TRAY_DATA_DIR", None)  # the platform's own app-data folder (under XDG_DATA_HOME on Linux)
    if sys.platform == "darwin":  # macOS ignores XDG: point the app-data folder into the temp dir
        env["OCR_TRAY_DATA_DIR"] = str(tmp_path / "xdg-data" / "OCR Tray")
    return env


def _ocr_tray(env, *args, timeout=180):
    run = subprocess.run([sys.executable, "-m", "desktop.main", *map(str, args)], capture_output=True, text=True,
                         timeout=timeout, env=env, cwd=ROOT)
    return run


def test_sigkill_after_page_five_then_resume(tiny_model_dir, tmp_path):
    env = _env(tmp_path)
    pdf = samples.write_pdf(tmp_path / "twenty.pdf", pages=PAGES, text_pages=set())
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop.main", "ocr", str(pdf), "--model", str(tiny_model_dir),
         "--max-tokens", TOKENS, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    printed = []
    deadline = time.monotonic() + 180
    try:
        while len(printed) < KILL_AFTER:
            assert time.monotonic() < deadline, "no page 5 within 180 s"
            line = proc.stdout.readline()
            assert line, f"ocr-tray stopped early: {proc.stderr.read()}"
            printed.append(json.loads(line))
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert [p["page"] for p in printed] == list(range(1, KILL_AFTER + 1))

    # the history (in the XDG data folder) has the document as interrupted, pages 1–5 intact
    db = tmp_path / "xdg-data" / "OCR Tray" / "history.sqlite3"
    assert db.exists()
    listed = _ocr_tray(env, "history", "--json")
    assert listed.returncode == 0, listed.stderr
    [doc] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert doc["status"] == DocumentStatus.INTERRUPTED and doc["path"] == str(pdf) and doc["pages"] == PAGES
    done_before = doc["pages_done"]
    assert done_before[:KILL_AFTER] == list(range(1, KILL_AFTER + 1))
    assert done_before == list(range(1, len(done_before) + 1)) and len(done_before) < PAGES
    shown = _ocr_tray(env, "history", "show", doc["id"], "--json")
    stored = {p["page"]: p for p in map(json.loads, shown.stdout.splitlines())}
    for p in printed:
        assert stored[p["page"]]["text"] == p["text"]
        assert stored[p["page"]]["source"] == p["source"] == PageSource.MODEL
        assert stored[p["page"]]["generation_tokens"] == p["generation_tokens"]
    text_listing = _ocr_tray(env, "history")
    assert "interrupted" in text_listing.stdout and f"history resume {doc['id']}" in text_listing.stdout

    # resume: only the missing pages are read, into the same record
    resumed = _ocr_tray(env, "history", "resume", doc["id"], "--model", tiny_model_dir, "--max-tokens", TOKENS,
                        "--json")
    assert resumed.returncode == 0, resumed.stderr
    new_pages = [json.loads(line)["page"] for line in resumed.stdout.splitlines()]
    assert new_pages == [n for n in range(1, PAGES + 1) if n not in done_before]
    listed = _ocr_tray(env, "history", "--json")
    [after] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert after["id"] == doc["id"] and after["status"] == JobStatus.DONE
    assert after["pages_done"] == list(range(1, PAGES + 1)) and after["missing"] == []
    shown = _ocr_tray(env, "history", "show", doc["id"], "--json")
    final = {p["page"]: p["text"] for p in map(json.loads, shown.stdout.splitlines())}
    assert all(final[p["page"]] == p["text"] for p in printed)  # the first pages were not redone
    assert sorted(final) == list(range(1, PAGES + 1))
