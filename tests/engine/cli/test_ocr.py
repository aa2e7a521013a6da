"""The headless CLI in a real subprocess: JSON per page, streaming text, bad input, self-test."""

import json
import os
import subprocess
import sys

import pytest

from engine.jobs import PageSource
from engine.testing import samples

pytestmark = pytest.mark.slow


def ocr_tray(*args, timeout=180):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "desktop.main", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


def test_ocr_json_prints_one_object_per_page(tiny_model_dir, tmp_path):
    pdf = samples.write_pdf(tmp_path / "a.pdf", pages=3, text_pages={1})
    run = ocr_tray("ocr", pdf, "--model", tiny_model_dir, "--max-tokens", "5", "--json")
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(r["page"], r["pages"]) for r in rows] == [(1, 3), (2, 3), (3, 3)]
    assert [r["source"] for r in rows] == [PageSource.TEXT_LAYER, PageSource.MODEL, PageSource.MODEL]
    for r in rows:
        assert set(r) == {"path", "page", "pages", "text", "source", "prompt_tokens", "generation_tokens", "seconds"}
        assert r["path"] == str(pdf)
        assert r["generation_tokens"] <= 5


def test_ocr_text_has_page_separators(tiny_model_dir, tmp_path):
    png = samples.write_png(tmp_path / "x.png")
    run = ocr_tray("ocr", png, "--model", tiny_model_dir, "--max-tokens", "3")
    assert run.returncode == 0, run.stderr
    assert f"--- {png} · page 1 of 1 ---" in run.stdout


def test_bad_inputs_exit_nonzero_after_doing_the_others(tiny_model_dir, tmp_path):
    good = samples.write_png(tmp_path / "good.png")
    bad = tmp_path / "corrupt.pdf"
    bad.write_bytes(b"%PDF-1.7 nothing else")
    other = tmp_path / "table.csv"
    other.write_text("a,b\n1,2\n")
    run = ocr_tray("ocr", tmp_path / "missing.jpg", bad, other, good, "--model", tiny_model_dir,
                   "--max-tokens", "3", "--json")
    assert run.returncode == 1
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["path"] for r in rows] == [str(good)]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3
    for name in ("missing.jpg", "corrupt.pdf", "table.csv"):
        assert any(line.startswith(f"error: {name}: ") for line in errors), run.stderr


def test_missing_model_is_a_clear_error(tmp_path):
    png = samples.write_png(tmp_path / "x.png")
    run = ocr_tray("ocr", png, "--model", tmp_path / "nowhere")
    assert run.returncode == 1
    assert "x.png: not processed" in run.stderr and "nowhere" in run.stderr


def test_self_test_exits_zero():
    run = ocr_tray("--self-test", timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "self-test ok: 3 pages" in run.stdout


def test_version():
    run = ocr_tray("--version")
    assert run.returncode == 0 and run.stdout.strip() == "ocr-tray 0.1.0"
