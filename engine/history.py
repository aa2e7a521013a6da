"""The history: every finished page committed to SQLite the moment it is done.

One database in the platform's app-data folder (``data_dir()``). The engine thread
writes through three calls (``start_document``, ``add_page``, ``finish_document``);
the window and the CLI read (``documents``, ``pages``, ``resume_plan``) from other
threads. Each thread gets its own connection, and the database runs in WAL mode, so a
reader never waits for the writer. Commits are ``synchronous=FULL``: a page that was
reported finished is on disk, even if the process is killed a moment later.

A document whose writer stopped without finishing it (killed, crashed, power cut) is
listed as ``interrupted``, with its finished pages; ``resume_plan`` names the pages
still missing, and the engine OCRs only those into the same record
(``OcrOptions(pages=..., history_id=...)``).

Files are private: the folder is 0700, the database and its -wal/-shm files 0600.
Nothing here logs a document's text. See docs/adr/0006-history-store.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .documents import display_name
from .jobs import DocumentStatus, ErrorKind, JobStatus, OcrOptions, PageResult, PageSource, TextLayer
from .paths import data_dir

log = logging.getLogger(__name__)

DB_NAME = "history.sqlite3"
POOL_SIZE = 4  # idle connections kept open (the engine thread, the window's reads)
BUSY_TIMEOUT_MS = 5_000  # another process (the CLI beside the app) holding the write lock
SNIPPET_CHARS = 80

# stored statuses: RUNNING and the JobStatus values; INTERRUPTED and INCOMPLETE are derived when listing


class HistoryError(Exception):
    """A history request that cannot be met. ``str()`` is one line for the person."""


# ------------------------------------------------------------------ location
def default_path() -> Path:
    return data_dir() / DB_NAME


# ------------------------------------------------------------------ schema
def _v1(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE documents (
               id INTEGER PRIMARY KEY AUTOINCREMENT,
               path BLOB NOT NULL,              -- os.fsencode(path): any bytes a file name can hold
               name TEXT NOT NULL,              -- the name as a person reads it (search, listing)
               pages INTEGER NOT NULL,
               model TEXT NOT NULL DEFAULT '',
               status TEXT NOT NULL,            -- running / done / cancelled / failed
               error TEXT,
               started REAL NOT NULL,
               finished REAL
           )"""
    )
    db.execute(
        """CREATE TABLE pages (
               document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
               page INTEGER NOT NULL,
               text TEXT NOT NULL,
               source TEXT NOT NULL,            -- model / text-layer
               model TEXT NOT NULL DEFAULT '',
               prompt_tokens INTEGER NOT NULL DEFAULT 0,
               generation_tokens INTEGER NOT NULL DEFAULT 0,
               seconds REAL NOT NULL DEFAULT 0,
               first_token_seconds REAL NOT NULL DEFAULT 0,
               tokens_per_second REAL NOT NULL DEFAULT 0,
               peak_memory INTEGER NOT NULL DEFAULT 0,
               finished REAL NOT NULL,
               PRIMARY KEY (document_id, page)
           ) WITHOUT ROWID"""
    )


def _v2(db: sqlite3.Connection) -> None:
    """Who is writing a document (to tell "interrupted" from "running in another process"),
    and the file's size and mtime when it was read (a resume refuses a file that changed)."""
    db.execute("ALTER TABLE documents ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE documents ADD COLUMN file_size INTEGER")
    db.execute("ALTER TABLE documents ADD COLUMN file_mtime_ns INTEGER")
    db.execute("CREATE INDEX documents_by_started ON documents(started)")


def _v3(db: sqlite3.Connection) -> None:
    """Typed statuses (``engine.jobs``): why a job failed, the options and model it was read with (a
    resume reuses them), failed pages and rejected text layers. Values an older version may have left
    that no status or source names are read as failed / model."""
    db.execute("ALTER TABLE documents ADD COLUMN error_kind TEXT")
    db.execute("ALTER TABLE documents ADD COLUMN options TEXT")  # OcrOptions.as_json(), never a password
    db.execute("ALTER TABLE documents ADD COLUMN model_source TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE pages ADD COLUMN error TEXT")
    db.execute("ALTER TABLE pages ADD COLUMN text_layer_rejected TEXT")
    stored = [DocumentStatus.RUNNING.value, *(s.value for s in JobStatus)]
    db.execute(
        f"UPDATE documents SET status = ? WHERE status NOT IN ({','.join('?' * len(stored))})",
        (JobStatus.FAILED.value, *stored),
    )
    sources = [s.value for s in PageSource]
    db.execute(
        f"UPDATE pages SET source = ? WHERE source NOT IN ({','.join('?' * len(sources))})",
        (PageSource.MODEL.value, *sources),
    )


# the answer format of each preset's default prompt when _v4 was written (every page before it was read so)
_V4_DEFAULT_OUTPUT = {
    "mlx-community/PaddleOCR-VL-1.5-bf16": "plain",
    "mlx-community/GLM-OCR-bf16": "markdown",
    "mlx-community/LightOnOCR-2-1B-bf16": "markdown",
    "mlx-community/DeepSeek-OCR-8bit": "grounded-markdown",
}


def _v4(db: sqlite3.Connection) -> None:
    """The format of each page's text (``PageResult.output``, engine.formats.OutputFormat), so a table read
    as OTSL shows as a table again. Pages stored before were read with their model's default prompt: a text
    layer (or a failed page) is plain text, a preset's page the format of its default task, a custom
    model's Markdown."""
    db.execute("ALTER TABLE pages ADD COLUMN output TEXT NOT NULL DEFAULT ''")
    db.execute("UPDATE pages SET output = 'plain' WHERE source != 'model'")
    for repo, output in _V4_DEFAULT_OUTPUT.items():
        db.execute(
            "UPDATE pages SET output = ? WHERE source = 'model'"
            " AND document_id IN (SELECT id FROM documents WHERE model_source = ?)",
            (output, repo),
        )
    db.execute("UPDATE pages SET output = 'markdown' WHERE output = ''")


def _v5(db: sqlite3.Connection) -> None:
    """The picture a screen capture read, kept with its document (a PNG of at most ``MAX_IMAGE_BYTES``); it
    goes when the document goes (delete, clear, prune) by the foreign key, and is as private as the rest."""
    db.execute(
        """CREATE TABLE images (
               document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
               png BLOB NOT NULL,
               width INTEGER NOT NULL,
               height INTEGER NOT NULL
           )"""
    )


MAX_IMAGE_BYTES = 1_000_000

# version N is reached by running MIGRATIONS[N - 1] on version N - 1, in one transaction
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2, _v3, _v4, _v5)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, migrations=None) -> int:
    """Bring the schema up to date (PRAGMA user_version). Each step commits alone, or not at all.

    A database from a newer app version is left untouched (HistoryError)."""
    migrations = MIGRATIONS if migrations is None else migrations
    target = len(migrations)
    version = _refuse_newer(db, target)
    while version < target:
        with _transaction(db):
            # re-read inside the write lock: another process may have migrated meanwhile
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version >= target:
                break
            migrations[version](db)
            db.execute(f"PRAGMA user_version = {version + 1}")
        log.info("history schema migrated to version %d", version + 1)
        version += 1
    return version


def _refuse_newer(db: sqlite3.Connection, known: int) -> int:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > known:
        raise HistoryError(
            f"the history was written by a newer OCR Tray (schema {version}, this one knows {known}); "
            "it is left as it is"
        )
    return version


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


# ------------------------------------------------------------------ who writes
def _process_key(pid: int | None = None) -> str:
    """pid plus the process's start time, so a reused pid is not taken for the old writer."""
    import psutil

    pid = os.getpid() if pid is None else pid
    try:
        started = psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return ""
    return f"{pid}:{started:.2f}"


_ME: str | None = None
_OPEN_RECORDS: set[tuple[str, int]] = set()  # (database, document id) being written by this process
_OPEN_LOCK = threading.Lock()


def _me() -> str:
    global _ME
    if _ME is None or not _ME.startswith(f"{os.getpid()}:"):  # a fork has its own identity
        _ME = _process_key()
    return _ME


def _writer_alive(owner: str) -> bool:
    if not owner:
        return False
    pid_text = owner.split(":", 1)[0]
    if not pid_text.isdigit():
        return False
    return _process_key(int(pid_text)) == owner


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class HistoryDocument:
    id: int
    path: str
    name: str
    pages: int
    model: str
    status: DocumentStatus
    error: str | None
    started: float
    finished: float | None
    pages_done: tuple[int, ...]  # pages with text (a failed page is stored, but counts as missing)
    snippet: str | None = None  # with a search: the text around the first match
    error_kind: ErrorKind | None = None
    model_source: str = ""  # what to load to read it again (a preset's repo id or a folder)
    options: dict | None = None  # OcrOptions.as_json() it was read with

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", DocumentStatus(self.status))

    @property
    def missing(self) -> tuple[int, ...]:
        done = set(self.pages_done)
        return tuple(n for n in range(1, self.pages + 1) if n not in done)

    @property
    def resumable(self) -> bool:
        return self.status.resumable and bool(self.missing)

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "path": self.path,
            "name": self.name,
            "status": self.status.value,
            "pages": self.pages,
            "pages_done": list(self.pages_done),
            "missing": list(self.missing),
            "model": self.model,
            "started": self.started,
            "finished": self.finished,
            "error": self.error,
            **({"snippet": self.snippet} if self.snippet is not None else {}),
        }


@dataclass(frozen=True)
class ResumePlan:
    """What to submit to finish an interrupted document: only the missing pages, into the same record,
    with the model and options it was read with."""

    history_id: int
    path: str
    pages: frozenset[int]
    model_source: str = ""
    stored_options: dict | None = None

    def options(self, base: OcrOptions | None = None) -> OcrOptions:
        """``base`` (today's settings) with the document's own reading options, its missing pages and record."""
        from dataclasses import replace

        base = base or OcrOptions()
        kept = self.stored_options or {}
        return replace(
            base,
            max_tokens=int(kept.get("max_tokens") or base.max_tokens),
            dpi=int(kept.get("dpi") or base.dpi),
            max_side=kept.get("max_side", base.max_side),
            text_layer=TextLayer.parse(kept.get("text_layer", base.text_layer)),
            prompt=kept.get("prompt", base.prompt),
            task=kept.get("task"),  # the task it was read with (None before tasks were stored: the default)
            output="",  # resolved again for the model it is read with now
            pages=self.pages,
            history_id=self.history_id,
        )


# ------------------------------------------------------------------ the store
class HistoryStore:
    """The history database. Safe to share between threads; nothing touches the disk until first use.

    ``keep``: how many documents to keep (the oldest go when one finishes); 0 keeps all.
    """

    def __init__(self, path: str | os.PathLike | None = None, keep: int = 0) -> None:
        self._default = path is None
        self.path = Path(path) if path is not None else default_path()
        self.keep = max(0, int(keep))
        self._lock = threading.Lock()  # guards the pool
        self._open_lock = threading.Lock()  # one thread at a time creates the file and migrates
        self._idle: list[sqlite3.Connection] = []
        self._held = threading.local()  # the connection this thread has checked out (re-entrant)
        self._closed = False
        self.opened = 0  # connections opened so far (tests: the pool stays small)
        self.recovered: str | None = None  # set when a damaged database was moved aside

    # ---------------------------------------------------------- connections
    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for the length of one call, from a small pool.

        Each concurrent caller gets its own connection, so in WAL mode a reader never waits
        for the writer. Connections are not tied to threads: pool threads (``QThreadPool``)
        come and go, and a per-thread connection would be left open by each of them.
        """
        held = getattr(self._held, "db", None)
        if held is not None:  # a nested call on the same thread
            yield held
            return
        with self._lock:
            if self._closed:
                raise HistoryError("the history is closed")
            db = self._idle.pop() if self._idle else None
        if db is None:
            with self._open_lock:
                db = self._open()
                self.opened += 1
        self._held.db = db
        try:
            yield db
        finally:
            self._held.db = None
            if db.in_transaction:  # never hand on a connection in the middle of a transaction
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            with self._lock:
                if self._closed or len(self._idle) >= POOL_SIZE:
                    db.close()
                else:
                    self._idle.append(db)

    def _open(self) -> sqlite3.Connection:
        self._prepare_files()
        try:
            return self._connect()
        except sqlite3.DatabaseError as e:
            if "not a database" not in str(e) and "malformed" not in str(e):
                raise
            self._move_aside(e)
            self._prepare_files()
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _refuse_newer(db, SCHEMA_VERSION)  # before anything changes the file
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("history: journal mode is %s, not WAL", mode)
            db.execute("PRAGMA synchronous = FULL")  # a reported page survives a kill and a power cut
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA secure_delete = ON")  # deleted text is overwritten, not left in free pages
            db.execute("PRAGMA journal_size_limit = 4194304")
            migrate(db)
        except BaseException:
            db.close()
            raise
        self._private(self.path, *self._sidecars())
        return db

    def _sidecars(self) -> tuple[Path, Path]:
        return Path(f"{self.path}-wal"), Path(f"{self.path}-shm")

    def _prepare_files(self) -> None:
        folder = self.path.parent
        created = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self._default or created:
            os.chmod(folder, 0o700)  # our own folder: private even if something else made it
        if not self.path.exists():
            # create the file owner-only before SQLite does; its -wal/-shm inherit these bits
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        self._private(self.path)

    @staticmethod
    def _private(*files: Path) -> None:
        for p in files:
            try:
                if p.exists() and stat.S_IMODE(p.stat().st_mode) != 0o600:
                    os.chmod(p, 0o600)
            except OSError:
                pass

    def _move_aside(self, error: Exception) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        kept = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for src, suffix in ((self.path, ""), *((p, p.name[len(self.path.name):]) for p in self._sidecars())):
            if src.exists():
                os.replace(src, Path(f"{kept}{suffix}"))
        self.recovered = f"The history file was damaged and was set aside as {kept.name}; a new history was started"
        log.error("history: damaged database (%s) moved aside to %s", type(error).__name__, kept.name)

    def close(self) -> None:
        """Close the idle connections; one in use closes when its call ends. Later calls raise HistoryError."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for db in idle:
            with contextlib.suppress(Exception):
                db.close()

    def set_keep(self, keep: int) -> None:
        """Change the retention; applied when the next document finishes (or by ``prune``)."""
        self.keep = max(0, int(keep))

    # ---------------------------------------------------- the engine's hooks
    def start_document(
        self,
        path: str,
        pages: int,
        model: str,
        history_id: int | None = None,
        options: OcrOptions | None = None,
        model_source: str = "",
    ) -> int:
        """A document was opened: a new record, or (resume) the interrupted record ``history_id``.

        The path is kept absolute, so a resume works from any folder; ``options`` and ``model_source``
        are kept so a resume reads the missing pages the way the others were read.
        """
        path = os.path.abspath(path)
        raw = os.fsencode(path)
        size, mtime = _fingerprint(path)
        kept = json.dumps(options.as_json()) if options is not None else None
        record = None
        with self._connection() as db, _transaction(db):
            if history_id is not None:
                row = db.execute("SELECT path, pages FROM documents WHERE id = ?", (history_id,)).fetchone()
                if row is not None and bytes(row[0]) == raw and row[1] == pages:
                    db.execute(
                        "UPDATE documents SET status = ?, error = NULL, error_kind = NULL, finished = NULL, owner = ?,"
                        " model = ?, file_size = ?, file_mtime_ns = ?,"
                        " options = coalesce(?, options), model_source = coalesce(nullif(?, ''), model_source)"
                        " WHERE id = ?",
                        (DocumentStatus.RUNNING, _me(), model, size, mtime, kept, model_source, history_id),
                    )
                    record = history_id
                else:
                    # deleted meanwhile, or a different file now: a fresh record, the old one kept as it was
                    log.warning("history: record %s cannot be resumed into; starting a new one", history_id)
            if record is None:
                cur = db.execute(
                    "INSERT INTO documents (path, name, pages, model, status, started, owner, file_size, file_mtime_ns,"
                    " options, model_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (raw, display_name(path), pages, model, DocumentStatus.RUNNING, time.time(), _me(), size, mtime,
                     kept, model_source),
                )
                record = int(cur.lastrowid or 0)
        with _OPEN_LOCK:
            _OPEN_RECORDS.add((str(self.path), record))
        return record

    def add_page(self, record: int, page: PageResult) -> None:
        """Commit one finished page at once (a failed page too, with its error: it counts as missing). Its
        format is the page's own, else its document's (the job's options), plain for a text layer."""
        with self._connection() as db, _transaction(db):
            db.execute(
                "INSERT OR REPLACE INTO pages (document_id, page, text, source, model, prompt_tokens,"
                " generation_tokens, seconds, first_token_seconds, tokens_per_second, peak_memory, finished, error,"
                " text_layer_rejected, output)"  # nothing is written if the document was deleted meanwhile
                " SELECT id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM documents WHERE id = ?",
                (
                    page.page, _storable(page.text), PageSource(page.source).value, page.model, page.prompt_tokens,
                    page.generation_tokens, page.seconds, page.first_token_seconds, page.tokens_per_second,
                    page.peak_memory, time.time(), page.error, page.text_layer_rejected,
                    _output_of(db, record, page), record,
                ),
            )

    def finish_document(
        self, record: int, status: JobStatus, error: str | None = None, kind: ErrorKind | None = None
    ) -> None:
        """The document ended (done, cancelled or failed); then the retention applies."""
        try:
            with self._connection() as db, _transaction(db):
                db.execute(
                    "UPDATE documents SET status = ?, error = ?, error_kind = ?, finished = ?, owner = '' WHERE id = ?",
                    (JobStatus(status).value, error, ErrorKind(kind).value if kind else None, time.time(), record),
                )
        finally:
            with _OPEN_LOCK:
                _OPEN_RECORDS.discard((str(self.path), record))
        if self.keep:
            self.prune()

    # --------------------------------------------------------------- reading
    _COLUMNS = (
        "SELECT d.id, d.path, d.name, d.pages, d.model, d.status, d.error, d.started, d.finished, d.owner,"
        " (SELECT group_concat(page) FROM (SELECT page FROM pages WHERE document_id = d.id AND source != 'failed'"
        " ORDER BY page)), d.error_kind, d.model_source, d.options"
        " FROM documents d"
    )

    def documents(self, search: str | None = None, limit: int | None = None) -> list[HistoryDocument]:
        """Newest first. ``search``: documents whose name or text holds it (case-insensitive for ASCII)."""
        params: list = []
        sql = self._COLUMNS
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql += (
                " WHERE d.name LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM pages p WHERE p.document_id = d.id"
                " AND p.text LIKE ? ESCAPE '\\')"
            )
            params += [pattern, pattern]
        sql += " ORDER BY d.started DESC, d.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._connection() as db:
            rows = db.execute(sql, params).fetchall()
            snippets = {row[0]: self._snippet(db, row[0], search) for row in rows} if search else {}
        return [self._document(row, snippets.get(row[0])) for row in rows]

    def document(self, record: int) -> HistoryDocument:
        with self._connection() as db:
            row = db.execute(self._COLUMNS + " WHERE d.id = ?", (record,)).fetchone()
        if row is None:
            raise HistoryError(f"there is no document {record} in the history")
        return self._document(row)

    def _document(self, row, snippet: str | None = None) -> HistoryDocument:
        doc_id, raw, name, pages, model, status, error, started, finished, owner, done, kind, source, kept = row
        try:
            options = json.loads(kept) if kept else None
        except ValueError:
            options = None
        return HistoryDocument(
            id=doc_id,
            path=os.fsdecode(bytes(raw)),
            name=name,
            pages=pages,
            model=model,
            status=self._status(doc_id, status, owner, pages, done),
            error=error,
            started=started,
            finished=finished,
            pages_done=tuple(int(n) for n in done.split(",")) if done else (),
            snippet=snippet,
            error_kind=_kind(kind),
            model_source=source or "",
            options=options if isinstance(options, dict) else None,
        )

    def pages(self, record: int) -> list[PageResult]:
        """The stored pages of ``record``, in order, as the engine reported them (``job_id`` is ``-record``,
        so they never collide with the engine's positive job ids)."""
        with self._connection() as db:
            head = db.execute("SELECT path, pages FROM documents WHERE id = ?", (record,)).fetchone()
            if head is None:
                raise HistoryError(f"there is no document {record} in the history")
            rows = db.execute(
                "SELECT page, text, source, model, prompt_tokens, generation_tokens, seconds, first_token_seconds,"
                " tokens_per_second, peak_memory, error, text_layer_rejected, finished, output"
                " FROM pages WHERE document_id = ? ORDER BY page",
                (record,),
            ).fetchall()
        path, count = os.fsdecode(bytes(head[0])), head[1]
        return [
            PageResult(-record, path, r[0], count, r[1], PageSource(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                       error=r[10], text_layer_rejected=r[11], finished=r[12], output=r[13])
            for r in rows
        ]

    def interrupted(self) -> list[HistoryDocument]:
        return [d for d in self.documents() if d.status is DocumentStatus.INTERRUPTED]

    def resume_plan(self, record: int) -> ResumePlan:
        """The pages still missing from ``record``. HistoryError (one line) when it cannot be resumed."""
        doc = self.document(record)
        name = doc.name
        if doc.status is DocumentStatus.RUNNING:
            raise HistoryError(f"{name}: it is being read right now")
        if not doc.missing:
            raise HistoryError(f"{name}: every page is already done")
        size, mtime = _fingerprint(doc.path)
        if size is None:
            raise HistoryError(f"{name}: the file is no longer there, so the missing pages cannot be read")
        with self._connection() as db:
            stored = db.execute("SELECT file_size, file_mtime_ns FROM documents WHERE id = ?", (record,)).fetchone()
        if stored is not None and stored[0] is not None and (stored[0], stored[1]) != (size, mtime):
            raise HistoryError(f"{name}: the file changed since it was read; OCR it again from the start")
        return ResumePlan(record, doc.path, frozenset(doc.missing), doc.model_source, doc.options)

    # ------------------------------------------------------------- captured pictures
    def set_image(self, record: int, png: bytes, width: int, height: int) -> bool:
        """Keep the picture a capture read with its document (False: too large, or no such document)."""
        if len(png) > MAX_IMAGE_BYTES or not png.startswith(b"\x89PNG\r\n\x1a\n"):
            return False
        with self._connection() as db, _transaction(db):
            if db.execute("SELECT 1 FROM documents WHERE id = ?", (record,)).fetchone() is None:
                return False
            db.execute("INSERT OR REPLACE INTO images (document_id, png, width, height) VALUES (?, ?, ?, ?)",
                       (record, sqlite3.Binary(png), int(width), int(height)))
        return True

    def image(self, record: int) -> bytes | None:
        """The PNG kept with a document, if any."""
        with self._connection() as db:
            row = db.execute("SELECT png FROM images WHERE document_id = ?", (record,)).fetchone()
        return bytes(row[0]) if row is not None else None

    # ------------------------------------------------------------- deleting
    def delete(self, record: int) -> bool:
        """Delete one document and its pages. A document being written now is not deleted (False)."""
        try:
            doc = self.document(record)
        except HistoryError:
            return False
        if doc.status is DocumentStatus.RUNNING:
            return False
        with self._connection() as db:
            with _transaction(db):
                db.execute("DELETE FROM documents WHERE id = ?", (record,))
            self._checkpoint(db)
        return True

    def clear(self) -> int:
        """Delete every document not being written now. Returns how many went."""
        running = [d.id for d in self.documents() if d.status is DocumentStatus.RUNNING]
        with self._connection() as db:
            with _transaction(db):
                if running:
                    marks = ",".join("?" * len(running))
                    cur = db.execute(f"DELETE FROM documents WHERE id NOT IN ({marks})", running)
                else:
                    cur = db.execute("DELETE FROM documents")
            self._checkpoint(db)
        return cur.rowcount

    def prune(self, keep: int | None = None) -> int:
        """Keep only the newest ``keep`` documents (default: ``self.keep``; 0 keeps all)."""
        keep = self.keep if keep is None else keep
        if not keep:
            return 0
        with self._connection() as db, _transaction(db):
            rows = db.execute(
                "SELECT id, status, owner FROM documents ORDER BY started DESC, id DESC LIMIT -1 OFFSET ?", (keep,)
            ).fetchall()
            old = [
                i for i, status, owner in rows
                if self._status(i, status, owner, 0, None) is not DocumentStatus.RUNNING
            ]
            for i in range(0, len(old), 500):
                chunk = old[i:i + 500]
                db.execute(f"DELETE FROM documents WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        return len(old)

    @staticmethod
    def _checkpoint(db: sqlite3.Connection) -> None:
        """Deleted text should not linger in the WAL either (secure_delete zeroes the pages themselves)."""
        with contextlib.suppress(sqlite3.Error):
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --------------------------------------------------------------- helpers
    def _status(self, doc_id: int, stored: str, owner: str, pages: int, done: str | None) -> DocumentStatus:
        try:
            status = DocumentStatus(stored)
        except ValueError:
            return DocumentStatus.FAILED  # a value no version of this app writes
        if status is DocumentStatus.RUNNING:
            with _OPEN_LOCK:
                open_here = (str(self.path), doc_id) in _OPEN_RECORDS
            if open_here:
                return DocumentStatus.RUNNING
            if owner and owner != _me() and _writer_alive(owner):
                return DocumentStatus.RUNNING  # another process (the CLI beside the app) is reading it now
            return DocumentStatus.INTERRUPTED
        if status is DocumentStatus.DONE and pages and len(done.split(",") if done else ()) < pages:
            return DocumentStatus.INCOMPLETE  # a page could not be saved (disk full), or only some were asked for
        return status

    @staticmethod
    def _snippet(db: sqlite3.Connection, doc_id: int, search: str) -> str | None:
        needle = search.lower()
        for (text,) in db.execute("SELECT text FROM pages WHERE document_id = ? ORDER BY page", (doc_id,)):
            at = text.lower().find(needle)
            if at >= 0:
                start, end = max(0, at - SNIPPET_CHARS // 2), min(len(text), at + len(needle) + SNIPPET_CHARS // 2)
                while start > 0 and not text[start - 1].isspace() and at - start < SNIPPET_CHARS:
                    start -= 1  # whole words: back to the start of the first one…
                while end < len(text) and not text[end].isspace() and end - at < SNIPPET_CHARS:
                    end += 1  # …and on to the end of the last
                piece = " ".join(text[start:end].split())
                return ("…" if start else "") + piece + ("…" if end < len(text) else "")
        return None


def default_store(settings=None) -> HistoryStore:
    """The user's history, with the retention from the settings ("history/keep")."""
    keep = 0
    try:
        if settings is None:
            from .settings import Settings

            settings = Settings()
        keep = int(settings.get("history/keep"))
    except Exception as e:  # the history must not stop the OCR
        log.warning("history: retention setting unreadable (%s); keeping everything", type(e).__name__)
    return HistoryStore(keep=keep)


def _fingerprint(path: str) -> tuple[int | None, int | None]:
    try:
        st = os.stat(path)
    except OSError:
        return None, None
    return st.st_size, st.st_mtime_ns


def _kind(value: str | None) -> ErrorKind | None:
    try:
        return ErrorKind(value) if value else None
    except ValueError:
        return None


def _output_of(db: sqlite3.Connection, record: int, page: PageResult) -> str:
    """A page's format: its own, plain for a text layer, else the one its document's options name."""
    if page.output:
        return page.output
    if PageSource(page.source) is not PageSource.MODEL:
        return "plain"
    row = db.execute("SELECT options FROM documents WHERE id = ?", (record,)).fetchone()
    try:
        kept = json.loads(row[0]) if row is not None and row[0] else {}
    except ValueError:
        return ""
    return str(kept.get("output") or "") if isinstance(kept, dict) else ""


def _storable(text: str) -> str:
    """SQLite stores UTF-8: a lone surrogate (never in real text) becomes U+FFFD rather than failing the page."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
