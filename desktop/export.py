"""Copy and Save As for the results: the clipboard's three flavours, and the files Save As writes.

Copy puts ``text/plain`` (no page headings), ``text/html`` (tables with their cells and spans, so a
paste into Numbers, Excel, Google Sheets, Pages, Word or Notes keeps the table) and ``text/markdown``
on the clipboard; with "Show Raw Text" on, the raw text alone. The strings are made by
``engine.page_formats`` from the pages' converted documents: a few pages here and now, a larger
document on a pool thread (``engine.background``) so the window never waits; the ``QMimeData``
itself is always made on the GUI thread.

Save As writes ``.md``, ``.txt``, ``.html``, ``.json`` and, when the results hold exactly one table,
``.csv`` (``SAVE_FILTERS``, ``kind_for``), on a pool thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QTextEdit

from engine.background import run_in_background
from engine.formats import Page, to_text
from engine.jobs import PageResult
from engine.page_formats import clipboard_html, clipboard_markdown, export

log = logging.getLogger(__name__)

INLINE_CHARS = 50_000  # a copy of more raw text than this is prepared on a pool thread
SAVE_FILTERS = {"Markdown (*.md)": ".md", "Plain text (*.txt)": ".txt", "Web page (*.html)": ".html",
                "JSON with the raw and converted text (*.json)": ".json"}
CSV_FILTER = ("CSV table (*.csv)", ".csv")
KIND_FOR_SUFFIX = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json", ".csv": "csv"}

Texts = dict[str, str]  # MIME type -> text


def kind_for(path: str) -> str:
    """The export kind a file name asks for (``engine.page_formats.KINDS``): plain text unless its ending says."""
    return KIND_FOR_SUFFIX.get(os.path.splitext(path)[1].lower(), "txt")


def clipboard_texts(pages: Sequence[PageResult], docs: Sequence[Page], raw: bool = False) -> Texts:
    """What Copy puts on the clipboard, by MIME type (pure: any thread)."""
    if raw:
        return {"text/plain": "\n\n".join(p.text.strip("\n") for p in pages) + "\n"}
    return {
        "text/plain": "\n\n".join(to_text(d) for d in docs) + "\n",
        "text/html": clipboard_html(docs),
        "text/markdown": clipboard_markdown(docs),
    }


def mime_data(texts: Texts) -> QMimeData:
    """The clipboard's data, by MIME type (GUI thread).

    The ``QMimeData`` is one Qt makes (an empty text edit's selection), not one made from Python: the
    clipboard deletes its data whenever it likes, on the offscreen platform only at process exit, and a
    ``QMimeData`` made from Python calls back into Python when it is deleted, after Python has finished
    there (a crash at exit). Empty, Qt's behaves as a plain ``QMimeData``."""
    data = QTextEdit().createMimeDataFromSelection()
    for kind, text in texts.items():
        if kind == "text/plain":
            data.setText(text)
        elif kind == "text/html":
            data.setHtml(text)
        else:
            data.setData(kind, text.encode("utf-8"))
    return data


def copy_pages(pages: Sequence[PageResult], docs: Sequence[Page], raw: bool = False,
               done: Callable[[str], None] | None = None) -> str | None:
    """Put the pages on the clipboard. Returns the plain text when it was done at once; None when a large
    document is being prepared on a pool thread (then ``done(plain)`` is called on this thread)."""
    pages, docs = list(pages), list(docs)
    if sum(len(p.text) for p in pages) <= INLINE_CHARS:
        texts = clipboard_texts(pages, docs, raw)
        QGuiApplication.clipboard().setMimeData(mime_data(texts))
        return texts["text/plain"]

    def finished(texts: Texts | None, error: BaseException | None) -> None:
        if texts is None:
            log.error("the copy could not be prepared (%s)", type(error).__name__)
            return
        QGuiApplication.clipboard().setMimeData(mime_data(texts))
        if done is not None:
            done(texts["text/plain"])

    run_in_background(lambda: clipboard_texts(pages, docs, raw), finished)
    return None


def save_pages(path: str, pages: Sequence[PageResult], headings: Sequence[str], docs: Sequence[Page],
               done: Callable[[str, BaseException | None], None]) -> None:
    """Write the pages to ``path`` in the kind its ending names, on a pool thread; ``done(kind, error)``."""
    kind = kind_for(path)
    pages, headings, docs = list(pages), list(headings), list(docs)

    def write() -> str:
        text = export(pages, kind, headings, docs)
        partial = f"{path}.partial"  # the file appears whole, never half-written
        try:
            with open(partial, "w", encoding="utf-8", newline="" if kind == "csv" else None) as f:
                f.write(text)
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise
        return kind

    run_in_background(write, lambda _kind, error: done(kind, error))
