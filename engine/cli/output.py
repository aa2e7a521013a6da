"""What ``ocr-tray ocr`` writes, and where: the text (page headers and streamed text) or JSON lines, to stdout
or a file; notes, errors and a progress line on stderr.

With ``--format`` each page is written when it is done, converted from its answer format
(``engine.page_formats``): ``text`` (plain text, tables as tab-separated rows), ``markdown``,
``html`` (one HTML document, a section per page) or ``json`` (one object per page: ``--json``'s
fields with ``text`` converted, ``raw`` the answer as the model wrote it, ``format``, ``blocks`` and
``boxes``). A page cut short (Ctrl+C) is written as far as it came, then marked.

Every write survives a reader that went away (``ocr-tray ocr … | head``): the first broken pipe marks
the output as closed, the run stops quietly, and no traceback is printed.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import IO

from engine.jobs import PageResult, PageSource


class Output:
    """The document text: ``--- path · page i of n ---`` then the streamed text, or one JSON object per page;
    with ``fmt`` (``engine.cli.ocr.FORMATS``) each page converted when it is done. ``output``: the format of the model's
    answers (the job's ``OcrOptions.output``), for a page cut short before the engine reported it."""

    def __init__(self, stream: IO[str], as_json: bool = False, fmt: str | None = None, output: str = "") -> None:
        self.stream = stream
        self.as_json = as_json and fmt is None
        self.fmt = fmt
        self.output = output
        self.closed = False  # the reader went away
        self._mid_page = False  # streamed text of a page not yet finished
        self._page: tuple[str, int, int] | None = None  # the page being read (a format writes it when done)
        self._parts: list[str] = []
        self._started_html = False

    def page_started(self, path: str, page: int, pages: int) -> None:
        if self.fmt is not None:
            self._page, self._parts = (path, page, pages), []
        elif not self.as_json:
            self._write(f"\n--- {path} · page {page} of {pages} ---\n")
            self._mid_page = True

    def text(self, delta: str) -> None:
        if self.fmt is not None:
            self._parts.append(delta)
        elif not self.as_json:
            self._write(delta)

    def page_done(self, result: PageResult) -> None:
        if self.fmt is not None:
            self._page = None
            self._write(self._rendered(result))
        elif self.as_json:
            self._write(json.dumps(result.as_json(), ensure_ascii=False) + "\n")
        else:
            self._write("\n")
            self._mid_page = False

    def cut(self, why: str) -> None:
        """The page being streamed ends here (interrupted, cancelled): say so on its own line."""
        if self.fmt is not None and self._page is not None:
            path, page, pages = self._page
            self._page = None
            if self.fmt != "json":  # a JSON line is a finished page; a cut one is not written
                partial = PageResult(0, path, page, pages, "".join(self._parts), PageSource.MODEL, output=self.output)
                self._write(self._rendered(partial, f"— {why} —"))
        elif self._mid_page and not self.as_json:
            self._write(f"\n— {why} —\n")
            self._mid_page = False

    def _rendered(self, result: PageResult, note: str = "") -> str:
        from html import escape

        from engine.formats import to_html, to_markdown, to_text
        from engine.page_formats import convert_page, html_head, page_record

        page = convert_page(result)
        heading = f"{result.path} · page {result.page} of {result.pages}"
        if self.fmt == "json":
            return json.dumps(page_record(result, page), ensure_ascii=False) + "\n"
        if self.fmt == "markdown":
            body = to_markdown(page)
            return f"\n## {heading}\n\n{body}\n" + (f"\n{note}\n" if note else "")
        if self.fmt == "html":
            prologue = "" if self._started_html else html_head()
            self._started_html = True
            tail = f'<p class="note">{escape(note)}</p>\n' if note else ""
            return f"{prologue}<section>\n<h2>{escape(heading)}</h2>\n{to_html(page)}\n{tail}</section>\n"
        return f"\n--- {heading} ---\n{to_text(page)}\n" + (f"{note}\n" if note else "")

    def _write(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            self.closed = True
            quiet_stdout(self.stream)


class Console:
    """stderr: one-line notes and errors, and (on a terminal) a status line that updates in place."""

    def __init__(self, stream: IO[str], quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._status_width = 0
        self._lock = threading.Lock()
        self._last = 0.0

    def error(self, text: str) -> None:
        self._line(f"error: {text}")

    def note(self, text: str) -> None:
        if not self.quiet:
            self._line(f"note: {text}")

    def say(self, text: str) -> None:
        if not self.quiet:
            self._line(text)

    def status(self, text: str, every_s: float = 0.1) -> None:
        """A progress line that rewrites itself (a terminal only; nothing on a pipe or with --quiet)."""
        if self.quiet or not self.tty:
            return
        with self._lock:
            now = time.monotonic()
            if now - self._last < every_s:
                return
            self._last = now
            self._raw("\r" + text.ljust(self._status_width))
            self._status_width = len(text)

    def clear_status(self) -> None:
        with self._lock:
            if self._status_width:
                self._raw("\r" + " " * self._status_width + "\r")
                self._status_width = 0

    def _line(self, text: str) -> None:
        self.clear_status()
        self._raw(text + "\n")

    def _raw(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (BrokenPipeError, ValueError):  # stderr closed: nothing more can be said
            pass


def quiet_stdout(stream: IO[str]) -> None:
    """After a broken pipe: point the stream's descriptor at /dev/null so the interpreter's final flush
    at exit does not print 'Exception ignored … BrokenPipeError'."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
    if stream is sys.stdout:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (lives until exit)
