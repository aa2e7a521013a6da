"""``ocr-tray ocr --format`` and ``--task``: each page converted from its answer format, and the task's prompt
reaching the model (seen in the history and in the prompt the model was given), never the random model's text."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from engine.cli.output import Output
from engine.history import HistoryStore, default_path
from engine.jobs import PageResult, PageSource
from engine.testing import samples as documents
from tests.engine.formats import samples

REVISION = "0123456789abcdef0123456789abcdef01234567"


# ------------------------------------------------------------------ the output, on recorded answers
def _write(fmt, pages, cut_after=None, output="otsl"):
    stream = io.StringIO()
    out = Output(stream, fmt=fmt, output=output)
    for page in pages:
        out.page_started(page.path, page.page, page.pages)
        out.text(page.text[: len(page.text) // 2])
        out.text(page.text[len(page.text) // 2:])
        if cut_after is not None and page.page == cut_after:
            out.cut("interrupted")
            break
        out.page_done(page)
    return stream.getvalue()


PAGES = [PageResult(1, "/d/r.pdf", 1, 2, samples.OTSL_SPANNED, PageSource.MODEL, output="otsl"),
         PageResult(1, "/d/r.pdf", 2, 2, "Signed by the board.", PageSource.TEXT_LAYER, output="plain")]


def test_text_format_writes_each_page_converted_under_its_header():
    text = _write("text", PAGES)
    assert text.startswith("\n--- /d/r.pdf · page 1 of 2 ---\nRegion\t2023\t\t2024\t\n\tH1\tH2\tH1\tH2\n")
    assert "\n--- /d/r.pdf · page 2 of 2 ---\nSigned by the board.\n" in text
    assert "<fcel>" not in text


def test_markdown_html_and_json_formats():
    md = _write("markdown", PAGES)
    assert "## /d/r.pdf · page 1 of 2\n\n<table>" in md and 'colspan="2"' in md  # spans: an HTML table
    html = _write("html", PAGES)
    assert html.startswith("<!DOCTYPE html>") and html.count("<section>") == 2 and html.count("<!DOCTYPE") == 1
    assert '<td rowspan="2">Region</td>' in html
    rows = [json.loads(line) for line in _write("json", PAGES).splitlines()]
    assert [(r["format"], r["source"]) for r in rows] == [("otsl", "model"), ("plain", "text-layer")]
    assert rows[0]["raw"] == samples.OTSL_SPANNED and rows[0]["text"].startswith("Region\t2023")
    assert rows[0]["blocks"][0]["type"] == "table" and rows[0]["blocks"][0]["rows"][0][0]["rowspan"] == 2


def test_a_page_cut_short_is_written_as_far_as_it_came():
    cut = PageResult(1, "/d/r.pdf", 1, 1, samples.OTSL_SIMPLE[:44], PageSource.MODEL)  # "…<nl><fcel>Appl"
    text = _write("text", [cut], cut_after=1)
    assert text == "\n--- /d/r.pdf · page 1 of 1 ---\nName\tQty\tPrice\nAppl\t\t\n— interrupted —\n"
    assert _write("json", [cut], cut_after=1) == ""  # a JSON line is a finished page


def test_without_a_format_the_answer_streams_as_before():
    stream = io.StringIO()
    out = Output(stream)
    out.page_started("/d/r.pdf", 1, 1)
    out.text("<fcel>a")
    out.page_done(PAGES[0])
    assert stream.getvalue() == "\n--- /d/r.pdf · page 1 of 1 ---\n<fcel>a\n"


# ------------------------------------------------------------------ the command line, for real
def ocr_tray(*args, env=None, timeout=180):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **(env or {}))
    return subprocess.run([sys.executable, "-m", "desktop.main", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.mark.slow
def test_each_format_on_a_mixed_pdf_and_the_json_round_trip(tiny_model_dir, tmp_path):
    pdf = documents.write_pdf(tmp_path / "mixed.pdf", pages=3, text_pages={2})
    common = ("ocr", pdf, "--model", tiny_model_dir, "--max-tokens", "5", "--standalone", "-q")
    plain_json = ocr_tray(*common, "--json")
    assert plain_json.returncode == 0, plain_json.stderr
    before = [json.loads(line) for line in plain_json.stdout.splitlines()]
    for r in before:  # --json as it has always been
        assert set(r) == {"path", "page", "pages", "text", "source", "prompt_tokens", "generation_tokens", "seconds"}

    run = ocr_tray(*common, "--format", "json")
    assert run.returncode == 0, run.stderr
    pages = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(p["page"], p["pages"], p["source"], p["format"]) for p in pages] == [
        (1, 3, "model", "markdown"), (2, 3, "text-layer", "plain"), (3, 3, "model", "markdown")]
    assert [p["raw"] for p in pages] == [r["text"] for r in before]  # the raw text, as --json gives it
    assert "Page 2" in pages[1]["text"] and pages[1]["blocks"] == [{"type": "paragraph", "text": pages[1]["text"]}]
    for page in pages:
        assert set(before[0]) <= set(page) and {"raw", "format", "blocks", "boxes"} <= set(page)

    headers = [f"{pdf} · page {n} of 3" for n in (1, 2, 3)]
    text = ocr_tray(*common, "--format", "text")
    assert text.returncode == 0 and [line for line in text.stdout.splitlines() if line.startswith("--- ")] == [
        f"--- {h} ---" for h in headers]
    assert pages[1]["text"] in text.stdout
    md = ocr_tray(*common, "--format", "markdown")
    assert md.returncode == 0 and [line for line in md.stdout.splitlines() if line.startswith("## ")] == [
        f"## {h}" for h in headers]
    html = ocr_tray(*common, "--format", "html")
    assert html.returncode == 0 and html.stdout.startswith("<!DOCTYPE html>") and html.stdout.count("<section>") == 3
    bad = ocr_tray(*common, "--format", "docx")
    assert bad.returncode == 2 and "invalid choice: 'docx'" in bad.stderr


@pytest.fixture
def paddle_cache(tiny_model_dir, tmp_path):
    """A Hugging Face cache in which the PaddleOCR-VL preset's repo is the tiny test model (no download)."""
    repo = tmp_path / "hf" / "hub" / "models--mlx-community--PaddleOCR-VL-1.5-bf16"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / REVISION)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return {"HF_HOME": str(tmp_path / "hf")}


@pytest.mark.slow
def test_task_reaches_the_models_prompt_and_the_history(paddle_cache, tmp_path):
    png = documents.write_png(tmp_path / "table.png")
    common = ("ocr", png, "--model", "paddleocr-vl", "--max-tokens", "4", "--format", "json", "--no-memory-check",
              "-q")
    runs = {}
    for task in ("text", "table", "formula"):
        run = ocr_tray(*common, "--task", task, env=paddle_cache)
        assert run.returncode == 0, run.stderr
        [runs[task]] = [json.loads(line) for line in run.stdout.splitlines()]
    assert {t: r["format"] for t, r in runs.items()} == {"text": "plain", "table": "otsl", "formula": "latex"}
    # the model was given each task's own prompt: "OCR:", "Table Recognition:", "Formula Recognition:"
    assert runs["text"]["prompt_tokens"] < runs["table"]["prompt_tokens"]
    store = HistoryStore(default_path())
    try:
        mine = [d for d in store.documents() if d.path == str(png)][:3]  # newest first
        assert [(d.options["task"], d.options["prompt"]) for d in mine] == [
            ("formula", "Formula Recognition:"), ("table", "Table Recognition:"), ("text", "OCR:")]
        assert [store.pages(d.id)[0].output for d in mine] == ["latex", "otsl", "plain"]
        assert store.pages(mine[1].id)[0].text == runs["table"]["raw"]  # kept raw, as the model wrote it
    finally:
        store.close()


@pytest.mark.slow
def test_a_task_the_model_does_not_have_is_a_one_line_error(paddle_cache, tiny_model_dir, tmp_path):
    png = documents.write_png(tmp_path / "x.png")
    run = ocr_tray("ocr", png, "--model", "paddleocr-vl", "--task", "markdown", env=paddle_cache)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip() == ("error: --task 'markdown': PaddleOCR-VL 1.5 has the tasks text, table, formula, "
                                  "chart (the first is its default)")
    custom = ocr_tray("ocr", png, "--model", tiny_model_dir, "--task", "table")
    assert custom.returncode == 2 and "a custom model has no tasks" in custom.stderr
    both = ocr_tray("ocr", png, "--model", "paddleocr-vl", "--task", "table", "--prompt", "Read.", env=paddle_cache)
    assert both.returncode == 2 and "--task and --prompt cannot be used together" in both.stderr
