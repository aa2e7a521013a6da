"""Tasks and answer formats through the engine: the task a job asks for, the format each page leaves with (to every
client and into the history), and the exports built on them (engine.page_formats)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import pytest
from PySide6.QtCore import QSettings

from engine.controller import JobController
from engine.formats import CUSTOM_TASK_OUTPUT
from engine.history import MIGRATIONS, HistoryStore, migrate
from engine.jobs import JobStatus, OcrOptions, PageResult, PageSource
from engine.models.presets import ModelSpec, preset
from engine.page_formats import convert_page, export, page_output, page_record, resolve_task, with_output
from engine.settings import DEFAULT_TASK, Settings, options_from
from engine.testing import samples as documents
from tests.engine.formats import samples
from tests.engine.test_controller import FakeEngine

PADDLE = ModelSpec.from_preset(preset("paddleocr-vl"))
DEEPSEEK = ModelSpec.from_preset(preset("deepseek-ocr"))
CUSTOM = ModelSpec.resolve("/models/mine", "Read it.")


# ------------------------------------------------------------------ the task a job asks for
@pytest.mark.parametrize(("options", "spec", "prompt", "task", "output"), [
    (OcrOptions(), PADDLE, "OCR:", "text", "plain"),  # the default task: the prompt the app always sent
    (OcrOptions(task="table"), PADDLE, "Table Recognition:", "table", "otsl"),
    (OcrOptions(task="formula"), PADDLE, "Formula Recognition:", "formula", "latex"),
    (OcrOptions(task="formula"), DEEPSEEK, "<|grounding|>Convert the document to markdown.", "markdown",
     "grounded-markdown"),  # a task this model does not have: its default
    (OcrOptions(task="text"), DEEPSEEK, "Free OCR.", "text", "plain"),
    (OcrOptions(prompt="Chart Recognition:"), PADDLE, "Chart Recognition:", "chart", "pipe-table"),  # a resume
    (OcrOptions(prompt="Describe it."), PADDLE, "Describe it.", None, CUSTOM_TASK_OUTPUT.value),
    (OcrOptions(task="table"), CUSTOM, None, None, CUSTOM_TASK_OUTPUT.value),  # its own prompt, no tasks
    (OcrOptions(), replace(PADDLE, prompt="Read the page."), None, None, CUSTOM_TASK_OUTPUT.value),  # --prompt
])
def test_a_jobs_task_becomes_its_prompt_and_answer_format(options, spec, prompt, task, output):
    resolved = resolve_task(options, spec)
    assert (resolved.prompt, resolved.task, resolved.output) == (prompt, task, output)
    assert resolve_task(resolved, DEEPSEEK) == resolved  # resolved once: a retry keeps it


def test_the_task_setting_reaches_the_options():
    values = {"ocr/task": "table"}
    assert options_from(values).task == "table"
    assert options_from({"ocr/task": DEFAULT_TASK}).task is None
    assert OcrOptions(task="table", output="otsl").as_json()["output"] == "otsl"  # kept with the history


# ------------------------------------------------------------------ each page's format
def test_a_pages_format_a_text_layer_is_plain_and_an_unknown_one_reads_as_markdown():
    model = PageResult(1, "/d/a.png", 1, 1, samples.OTSL_SIMPLE, PageSource.MODEL, output="otsl")
    assert page_output(model).value == "otsl" and convert_page(model).blocks[0].n_rows == 3
    layer = PageResult(1, "/d/a.pdf", 1, 1, "<fcel>x", PageSource.TEXT_LAYER)
    assert with_output(layer, "otsl").output == "plain"  # a text layer's own text is never an answer format
    assert with_output(replace(model, output=""), "latex").output == "latex"
    assert page_output(replace(model, output="")) is CUSTOM_TASK_OUTPUT
    assert page_output(replace(model, output="no-such-format")) is CUSTOM_TASK_OUTPUT


def test_page_record_has_the_raw_answer_the_converted_text_and_the_boxes():
    page = PageResult(3, "/d/sheet.png", 1, 1, samples.DEEPSEEK_GROUNDED, PageSource.MODEL, generation_tokens=120,
                      seconds=4.0, output="grounded-markdown")
    record = page_record(page)
    assert record["raw"] == samples.DEEPSEEK_GROUNDED and "<|ref|>" not in record["text"]
    assert record["format"] == "grounded-markdown" and record["generation_tokens"] == 120
    assert record["boxes"][0] == {"label": "title", "x1": 115 / 999, "y1": 166 / 999, "x2": 488 / 999,
                                  "y2": 202 / 999}
    assert {b["type"] for b in record["blocks"]} >= {"heading", "paragraph", "formula", "table"}
    assert set(page.as_json()) <= set(record)  # --json's fields, all of them


def test_exports_of_a_document():
    pages = [PageResult(1, "/d/r.pdf", 1, 2, samples.OTSL_SIMPLE, PageSource.MODEL, output="otsl"),
             PageResult(1, "/d/r.pdf", 2, 2, "Signed.\n\nThe board", PageSource.TEXT_LAYER)]
    assert export(pages, "plain") == "Name\tQty\tPrice\nApple\t3\t1.20\nPear\t5\t0.90\n\nSigned.\n\nThe board\n"
    assert export(pages, "txt").startswith("--- r.pdf · page 1 of 2 ---\n\nName\tQty")
    assert "--- r.pdf · page 2 of 2 (text layer) ---\n\nSigned." in export(pages, "txt")
    assert export(pages, "md").startswith("## r.pdf · page 1 of 2\n\n| Name | Qty | Price |\n| --- | --- | --- |")
    assert export(pages, "csv") == "Name,Qty,Price\r\nApple,3,1.20\r\nPear,5,0.90\r\n"
    html = export(pages, "html")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>") and "<td>Apple</td>" in html
    back = json.loads(export(pages, "json"))
    assert [(p["heading"], p["source"], p["format"], p["raw"]) for p in back["pages"]] == [
        ("r.pdf · page 1 of 2", "model", "otsl", samples.OTSL_SIMPLE),
        ("r.pdf · page 2 of 2 (text layer)", "text-layer", "plain", "Signed.\n\nThe board")]
    with pytest.raises(ValueError):
        export(pages + pages, "csv")  # two tables: a CSV holds one


# ------------------------------------------------------------------ the controller
@pytest.fixture
def settings(tmp_path):
    return Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def controller(qapp, settings, monkeypatch, tmp_path):
    monkeypatch.setenv("OCR_TRAY_RUNTIME_DIR", str(tmp_path / "run"))
    engine = FakeEngine()
    c = JobController(engine, settings)
    yield c
    c.shutdown()


def test_the_chosen_task_reaches_each_job_and_its_pages_leave_with_its_format(controller, settings, tmp_path):
    engine = controller.engine
    settings.set("ocr/task", "table")
    [job] = controller.submit_files([documents.write_png(tmp_path / "a.png")])
    options = engine.jobs[job].options
    assert (options.prompt, options.task, options.output) == ("Table Recognition:", "table", "otsl")
    pages, ended = [], []
    controller.pageFinished.connect(pages.append)
    controller.jobEnded.connect(ended.append)
    engine.pageFinished.emit(PageResult(job, "/d/a.png", 1, 2, "<fcel>x<nl>", PageSource.MODEL))
    engine.pageFinished.emit(PageResult(job, "/d/a.png", 2, 2, "layer", PageSource.TEXT_LAYER))
    assert [p.output for p in pages] == ["otsl", "plain"]
    result = engine.end(job)
    assert ended[0].job_id == result.job_id


def test_a_new_model_without_the_chosen_task_goes_back_to_its_default(controller, settings):
    settings.set("ocr/task", "formula")
    settings.set("model/preset", "glm-ocr")  # has a formula task: kept
    assert settings.get("ocr/task") == "formula"
    settings.set("model/preset", "deepseek-ocr")  # has none
    assert settings.get("ocr/task") == DEFAULT_TASK
    settings.set("ocr/task", "chart")
    settings.set("model/preset", "custom")  # a custom model has no tasks: the choice waits for a preset
    assert settings.get("ocr/task") == "chart"


# ------------------------------------------------------------------ the history
def test_each_page_is_stored_with_its_format_and_read_back_with_it(tmp_path):
    store = HistoryStore(tmp_path / "history.sqlite3")
    pdf = str(documents.write_pdf(tmp_path / "a.pdf", pages=3, text_pages={2}))
    options = resolve_task(OcrOptions(task="table"), PADDLE)
    record = store.start_document(pdf, 3, "PaddleOCR-VL 1.5", options=options)
    store.add_page(record, PageResult(1, pdf, 1, 3, samples.OTSL_SIMPLE, PageSource.MODEL))
    store.add_page(record, PageResult(1, pdf, 2, 3, "layer", PageSource.TEXT_LAYER))
    store.finish_document(record, JobStatus.CANCELLED)
    assert [(p.page, p.output, p.text) for p in store.pages(record)] == [
        (1, "otsl", samples.OTSL_SIMPLE), (2, "plain", "layer")]  # the raw text as it was produced
    kept = store.document(record).options
    assert (kept["task"], kept["prompt"], kept["output"]) == ("table", "Table Recognition:", "otsl")
    # a resume reads the missing page with the same task, whatever the window's task is today
    resumed = resolve_task(store.resume_plan(record).options(OcrOptions(task="formula")), PADDLE)
    assert (resumed.pages, resumed.prompt, resumed.output) == (frozenset({3}), "Table Recognition:", "otsl")
    store.close()


def test_migration_4_gives_stored_pages_the_format_they_were_read_in(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    migrate(db, MIGRATIONS[:3])
    for i, source in enumerate(("mlx-community/PaddleOCR-VL-1.5-bf16", "mlx-community/DeepSeek-OCR-8bit",
                                "/models/mine"), 1):
        db.execute("INSERT INTO documents (id, path, name, pages, status, started, model_source)"
                   " VALUES (?, ?, ?, 2, 'done', 0, ?)", (i, b"/d/x.pdf", "x.pdf", source))
        db.execute("INSERT INTO pages (document_id, page, text, source, finished) VALUES (?, 1, 'a', 'model', 0)",
                   (i,))
        db.execute("INSERT INTO pages (document_id, page, text, source, finished) VALUES (?, 2, 'b', 'text-layer', 0)",
                   (i,))
    assert migrate(db, MIGRATIONS[:4]) == 4
    rows = db.execute("SELECT document_id, page, output FROM pages ORDER BY document_id, page").fetchall()
    assert rows == [(1, 1, "plain"), (1, 2, "plain"), (2, 1, "grounded-markdown"), (2, 2, "plain"),
                    (3, 1, "markdown"), (3, 2, "plain")]
    db.close()
