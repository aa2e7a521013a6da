"""``ocr-tray ocr`` as a client of the running app: no second model, the same bytes, ``--standalone`` still there;
``ocr-tray status`` and ``ocr-tray unload`` talk to the app."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from engine.api import discovery
from engine.jobs import Client, JobStatus, PageSource
from engine.lifecycle import State
from engine.testing import samples
from tests.engine.api.conftest import make_api, make_settings, runtime_dir  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


def ocr_tray(api, *args, timeout=180):
    """The command line in a subprocess, run while this (GUI) thread serves the API."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")

    def run():
        return subprocess.run([sys.executable, "-m", "desktop.main", *map(str, args)], capture_output=True,
                              timeout=timeout, env=env)

    return api.call(run, timeout_ms=timeout * 1000) if api is not None else run()


def test_cli_answers_from_the_running_app_without_a_second_model(make_api, tmp_path):
    api = make_api()
    png = samples.write_png(tmp_path / "one.png")
    first = ocr_tray(api, "ocr", png, "--max-tokens", "3")
    assert first.returncode == 0, first.stderr
    assert f"--- {png} · page 1 of 1 ---".encode() in first.stdout
    second = ocr_tray(api, "ocr", png, "--max-tokens", "3", "--json")
    assert second.returncode == 0, second.stderr
    [row] = [json.loads(line) for line in second.stdout.splitlines()]
    assert row["path"] == str(png) and row["source"] == PageSource.MODEL and row["generation_tokens"] <= 3
    ended = [p for n, p in api.events if n == "jobEnded"]
    assert [(p.client, p.status) for p in ended] == [(Client.API, JobStatus.DONE)] * 2
    assert [p.options.max_tokens for p in ended] == [3, 3]
    infos = [p for n, p in api.events if n == "jobQueued"]
    assert all(i.client_name.startswith("ocr-tray-cli/") for i in infos)
    assert api.engine.status.loads == 1  # one model for every client: the CLI loaded none
    assert api.engine.status.state is State.READY


def test_output_is_byte_identical_to_standalone_for_a_text_layer_pdf(make_api, tmp_path, tiny_model_dir):
    api = make_api()
    pdf = samples.write_pdf(tmp_path / "born-digital.pdf", pages=3, text_pages={1, 2, 3})
    for extra in ([], ["--json"]):
        remote = ocr_tray(api, "ocr", pdf, *extra)
        alone = ocr_tray(api, "ocr", pdf, "--standalone", "--model", tiny_model_dir, *extra)
        assert remote.returncode == alone.returncode == 0, remote.stderr + alone.stderr
        assert remote.stdout == alone.stdout and remote.stdout
    assert len([p for n, p in api.events if n == "jobEnded"]) == 2  # --standalone did not go through the app
    assert api.engine.status.loads == 1  # the app loaded once for both of its jobs


def test_formats_go_through_the_app_and_match_standalone(make_api, tmp_path, tiny_model_dir):
    """--format asks the running app too (no second model): each page comes back with its answer format
    and is converted here exactly as a standalone run converts it."""
    api = make_api()
    pdf = samples.write_pdf(tmp_path / "born-digital.pdf", pages=2, text_pages={1, 2})
    for fmt in ("markdown", "json", "html"):
        remote = ocr_tray(api, "ocr", pdf, "--format", fmt)
        alone = ocr_tray(api, "ocr", pdf, "--standalone", "--model", tiny_model_dir, "--format", fmt)
        assert remote.returncode == alone.returncode == 0, remote.stderr + alone.stderr
        assert remote.stdout == alone.stdout and remote.stdout, fmt
    png = samples.write_png(tmp_path / "scan.png")
    read = ocr_tray(api, "ocr", png, "--max-tokens", "3", "--format", "json")
    assert read.returncode == 0, read.stderr
    [page] = [json.loads(line) for line in read.stdout.splitlines()]
    assert page["source"] == PageSource.MODEL and page["format"] and "raw" in page and "blocks" in page
    assert len([p for n, p in api.events if n == "jobEnded"]) == 4  # every --format run but --standalone's
    assert api.engine.status.loads == 1
    bad = ocr_tray(api, "ocr", png, "--task", "table")  # a custom model has no tasks: a usage error, at once
    assert bad.returncode == 2 and b"has no tasks" in bad.stderr


def test_standalone_and_no_app_read_in_process(make_api, tmp_path, tiny_model_dir, runtime_dir):
    png = samples.write_png(tmp_path / "x.png")
    alone = ocr_tray(None, "ocr", png, "--model", tiny_model_dir, "--max-tokens", "2", "--json")
    assert alone.returncode == 0, alone.stderr  # no app: as before
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    discovery.write(discovery.Discovery(9, "t", gone.pid, "0.1.0"), runtime_dir / discovery.FILE_NAME)
    stale = ocr_tray(None, "ocr", png, "--model", tiny_model_dir, "--max-tokens", "2", "--json")
    assert stale.returncode == 0, stale.stderr  # a discovery file left by a dead app is ignored
    assert json.loads(stale.stdout)["path"] == str(png)


def test_a_failing_file_fails_the_run_after_the_others(make_api, tmp_path):
    api = make_api()
    good = samples.write_png(tmp_path / "good.png")
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7 nothing else")
    run = ocr_tray(api, "ocr", tmp_path / "missing.png", bad, good, "--json", "--max-tokens", "2")
    assert run.returncode == 1
    assert [json.loads(line)["path"] for line in run.stdout.splitlines()] == [str(good)]
    errors = [line for line in run.stderr.decode().splitlines() if line.startswith("error: ")]
    assert len(errors) == 2 and any("missing.png" in e for e in errors) and any("bad.pdf" in e for e in errors)


def test_status_and_unload_commands(make_api, tmp_path):
    api = make_api()
    png = samples.write_png(tmp_path / "a.png")
    assert ocr_tray(api, "ocr", png, "--max-tokens", "2").returncode == 0
    status = ocr_tray(api, "status", "--json")
    assert status.returncode == 0, status.stderr
    s = json.loads(status.stdout)
    assert s["state"] == State.READY and s["loads"] == 1 and s["memory"]["rss"] > 0
    human = ocr_tray(api, "status")
    assert b"state: ready" in human.stdout
    unload = ocr_tray(api, "unload")
    assert unload.returncode == 0 and unload.stdout.strip() == b"model unloaded"
    api.qtbot.waitUntil(lambda: api.engine.status.state is State.UNLOADED, timeout=30_000)


def test_status_without_an_app_says_so(runtime_dir):
    for command in ("status", "unload"):
        run = ocr_tray(None, command)
        assert run.returncode == 1 and b"not running" in run.stderr
