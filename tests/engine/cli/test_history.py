"""``ocr-tray history``: list, search, show, resume, delete, clear — one-line errors."""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3

from engine.cli import history as history_cli
from engine.history import (
    SCHEMA_VERSION,
    HistoryStore,
)
from engine.jobs import JobStatus
from tests.engine.test_history import _v1_database, doc_file, page, store  # noqa: F401 (fixtures)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
WRITER = """
    from engine.history import HistoryStore
    from engine.jobs import PageResult
    db, path, pages, done = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    s = HistoryStore(db)
    r = s.start_document(path, pages, "tiny")
    for n in range(1, done + 1):
        s.add_page(r, PageResult(1, path, n, pages, f"page {n} text", "model", "tiny"))
    print(r, flush=True)   # every page above is committed
    sys.stdin.readline()   # hold on (alive) until told, or until killed
"""


# ------------------------------------------------------------------------ CLI
def _cli(store, *argv):
    from engine.cli import build_parser

    args = build_parser().parse_args(["history", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = history_cli.run(args, out, err, store=store)
    return code, out.getvalue(), err.getvalue()


def test_cli_list_json_search_show_delete_clear(store, doc_file):
    r = store.start_document(doc_file, 3, "tiny")
    store.add_page(r, page(1, "alpha words", path=doc_file))
    store.add_page(r, page(2, "beta words", path=doc_file))
    store.finish_document(r, JobStatus.CANCELLED)
    code, out, _ = _cli(store)
    assert code == 0 and "cancelled" in out and "2/3 pages" in out and f"history resume {r}" in out
    code, out, _ = _cli(store, "--json")
    [row] = [json.loads(line) for line in out.splitlines()]
    assert (row["id"], row["pages_done"], row["missing"], row["status"]) == (r, [1, 2], [3], JobStatus.CANCELLED)
    code, out, _ = _cli(store, "--search", "BETA", "--json")
    assert json.loads(out)["snippet"] == "beta words"
    code, out, _ = _cli(store, "--search", "gamma")
    assert code == 0 and out.strip() == "no documents match"
    code, out, _ = _cli(store, "show", str(r), "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(x["page"], x["text"]) for x in rows] == [(1, "alpha words"), (2, "beta words")]
    code, out, _ = _cli(store, "show", str(r))
    assert "page 2 of 3" in out and "beta words" in out and "not done: 3" in out
    code, _, err = _cli(store, "show", "42")
    assert code == 1 and err.strip() == "error: there is no document 42 in the history"
    code, _, err = _cli(store, "clear")
    assert code == 2 and "--yes" in err and len(store.documents()) == 1
    code, out, _ = _cli(store, "delete", str(r))
    assert code == 0 and store.documents() == []
    code, _, err = _cli(store, "delete", str(r))
    assert code == 1
    code, out, _ = _cli(store)
    assert out.strip() == "the history is empty"


def test_cli_resume_refusal_is_one_line(store, doc_file):
    r = store.start_document(doc_file, 3, "tiny")
    store.finish_document(r, JobStatus.CANCELLED)
    os.unlink(doc_file)
    code, _, err = _cli(store, "resume", str(r), "--json")
    assert code == 1 and err.strip() == "error: a.pdf: the file is no longer there, so the missing pages cannot be read"


def test_cli_reports_an_unreadable_history_in_one_line(tmp_path):
    path = tmp_path / "h.sqlite3"
    _v1_database(path)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    code, _, err = _cli(HistoryStore(path))
    assert code == 1 and err.count("\n") == 1 and "newer OCR Tray" in err


def test_history_is_a_registered_subcommand():
    from engine.cli import COMMANDS, build_parser

    assert COMMANDS["history"] is history_cli
    args = build_parser().parse_args(["history", "--search", "x", "--json"])
    assert (args.command, args.search, args.json, args.action) == ("history", "x", True, None)
    args = build_parser().parse_args(["history", "resume", "3", "--json", "--max-tokens", "4"])
    assert (args.action, args.id, args.ocr_flags) == ("resume", 3, ["--json", "--max-tokens", "4"])
    assert isinstance(args, argparse.Namespace)


def test_show_converts_each_page_from_the_format_it_was_read_in(store, doc_file):
    """A table page read as OTSL and a text-layer page: --format markdown writes the table as a table and
    the text as it was; --format json gives each page's raw answer and blocks."""
    import dataclasses

    r = store.start_document(doc_file, 2, "PaddleOCR-VL 1.5")
    table = dataclasses.replace(page(1, "<fcel>Item<fcel>Price<nl><fcel>Bread<fcel>9.00<nl>", path=doc_file, pages=2),
                                output="otsl")
    store.add_page(r, table)
    store.add_page(r, dataclasses.replace(page(2, "Thank you for your order", path=doc_file, pages=2,
                                               source="text-layer"), output="plain"))
    store.finish_document(r, JobStatus.DONE)
    code, out, _ = _cli(store, "show", str(r), "--format", "markdown")
    assert code == 0
    assert "| Item | Price |" in out and "| Bread | 9.00 |" in out and "<fcel>" not in out
    assert "Thank you for your order" in out and "page 2 of 2" in out
    code, out, _ = _cli(store, "show", str(r), "--format", "json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [x["format"] for x in rows] == ["otsl", "plain"] and rows[0]["raw"].startswith("<fcel>")
    assert rows[0]["blocks"][0]["type"] == "table"
