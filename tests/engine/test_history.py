"""The history store: commits per page, interrupted documents, resume plans, search, retention,
permissions, threads, migrations, damaged files, and the `ocr-tray history` command."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading

import pytest

from engine import history as history_module
from engine.documents import display_name
from engine.history import (
    MIGRATIONS,
    SCHEMA_VERSION,
    HistoryError,
    HistoryStore,
    migrate,
)
from engine.jobs import DocumentStatus, JobStatus, PageResult, PageSource

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def one(store, query: str, *args):
    """The first column of the first row of ``query``, through the store's own connection."""
    with store._connection() as db:
        return db.execute(query, args).fetchone()[0]


def page(n: int, text: str | None = None, path: str = "/docs/a.pdf", pages: int = 3, source: str = "model"):
    return PageResult(
        job_id=1, path=path, page=n, pages=pages, text=text if text is not None else f"text of page {n}",
        source=source, model="tiny", prompt_tokens=10 + n, generation_tokens=n, seconds=0.25 * n,
        first_token_seconds=0.1, tokens_per_second=4.0, peak_memory=1000 * n,
    )


@pytest.fixture
def store(tmp_path):
    s = HistoryStore(tmp_path / "h" / "history.sqlite3")
    yield s
    s.close()


@pytest.fixture
def doc_file(tmp_path):
    f = tmp_path / "a.pdf"
    f.write_bytes(b"%PDF-1.4 stand-in")
    return str(f)


def _child(script: str, *args: str) -> subprocess.Popen:
    """A separate process using the store (a real other writer)."""
    code = f"import sys\nsys.path.insert(0, {ROOT!r})\n" + textwrap.dedent(script)
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


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


# ------------------------------------------------------------ basic round trip
def test_pages_committed_with_all_fields_and_document_finished(store, doc_file):
    record = store.start_document(doc_file, 3, "tiny")
    [doc] = store.documents()
    assert (doc.id, doc.status, doc.pages_done, doc.pages) == (record, DocumentStatus.RUNNING, (), 3)
    for n in (1, 2, 3):
        store.add_page(record, page(n, path=doc_file))
    store.finish_document(record, JobStatus.DONE)
    [doc] = store.documents()
    assert (doc.status, doc.pages_done, doc.missing, doc.error) == (JobStatus.DONE, (1, 2, 3), (), None)
    assert doc.finished >= doc.started and doc.model == "tiny" and doc.name == "a.pdf" and doc.path == doc_file
    got = store.pages(record)
    assert [p.page for p in got] == [1, 2, 3]
    p2 = got[1]
    assert (p2.text, p2.source, p2.model, p2.prompt_tokens, p2.generation_tokens) == (
        "text of page 2", PageSource.MODEL, "tiny", 12, 2)
    assert (p2.seconds, p2.first_token_seconds, p2.tokens_per_second, p2.peak_memory) == (0.5, 0.1, 4.0, 2000)
    assert p2.finished >= doc.started
    result = dataclasses.replace(p2, job_id=7)  # the history returns the engine's own PageResult
    assert (result.job_id, result.path, result.page, result.pages, result.text) == (7, doc_file, 2, 3, "text of page 2")


def test_failed_and_cancelled_keep_their_pages_and_error(store, doc_file):
    r = store.start_document(doc_file, 4, "tiny")
    store.add_page(r, page(1, path=doc_file, pages=4))
    store.finish_document(r, JobStatus.FAILED, "a.pdf: page 2 cannot be read (damaged)")
    [doc] = store.documents()
    assert doc.status == JobStatus.FAILED and doc.error.startswith("a.pdf: page 2")
    assert doc.pages_done == (1,) and doc.missing == (2, 3, 4) and doc.resumable


def test_done_with_a_page_missing_is_incomplete(store, doc_file):
    r = store.start_document(doc_file, 3, "tiny")
    store.add_page(r, page(1, path=doc_file))
    store.add_page(r, page(3, path=doc_file))  # page 2 could not be saved (disk full)
    store.finish_document(r, JobStatus.DONE)
    [doc] = store.documents()
    assert doc.status == DocumentStatus.INCOMPLETE and doc.missing == (2,) and doc.resumable


# ------------------------------------------------- interrupted and other writers
def test_document_of_a_killed_process_is_interrupted_with_its_pages(store, doc_file):
    child = _child(WRITER, str(store.path), doc_file, "5", "2")
    record = int(child.stdout.readline())
    try:
        [doc] = store.documents()
        assert doc.status == DocumentStatus.RUNNING, "a live writer in another process is not 'interrupted'"
        assert not doc.resumable
        with pytest.raises(HistoryError, match="being read right now"):
            store.resume_plan(record)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    [doc] = store.documents()
    assert doc.status == DocumentStatus.INTERRUPTED and doc.pages_done == (1, 2) and doc.missing == (3, 4, 5)
    assert [p.text for p in store.pages(record)] == ["page 1 text", "page 2 text"]
    assert [d.id for d in store.interrupted()] == [record]
    plan = store.resume_plan(record)
    assert (plan.history_id, plan.path, plan.pages) == (record, doc_file, frozenset({3, 4, 5}))
    opts = plan.options()
    assert (opts.pages, opts.history_id) == (frozenset({3, 4, 5}), record)


def test_record_left_running_in_this_process_is_interrupted(tmp_path, doc_file):
    """The engine thread died before finish_document: a new store sees the record as interrupted."""
    db = tmp_path / "h.sqlite3"
    writer = HistoryStore(db)
    record = writer.start_document(doc_file, 2, "tiny")
    assert writer.documents()[0].status == DocumentStatus.RUNNING
    with history_module._OPEN_LOCK:  # what a dead writer leaves: no open record in this process
        history_module._OPEN_RECORDS.discard((str(db), record))
    assert HistoryStore(db).documents()[0].status == DocumentStatus.INTERRUPTED
    writer.close()


def test_resume_reuses_the_record_and_completes_it(store, doc_file):
    r = store.start_document(doc_file, 4, "tiny")
    store.add_page(r, page(1, path=doc_file, pages=4))
    store.add_page(r, page(2, path=doc_file, pages=4))
    store.finish_document(r, JobStatus.CANCELLED)
    plan = store.resume_plan(r)
    assert plan.pages == {3, 4}
    again = store.start_document(doc_file, 4, "tiny-2", history_id=r)
    assert again == r
    assert store.documents()[0].status == DocumentStatus.RUNNING
    for n in sorted(plan.pages):
        store.add_page(again, page(n, path=doc_file, pages=4))
    store.finish_document(again, JobStatus.DONE)
    [doc] = store.documents()
    assert (doc.id, doc.status, doc.pages_done, doc.model) == (r, JobStatus.DONE, (1, 2, 3, 4), "tiny-2")
    with pytest.raises(HistoryError, match="every page is already done"):
        store.resume_plan(r)


def test_resume_refuses_a_changed_or_missing_file_and_unknown_ids(store, doc_file):
    r = store.start_document(doc_file, 3, "tiny")
    store.add_page(r, page(1, path=doc_file))
    store.finish_document(r, JobStatus.CANCELLED)
    with open(doc_file, "ab") as f:
        f.write(b" more bytes")
    with pytest.raises(HistoryError, match="a.pdf: the file changed"):
        store.resume_plan(r)
    os.unlink(doc_file)
    with pytest.raises(HistoryError, match="a.pdf: the file is no longer there"):
        store.resume_plan(r)
    with pytest.raises(HistoryError, match="no document 999"):
        store.resume_plan(999)


def test_resume_into_a_deleted_or_different_record_starts_a_new_one(store, doc_file):
    r = store.start_document(doc_file, 3, "tiny")
    store.finish_document(r, JobStatus.CANCELLED)
    other = store.start_document(doc_file, 5, "tiny", history_id=r)  # the page count changed
    assert other != r
    store.finish_document(other, JobStatus.DONE)
    assert store.delete(r)
    fresh = store.start_document(doc_file, 3, "tiny", history_id=r)  # deleted meanwhile
    assert fresh not in (r, other)


def test_pages_for_a_document_deleted_meanwhile_are_dropped_quietly(store, doc_file):
    r = store.start_document(doc_file, 3, "tiny")
    store.finish_document(r, JobStatus.CANCELLED)
    assert store.delete(r)
    store.add_page(r, page(1, path=doc_file))  # no error, nothing stored
    store.finish_document(r, JobStatus.DONE)
    assert store.documents() == []
    assert one(store, "SELECT count(*) FROM pages") == 0


# ------------------------------------------------------------------ power cut
def test_every_connection_is_wal_with_full_sync(store, doc_file):
    """A reported page is on the disk: WAL, and an fsync at every commit (synchronous = FULL).
    Checked on connections made by two threads (each gets its own from the pool)."""
    seen = []

    def check():
        with store._connection() as db:
            seen.append((db.execute("PRAGMA journal_mode").fetchone()[0],
                         db.execute("PRAGMA synchronous").fetchone()[0]))

    with store._connection():  # held here, so the other thread must open a second connection
        check()
        other = threading.Thread(target=check)
        other.start()
        other.join(30)
    assert store.opened == 2
    assert seen == [("wal", 2), ("wal", 2)]  # 2 = FULL (OFF is 0, NORMAL 1)


POWER_CUT = """
    import shutil
    from pathlib import Path
    from engine.history import HistoryStore
    from engine.jobs import PageResult
    db, path, snaps = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    s = HistoryStore(db)
    r = s.start_document(path, 5, "tiny")
    commits = [0]

    def cut(statement):
        # at each COMMIT, before it runs: the files as a power cut would leave them (copied while
        # the only writer waits here), and at the fourth page's commit the process dies at once
        if statement.strip().upper() != "COMMIT":
            return
        commits[0] += 1
        snap = snaps / f"before-commit-{commits[0]}"
        snap.mkdir()
        for f in (db, Path(f"{db}-wal")):
            if f.exists():
                shutil.copyfile(f, snap / f.name)
        if commits[0] == 4:
            os._exit(9)

    with s._connection() as conn:
        conn.set_trace_callback(cut)
        for n in range(1, 6):
            s.add_page(r, PageResult(1, path, n, 5, f"page {n} text", "model", "tiny"))
            print(n, flush=True)
"""


def test_a_power_cut_inside_a_commit_loses_only_that_page(tmp_path, doc_file):
    """The process dies inside the fourth page's commit (os._exit from SQLite's statement hook,
    before COMMIT runs); copies of the files taken just before each commit stand for a power cut
    at that moment. Reopened, every copy is a healthy database holding exactly the pages whose
    commits had finished, and the real file holds pages 1–3 of an interrupted document."""
    db, snaps = tmp_path / "h" / "history.sqlite3", tmp_path / "snaps"
    snaps.mkdir()
    (tmp_path / "h").mkdir()
    code = "import os, sys\n" + f"sys.path.insert(0, {ROOT!r})\n" + textwrap.dedent(POWER_CUT)
    run = subprocess.run([sys.executable, "-c", code, str(db), doc_file, str(snaps)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 9, run.stderr[-2000:]
    assert run.stdout.split() == ["1", "2", "3"]  # three pages reported; the fourth never was

    store = HistoryStore(db)
    try:
        [doc] = store.documents()
        assert doc.status == DocumentStatus.INTERRUPTED and doc.pages_done == (1, 2, 3)
        assert doc.missing == (4, 5)
        assert [p.text for p in store.pages(doc.id)] == ["page 1 text", "page 2 text", "page 3 text"]
        assert one(store, "PRAGMA integrity_check") == "ok"
    finally:
        store.close()
    for k in range(1, 5):  # before commit k, pages 1..k-1 were committed
        copy = HistoryStore(snaps / f"before-commit-{k}" / "history.sqlite3")
        try:
            [doc] = copy.documents()
            assert copy.recovered is None  # opened as it was, not set aside as damaged
            assert doc.pages_done == tuple(range(1, k)), k
            assert one(copy, "PRAGMA integrity_check") == "ok"
        finally:
            copy.close()


# ---------------------------------------------------------- search, retention
def test_search_text_and_names_case_insensitive_with_wildcards_literal(store, tmp_path):
    docs = {}
    for name, text in (("invoice.pdf", "Total due: 100% by Friday"), ("letter.png", "Dear_Sir, the quick fox"),
                       ("notes.png", "nothing here")):
        path = str(tmp_path / name)
        r = store.start_document(path, 1, "tiny")
        store.add_page(r, page(1, text, path=path, pages=1))
        store.finish_document(r, JobStatus.DONE)
        docs[name] = r
    assert [d.name for d in store.documents(search="QUICK FOX")] == ["letter.png"]
    assert [d.name for d in store.documents(search="100%")] == ["invoice.pdf"]
    assert store.documents(search="0% b")[0].name == "invoice.pdf"
    assert store.documents(search="%") and len(store.documents(search="%")) == 1  # '%' is a character, not "anything"
    assert [d.name for d in store.documents(search="_")] == ["letter.png"]
    assert [d.name for d in store.documents(search="notes")] == ["notes.png"]  # by name
    assert store.documents(search="absent words") == []
    [hit] = store.documents(search="friday")
    assert "Friday" in hit.snippet
    assert [d.name for d in store.documents()] == ["notes.png", "letter.png", "invoice.pdf"]  # newest first
    assert len(store.documents(limit=2)) == 2


def test_retention_keeps_the_newest_n_and_never_a_running_document(tmp_path):
    s = HistoryStore(tmp_path / "h.sqlite3", keep=3)
    running = s.start_document("/docs/running.pdf", 1, "tiny")
    ids = []
    for i in range(6):
        r = s.start_document(f"/docs/{i}.pdf", 1, "tiny")
        s.finish_document(r, JobStatus.DONE)
        ids.append(r)
    kept = [d.id for d in s.documents()]
    assert running in kept
    assert set(ids[-3:]) <= set(kept) and not set(ids[:3]) & set(kept)
    s.set_keep(0)  # forever
    for i in range(4):
        s.finish_document(s.start_document(f"/docs/more{i}.pdf", 1, "tiny"), "done")
    assert len(s.documents()) == len(kept) + 4
    newest = [d.id for d in s.documents()[:2]]
    assert s.prune(2) == len(kept) + 4 - 2 - 1  # all but the newest two, and the running one stays
    assert [d.id for d in s.documents()] == newest + [running]
    s.close()


def test_delete_one_and_clear_all_but_the_running_one(store, doc_file):
    a = store.start_document(doc_file, 1, "tiny")
    store.add_page(a, page(1, "secret words", path=doc_file, pages=1))
    store.finish_document(a, JobStatus.DONE)
    b = store.start_document(doc_file, 1, "tiny")
    store.finish_document(b, JobStatus.DONE)
    running = store.start_document(doc_file, 1, "tiny")
    assert store.delete(a) and not store.delete(a)
    assert not store.delete(running)
    assert [d.id for d in store.documents()] == [running, b]
    assert store.clear() == 1
    assert [d.id for d in store.documents()] == [running]
    store.finish_document(running, JobStatus.DONE)
    assert store.clear() == 1 and store.documents() == []
    # deleted text is not left readable in the file (secure_delete, WAL checkpointed)
    store.close()
    for f in (store.path, *store._sidecars()):
        if f.exists():
            assert b"secret words" not in f.read_bytes()


# --------------------------------------------------------------- permissions
def test_default_location_and_private_permissions(tmp_path, monkeypatch):
    monkeypatch.delenv("OCR_TRAY_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(sys, "platform", "linux")
    assert history_module.data_dir() == tmp_path / "xdg" / "OCR Tray"
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert history_module.data_dir() == tmp_path / "home" / "Library" / "Application Support" / "OCR Tray"
    monkeypatch.setattr(sys, "platform", "linux")
    old = os.umask(0)  # the most permissive umask: the files must still be private
    try:
        s = HistoryStore()
        assert s.path == tmp_path / "xdg" / "OCR Tray" / "history.sqlite3"
        r = s.start_document("/docs/a.pdf", 1, "tiny")
        s.add_page(r, page(1, pages=1))
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in s.path.parent.iterdir()}
        assert {"history.sqlite3", "history.sqlite3-wal", "history.sqlite3-shm"} <= set(modes)
        assert set(modes.values()) == {0o600}, modes
        assert stat.S_IMODE(s.path.parent.stat().st_mode) == 0o700
        s.finish_document(r, JobStatus.DONE)
        s.close()
    finally:
        os.umask(old)


def test_existing_loose_permissions_are_tightened(tmp_path, monkeypatch):
    monkeypatch.setenv("OCR_TRAY_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir(mode=0o755)
    os.chmod(tmp_path / "data", 0o755)
    db = tmp_path / "data" / "history.sqlite3"
    sqlite3.connect(db).close()
    os.chmod(db, 0o644)
    s = HistoryStore()
    s.documents()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    s.close()


# ------------------------------------------------------------------- threads
def test_reader_is_not_blocked_by_an_open_write_transaction(store, doc_file):
    """WAL: the GUI reads while the engine thread is in the middle of a write."""
    r = store.start_document(doc_file, 2, "tiny")
    store.add_page(r, page(1, path=doc_file, pages=2))
    in_write, release = threading.Event(), threading.Event()

    def writer():
        with store._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE documents SET model = 'changing' WHERE id = ?", (r,))
            in_write.set()
            release.wait(10)
            db.execute("COMMIT")

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert in_write.wait(10)
        # a reader that waited for the writer would either time out ("database is locked") or,
        # the writer being held until this read returns, never return: it reads the last commit
        docs = store.documents()
        assert docs[0].model == "tiny" and docs[0].pages_done == (1,)  # the last committed state
        assert t.is_alive()  # the write transaction was still open while we read
    finally:
        release.set()
        t.join(10)
    assert store.documents()[0].model == "changing"


def test_many_threads_write_at_once_nothing_lost(store):
    errors = []

    def work(k):
        try:
            for i in range(5):
                path = f"/docs/t{k}-{i}.pdf"
                r = store.start_document(path, 2, "tiny")
                store.add_page(r, page(1, f"t{k} d{i} p1", path=path, pages=2))
                store.add_page(r, page(2, f"t{k} d{i} p2", path=path, pages=2))
                store.finish_document(r, JobStatus.DONE)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    docs = store.documents()
    assert len(docs) == 20 and all(d.status == JobStatus.DONE and d.pages_done == (1, 2) for d in docs)


def test_short_lived_threads_do_not_leave_connections_open(store, doc_file):
    """Pool threads come and go (QThreadPool); their reads must not each leave a connection behind."""
    store.finish_document(store.start_document(doc_file, 1, "tiny"), JobStatus.DONE)
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    for _ in range(40):
        t = threading.Thread(target=store.documents)
        t.start()
        t.join(10)
    assert store.opened <= 2
    if fds is not None:
        assert len(os.listdir("/proc/self/fd")) <= fds + 3


def test_closed_store_refuses_politely(tmp_path):
    s = HistoryStore(tmp_path / "h.sqlite3")
    s.documents()
    s.close()
    with pytest.raises(HistoryError, match="closed"):
        s.documents()


def test_store_made_in_one_thread_is_used_from_another(tmp_path, doc_file):
    s = HistoryStore(tmp_path / "h.sqlite3")
    s.documents()  # opened here
    out = []
    t = threading.Thread(target=lambda: out.append(s.start_document(doc_file, 1, "tiny")))
    t.start()
    t.join(10)
    assert out and s.documents()[0].id == out[0]
    s.close()


# ----------------------------------------------------------------- migrations
def _v1_database(path):
    db = sqlite3.connect(path, isolation_level=None)
    migrate(db, MIGRATIONS[:1])
    db.execute(
        "INSERT INTO documents (path, name, pages, model, status, started) VALUES (?, ?, 2, 'old', 'done', 1.0)",
        (b"/docs/old.pdf", "old.pdf"),
    )
    db.execute(
        "INSERT INTO pages (document_id, page, text, source, finished) VALUES (1, 1, 'old text', 'model', 2.0)"
    )
    db.close()


def test_fresh_database_has_the_latest_schema(store):
    store.documents()
    assert one(store, "PRAGMA user_version") == SCHEMA_VERSION == len(MIGRATIONS)
    assert one(store, "PRAGMA journal_mode") == "wal"
    with store._connection() as db:
        cols = {r[1] for r in db.execute("PRAGMA table_info(documents)")}
    assert {"owner", "file_size", "file_mtime_ns"} <= cols


def test_version_1_database_is_migrated_with_its_data(tmp_path):
    path = tmp_path / "h.sqlite3"
    _v1_database(path)
    s = HistoryStore(path)
    [doc] = s.documents()
    assert (doc.name, doc.status, doc.pages_done, doc.missing) == ("old.pdf", DocumentStatus.INCOMPLETE, (1,), (2,))
    assert [p.text for p in s.pages(doc.id)] == ["old text"]
    assert one(s, "PRAGMA user_version") == SCHEMA_VERSION
    r = s.start_document("/docs/new.pdf", 1, "tiny")  # the new columns work
    assert one(s, "SELECT owner != '' FROM documents WHERE id = ?", r) == 1
    s.close()


def test_failed_migration_rolls_back_and_keeps_the_data(tmp_path):
    path = tmp_path / "h.sqlite3"
    _v1_database(path)

    def broken(db):
        db.execute("ALTER TABLE documents ADD COLUMN half_done TEXT")
        raise RuntimeError("power cut in the middle of a migration")

    db = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(RuntimeError):
        migrate(db, (MIGRATIONS[0], broken))
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "half_done" not in {r[1] for r in db.execute("PRAGMA table_info(documents)")}
    db.close()
    s = HistoryStore(path)  # the real migration still applies afterwards
    assert [d.name for d in s.documents()] == ["old.pdf"]
    s.close()


def test_database_from_a_newer_version_is_left_alone(tmp_path):
    path = tmp_path / "h.sqlite3"
    _v1_database(path)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.commit()
    db.close()
    before = path.read_bytes()
    s = HistoryStore(path)
    with pytest.raises(HistoryError, match="newer OCR Tray"):
        s.documents()
    s.close()
    assert path.read_bytes() == before


def test_damaged_database_is_set_aside_and_a_new_one_started(tmp_path):
    path = tmp_path / "h.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    s = HistoryStore(path)
    assert s.documents() == []
    assert s.recovered and "set aside" in s.recovered
    kept = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"this is not a database")
    s.finish_document(s.start_document("/docs/a.pdf", 1, "tiny"), "done")
    assert len(s.documents()) == 1
    s.close()


# --------------------------------------------------------- odd paths and text
def test_non_utf8_emoji_and_space_paths_round_trip(store, tmp_path):
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9 \xff.pdf"  # not valid UTF-8
    odd = os.fsdecode(raw)
    emoji = str(tmp_path / "scan 📄 2024.pdf")
    for p in (odd, emoji):
        r = store.start_document(p, 1, "tiny")
        store.add_page(r, page(1, "ok", path=p, pages=1))
        store.finish_document(r, JobStatus.DONE)
    paths = {d.path for d in store.documents()}
    assert paths == {odd, emoji}
    names = {d.name for d in store.documents()}
    assert names == {"scan 📄 2024.pdf", display_name(odd)} and display_name(odd).startswith("caf")
    json.dumps([d.as_json() for d in store.documents() if d.path == emoji])


def test_text_with_a_lone_surrogate_is_stored_not_lost(store, doc_file):
    r = store.start_document(doc_file, 1, "tiny")
    store.add_page(r, page(1, "before \ud800 after", path=doc_file, pages=1))
    [p] = store.pages(r)
    assert p.text.startswith("before ") and p.text.endswith(" after")


# ---------------------------------------------------------------- disk full
def test_disk_full_fails_the_write_cleanly_and_recovers(tmp_path, doc_file):
    s = HistoryStore(tmp_path / "h.sqlite3")
    r = s.start_document(doc_file, 3, "tiny")
    with s._connection() as db:  # the store's calls below use this same connection
        used = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {used}")
        with pytest.raises(sqlite3.OperationalError, match="full"):
            s.add_page(r, page(1, "x" * 50_000, path=doc_file))
        assert not db.in_transaction  # rolled back: the connection is usable
        db.execute("PRAGMA max_page_count = 1073741823")
        s.add_page(r, page(2, path=doc_file))
    s.finish_document(r, JobStatus.DONE)
    [doc] = s.documents()
    assert doc.pages_done == (2,) and doc.status == DocumentStatus.INCOMPLETE and doc.resumable
    s.close()


def test_default_store_takes_the_retention_setting(tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    from engine.history import default_store
    from engine.settings import Settings

    monkeypatch.setenv("OCR_TRAY_DATA_DIR", str(tmp_path / "data"))
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert default_store(settings).keep == 0  # forever by default
    settings.set("history/keep", 7)
    store = default_store(settings)
    assert (store.keep, store.path) == (7, tmp_path / "data" / "history.sqlite3")
    assert not store.path.exists()  # nothing is touched until the first use


def test_search_snippets_start_and_end_on_whole_words(store, doc_file):
    r = store.start_document(doc_file, 1, "tiny")
    words = " ".join(f"word{i:03d}" for i in range(60))
    store.add_page(r, page(1, words, path=doc_file))
    store.finish_document(r, JobStatus.DONE)
    [doc] = store.documents(search="word030")
    body = doc.snippet.strip("…")
    assert body.split()[0].startswith("word") and len(body.split()[0]) == 7, doc.snippet
    assert body.split()[-1].startswith("word") and len(body.split()[-1]) == 7, doc.snippet
