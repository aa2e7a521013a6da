"""Each endpoint over real HTTP against a real engine (tiny model): answers, streams, errors, status codes."""

from __future__ import annotations

import json

import pytest

from engine.jobs import ErrorKind, JobStatus, PageSource
from engine.lifecycle import State
from engine.testing import samples

from .conftest import temp_files, upload_root

pytestmark = pytest.mark.slow

PAGE_FIELDS = {"path", "page", "pages", "text", "source", "prompt_tokens", "generation_tokens", "seconds", "model",
               "first_token_seconds", "tokens_per_second"}


def test_ocr_by_path_answers_one_document_with_the_cli_page_fields(make_api, tmp_path):
    api = make_api()
    pdf = samples.write_pdf(tmp_path / "two.pdf", pages=2, text_pages={1})
    r = api.request("POST", "/v1/ocr", json={"path": str(pdf), "max_tokens": 4})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["status"] == JobStatus.DONE and doc["path"] == str(pdf) and doc["page_count"] == 2
    assert [set(p) for p in doc["pages"]] == [PAGE_FIELDS | {"format"}] * 2
    assert [p["source"] for p in doc["pages"]] == [PageSource.TEXT_LAYER, PageSource.MODEL]
    # the format a client converts each page's text with: plain for a text layer, the task's for the model's
    assert [p["format"] for p in doc["pages"]] == ["plain", ended_output(api)]
    assert "Page 1" in doc["pages"][0]["text"]  # the text layer's own words
    assert doc["pages"][1]["generation_tokens"] <= 4
    assert "access-control-allow-origin" not in r.headers
    [ended] = [p for n, p in api.events if n == "jobEnded"]
    assert (ended.job_id, ended.client, ended.options.max_tokens) == (doc["job_id"], "api", 4)


def ended_output(api) -> str:
    [ended] = [p for n, p in api.events if n == "jobEnded"]
    return ended.options.output


def test_a_task_is_checked_against_the_apps_model(make_api, tmp_path):
    from engine.api.errors import ApiError
    from engine.api.schemas import check_task
    from engine.models.presets import ModelSpec, preset

    paddle = ModelSpec.from_preset(preset("paddleocr-vl"))
    assert check_task("table", paddle, False) == "table" and check_task("default", paddle, False) == "text"
    for task, prompt, words in (("markdown", False, "has the tasks text, table, formula, chart"),
                                ("table", True, "task and prompt cannot be used together")):
        with pytest.raises(ApiError, match=words):
            check_task(task, paddle, prompt)
    api = make_api()  # the tiny model, a custom model: no tasks
    png = samples.write_png(tmp_path / "p.png")
    r = api.request("POST", "/v1/ocr", json={"path": str(png), "task": "table"})
    assert r.status_code == 400 and r.json()["error"]["kind"] == ErrorKind.REQUEST
    assert "has no tasks" in r.json()["error"]["message"]
    assert [n for n, _ in api.events if n == "jobQueued"] == []


def test_streamed_events_are_the_engine_signals_in_their_order(make_api, tmp_path):
    api = make_api()
    pdf = samples.write_pdf(tmp_path / "three.pdf", pages=3, text_pages={2})

    def go():
        with api.client() as c, c.stream("POST", "/v1/ocr", json={"path": str(pdf), "stream": True}) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
            return [json.loads(line) for line in r.iter_lines() if line.strip()]

    events = api.call(go)
    job_id = events[0]["job_id"]
    assert all(e["job_id"] == job_id for e in events)
    to_event = {"jobQueued": "job.queued", "jobStarted": "job.started", "pageStarted": "page.started",
                "textDelta": "text.delta", "pageFinished": "page.done", "jobEnded": "job.done"}
    assert [e["event"] for e in events] == [to_event[n] for n in api.job_events(job_id)]
    assert [e["event"] for e in events if e["event"] not in ("text.delta",)] == [
        "job.queued", "job.started", *["page.started", "page.done"] * 3, "job.done"]
    for page in (e for e in events if e["event"] == "page.done"):
        deltas = [e["text"] for e in events if e["event"] == "text.delta" and e["page"] == page["page"]]
        assert "".join(deltas) == page["text"]
        assert set(page) >= PAGE_FIELDS | {"format"}
    started = next(e for e in events if e["event"] == "job.started")
    assert started["format"] == ended_output(api)  # a client can write a page cut short in its format
    assert events[-1]["status"] == JobStatus.DONE and events[-1]["pages"] == 3 and events[-1]["error"] is None


def test_multipart_and_raw_uploads_live_in_the_private_temp_folder_until_their_job_ends(make_api, tmp_path):
    api = make_api()
    png = samples.write_png(tmp_path / "scan.png")
    seen_during_job = []
    api.controller.jobStarted.connect(lambda info: seen_during_job.append(info.path))
    r = api.request("POST", "/v1/ocr", files={"file": ("scan.png", png.read_bytes(), "image/png")},
                    data={"max_tokens": "3"})
    assert r.status_code == 200, r.text
    assert r.json()["path"] == "scan.png" and r.json()["pages"][0]["path"] == "scan.png"
    r2 = api.request("POST", "/v1/ocr", content=png.read_bytes(), params={"filename": "raw.png", "stream": "false"},
                     headers={"Content-Type": "image/png"})
    assert r2.status_code == 200, r2.text
    root = upload_root(api)
    assert len(seen_during_job) == 2
    for path in seen_during_job:
        assert path.startswith(str(root)) and (root in __import__("pathlib").Path(path).parents)
    api.qtbot.waitUntil(lambda: not temp_files(root), timeout=10_000)  # removed when their jobs ended
    bad = api.request("POST", "/v1/ocr", files={"file": ("notes.pdf", b"not a pdf at all", "application/pdf")})
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("notes.pdf: ")
    assert str(root) not in bad.text  # the message names the client's file, never the private temp path
    assert not temp_files(root)  # refused before the queue: removed at once


def test_status_models_load_and_unload(make_api):
    api = make_api()
    s = api.request("GET", "/v1/status").json()
    assert s["state"] == State.UNLOADED and s["loads"] == 0 and s["queue"] == 0
    assert set(s["memory"]) == {"rss", "mlx_active"} and s["memory"]["rss"] > 0
    models = api.request("GET", "/v1/models").json()
    assert [m["id"] for m in models["data"] if m["current"]] == [models["current"]]
    assert {"paddleocr-vl", "glm-ocr"} <= {m["id"] for m in models["data"]}
    assert all(m["downloaded"] is False for m in models["data"] if not m["current"])  # an empty HF cache
    tasks = {m["id"]: m["tasks"] for m in models["data"]}
    assert tasks["paddleocr-vl"] == ["text", "table", "formula", "chart"] and tasks[models["current"]] == []

    r = api.request("POST", "/v1/load", json={})
    assert r.status_code == 202
    api.qtbot.waitUntil(lambda: api.engine.status.state is State.READY, timeout=60_000)
    s = api.request("GET", "/v1/status").json()
    assert s["state"] == State.READY and s["loads"] == 1 and s["memory"]["mlx_active"] > 0 and s["model_bytes"] > 0
    assert api.engine.status.loads == 1
    u = api.request("POST", "/v1/unload").json()
    assert u["deferred"] is False and u["loaded"] is True
    api.qtbot.waitUntil(lambda: api.engine.status.state is State.UNLOADED, timeout=60_000)
    u = api.request("POST", "/v1/unload").json()
    assert u["loaded"] is False and u["deferred"] is False


def test_keep_alive_zero_releases_the_model_after_the_job_in_keep_resident_mode(make_api, tmp_path):
    api = make_api()  # keep-resident
    png = samples.write_png(tmp_path / "a.png")
    r = api.request("POST", "/v1/ocr", json={"path": str(png), "keep_alive": 0})
    assert r.status_code == 200
    api.qtbot.waitUntil(lambda: api.engine.status.state is State.UNLOADED and api.engine.status.loads == 1,
                        timeout=30_000)
    r = api.request("POST", "/v1/ocr", json={"path": str(png)})  # follows the mode: stays loaded
    assert r.status_code == 200
    api.qtbot.waitUntil(lambda: api.engine.status.state is State.READY, timeout=30_000)
    assert api.engine.status.loads == 2 and api.engine.status.deadline is None


def test_errors_have_one_shape_and_the_engine_kinds(make_api, tmp_path):
    api = make_api()
    bad = tmp_path / "notes.pdf"
    bad.write_bytes(b"just some words, not a PDF")
    from engine.controller import expand_and_check

    _, problems = expand_and_check([str(bad)])
    cases = [
        (api.request("POST", "/v1/ocr", json={"path": str(bad)}), 422, ErrorKind.DOCUMENT, str(problems[0])),
        (api.request("POST", "/v1/ocr", json={"path": str(tmp_path / "gone.png")}), 422, ErrorKind.DOCUMENT, None),
        (api.request("POST", "/v1/ocr", json={"path": str(tmp_path)}), 422, ErrorKind.DOCUMENT, None),
        (api.request("POST", "/v1/ocr", json={"path": "relative.png"}), 400, ErrorKind.REQUEST, None),
        (api.request("POST", "/v1/ocr", json={"path": str(bad), "max_tokens": 0}), 400, ErrorKind.REQUEST, None),
        (api.request("POST", "/v1/ocr", json={"path": str(bad), "colour": "red"}), 400, ErrorKind.REQUEST, None),
        (api.request("POST", "/v1/ocr", json={"path": str(bad), "model": "glm-ocr"}), 404, ErrorKind.NOT_FOUND,
         None),
        (api.request("POST", "/v1/ocr", content=b"{not json", headers={"Content-Type": "application/json"}), 400,
         ErrorKind.REQUEST, None),
        (api.request("GET", "/v1/nothing-here"), 404, ErrorKind.NOT_FOUND, None),
        (api.request("DELETE", "/v1/status"), 405, ErrorKind.REQUEST, None),
    ]
    for r, status, kind, message in cases:
        assert r.status_code == status, (r.request.url, r.text)
        body = r.json()
        assert set(body) == {"error"} and set(body["error"]) == {"kind", "message"}
        assert body["error"]["kind"] == kind, r.text
        assert "\n" not in body["error"]["message"] and body["error"]["message"]
        if message is not None:
            assert body["error"]["message"] == message  # the same line the window shows for that file
    assert not [n for n, _ in api.events if n == "jobQueued"]  # none of them reached the queue


def test_a_fifo_is_refused_without_being_opened(make_api, tmp_path):
    import os

    api = make_api()
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    r = api.request("POST", "/v1/ocr", json={"path": str(fifo)})
    assert r.status_code == 422 and "not a regular file" in r.json()["error"]["message"]


def test_api_jobs_can_be_kept_out_of_the_history(make_api, make_settings, tmp_path):
    from engine.history import HistoryStore

    history = HistoryStore(tmp_path / "h.sqlite3")
    try:
        api = make_api(make_settings(api__keep_history=False), history=history)
        png = samples.write_png(tmp_path / "a.png")
        assert api.request("POST", "/v1/ocr", json={"path": str(png)}).status_code == 200
        api.controller.submit_files([str(png)])  # the window's job is kept
        api.qtbot.waitUntil(lambda: len([n for n, _ in api.events if n == "jobEnded"]) == 2, timeout=30_000)
        docs = history.documents()
        assert len(docs) == 1
        api.settings.set("api/keep_history", True)
        assert api.request("POST", "/v1/ocr", json={"path": str(png)}).status_code == 200
        assert len(history.documents()) == 2
    finally:
        history.close()


def test_a_model_that_cannot_load_is_503_with_its_kind(make_api, make_settings, tmp_path):
    api = make_api(make_settings(model__custom_source=str(tmp_path / "no-model")))
    png = samples.write_png(tmp_path / "a.png")
    r = api.request("POST", "/v1/ocr", json={"path": str(png)})
    assert r.status_code == 503 and r.json()["error"]["kind"] == ErrorKind.MODEL_MISSING
    assert "a.png" in r.json()["error"]["message"]
