r"""The results (object name ``resultView``): text streams in token by token, one section per page.

Each page gets a heading "name · page i of n" (with "(text layer)" when the page was
read from the PDF's text layer, not the model). Tokens are appended at the end of the
document through one cursor, in batches of at most one frame (``FLUSH_MS``), so the cost
per token does not grow with the document. While a page streams its raw text shows as it
comes; when it finishes (or is cut short) its text is converted with its format
(``engine.formats``) and the page's body is replaced by the rendered document: tables as
``QTextTable``\ s with their spans, headings, lists, code, formulas as LaTeX source
(``rich_text``). ``set_show_raw`` shows the raw text instead, ``set_show_boxes`` a picture of
each grounded page with its boxes under its heading (rendered on a pool thread). The exported
text (Copy, Save As) comes from the sections kept here, not from the widget.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import (
    QFont,
    QGuiApplication,
    QImage,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocumentFragment,
)
from PySide6.QtWidgets import QFrame, QMenu, QTextEdit

from engine.background import run_in_background
from engine.documents import display_name
from engine.formats import Page, Table, convert, table_to_csv
from engine.jobs import JobResult, JobStatus, PageProgress, PageResult, PageSource, TextDelta, TextLayer
from engine.page_formats import TEXT_LAYER_LABEL, export, only_table, page_output, with_output

from .rich_text import TABLE_KEY, PageWriter, RichStyle
from .style import result_font

log = logging.getLogger(__name__)

FLUSH_MS = 16
RENDER_SLICE_S = 0.004  # a finished page is written in slices of about this long (plus their layout)
SLICE_BLOCKS = 12  # and of at most this many blocks, or one table
MAX_TABLE_CELLS = 20_000  # a larger table (a model stuck in a loop) shows as its text
PREVIEW_WIDTH = 300  # the page picture under a heading, in points


@dataclass
class Section:
    job_id: int
    path: str
    page: int
    pages: int
    source: PageSource = PageSource.MODEL
    parts: list[str] = field(default_factory=list)
    final: str | None = None  # the page's text once finished
    note: str = ""  # the job's status when the page did not finish
    rejected: str | None = None  # why the page's text layer was not used (the model read it)
    error: str | None = None  # the page could not be read
    start: QTextCursor | None = None  # where its heading begins in the view (for the context menu)
    output: str = ""  # the format of its text (engine.formats.OutputFormat); "" until known
    result: PageResult | None = None  # the finished page, its format filled in
    body: QTextCursor | None = None  # where its text begins (after the heading)
    index: int = 0  # its place in ``ResultView.sections``
    converted: Page | None = None  # its text converted (once it stopped changing)
    preview: QImage | None = None  # the page with its boxes drawn ("Show Boxes"), once rendered
    preview_state: str = ""  # "", "loading", "ready" or "failed"

    @property
    def key(self) -> tuple[int, int]:
        return self.job_id, self.page

    @property
    def heading(self) -> str:
        label = f" {TEXT_LAYER_LABEL}" if self.source is PageSource.TEXT_LAYER else ""
        return f"{display_name(self.path)} · page {self.page} of {self.pages}{label}"

    @property
    def text(self) -> str:
        return self.final if self.final is not None else "".join(self.parts)

    @property
    def settled(self) -> bool:
        """Its text will not change any more: finished, or cut short by a cancel or a failure."""
        return self.final is not None or bool(self.note)

    def page_result(self) -> PageResult:
        """The page as the engine reported it, or what streamed of it (cut short), with its format."""
        if self.result is not None:
            return self.result
        return PageResult(self.job_id, self.path, self.page, self.pages, self.text, self.source, output=self.output)

    def document(self) -> Page:
        """Its text converted with its format (kept once the page is settled)."""
        if self.converted is not None:
            return self.converted
        page = convert(self.text, page_output(self.page_result()))
        if self.settled:
            self.converted = page
        return page


@dataclass
class _Step:
    """One block to write; ``heavy`` (a table) ends its slice, as laying it out costs most."""

    write: Callable[[], None]
    heavy: bool = False

    def __call__(self) -> None:
        self.write()


@dataclass
class _Rendering:
    """A page to write into the view: what is left to write (once prepared), and where."""

    section: Section
    cursor: QTextCursor | None = None  # set when it is prepared
    steps: deque[Callable[[], None]] = field(default_factory=deque)
    follow: bool = False  # the view was at the bottom: it stays there
    started: float = field(default_factory=time.perf_counter)
    slices: list[float] = field(default_factory=list)  # how long each of its turns took


class ResultView(QTextEdit):
    rereadRequested = Signal(object, object)  # Section, TextLayer: read this page again (with or without its layer)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("resultView")
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setUndoRedoEnabled(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        flags = Qt.TextInteractionFlag
        self.setTextInteractionFlags(flags.TextSelectableByMouse | flags.TextSelectableByKeyboard)
        self.setPlaceholderText("The text appears here as it is read, page by page.")
        self.document().setDocumentMargin(14)
        self.setFont(result_font())
        self.setAcceptDrops(False)  # drops go to the window (and so to the drop zone)
        self.sections: list[Section] = []
        self._by_key: dict[tuple[int, int], Section] = {}
        self._heading_end: dict[tuple[int, int], QTextCursor] = {}
        self._pending: list[str] = []
        self._pending_key: tuple[int, int] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self.flush)
        self._cursor = QTextCursor(self.document())
        self.show_raw = False  # the raw text of finished pages instead of their rendered document
        self.show_boxes = False  # a picture of each grounded page with its boxes, under its heading
        self.last_render_s = 0.0  # how long the last page took to render (benchmarks)
        self._job_outputs: dict[int, str] = {}  # job id -> its answers' format (a page cut short has no result)
        self._renders: deque[_Rendering] = deque()  # finished pages to write, a slice per event-loop turn
        self.render_slices_s: list[float] = []  # how long each turn of the last page's render took
        self._slice_timer = QTimer(self)
        self._slice_timer.setSingleShot(True)
        self._slice_timer.timeout.connect(self._render_slice)
        self._make_formats()

    def _make_formats(self) -> None:
        pal = self.palette()
        self._heading_fmt = QTextCharFormat()
        self._heading_fmt.setFontWeight(QFont.Weight.DemiBold)
        self._heading_fmt.setFontPointSize(max(9.0, self.font().pointSizeF() * 0.85))
        self._heading_fmt.setForeground(pal.color(QPalette.ColorRole.PlaceholderText))
        self._label_fmt = QTextCharFormat(self._heading_fmt)
        self._label_fmt.setFontWeight(QFont.Weight.Normal)
        self._label_fmt.setFontItalic(True)
        self._label_fmt.setForeground(pal.color(QPalette.ColorRole.Link))
        self._body_fmt = QTextCharFormat()
        self._body_fmt.setFont(self.font())
        self._body_fmt.setForeground(pal.color(QPalette.ColorRole.Text))
        self._note_fmt = QTextCharFormat(self._body_fmt)
        self._note_fmt.setFontItalic(True)
        self._note_fmt.setForeground(pal.color(QPalette.ColorRole.PlaceholderText))
        self._heading_block = QTextBlockFormat()
        self._heading_block.setTopMargin(14)
        self._heading_block.setBottomMargin(4)
        self._first_heading_block = QTextBlockFormat(self._heading_block)
        self._first_heading_block.setTopMargin(0)
        self._body_block = QTextBlockFormat()
        self._body_block.setLineHeight(118, QTextBlockFormat.LineHeightTypes.ProportionalHeight.value)
        self._rich = RichStyle.of(pal, self.font(), self._body_block)

    # ---------------------------------------------------------------- stream
    def begin_page(self, progress: PageProgress) -> None:
        self.flush()
        key = (progress.job_id, progress.page)
        if key in self._by_key:
            return
        section = Section(progress.job_id, progress.path, progress.page, progress.pages, index=len(self.sections),
                          output=self._job_outputs.get(progress.job_id, ""))
        self.sections.append(section)
        self._by_key[key] = section
        with self._at_end() as cur:
            if not cur.atStart():
                cur.insertBlock(self._heading_block, self._heading_fmt)
            else:
                cur.setBlockFormat(self._first_heading_block)
            section.start = QTextCursor(cur)
            section.start.setKeepPositionOnInsert(True)  # stays where its heading begins
            cur.insertText(section.heading, self._heading_fmt)
            heading_end = QTextCursor(cur)
            heading_end.setKeepPositionOnInsert(True)  # the body goes in after it; the label goes here
            self._heading_end[key] = heading_end
            cur.insertBlock(self._body_block, self._body_fmt)
            section.body = QTextCursor(cur)
            section.body.setKeepPositionOnInsert(True)  # stays where the body begins as text streams in

    def append(self, delta: TextDelta) -> None:
        key = (delta.job_id, delta.page)
        section = self._by_key.get(key)
        if section is None:
            return  # a page the view never saw start (cleared meanwhile)
        section.parts.append(delta.text)
        if self._pending_key != key:
            self.flush()
            self._pending_key = key
        self._pending.append(delta.text)
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Put the buffered tokens on screen (at most one frame after they arrived)."""
        self._timer.stop()
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        with self._at_end() as cur:
            cur.insertText(text, self._body_fmt)

    def finish_page(self, result: PageResult) -> None:
        self.flush()
        key = (result.job_id, result.page)
        section = self._by_key.get(key)
        if section is None:
            return
        section.final = result.text
        section.source = result.source
        section.rejected, section.error = result.text_layer_rejected, result.error
        label = {
            PageSource.TEXT_LAYER: TEXT_LAYER_LABEL,
            PageSource.FAILED: f"(not read: {result.error})" if result.error else "(not read)",
        }.get(result.source) or (f"(read by the model — {result.text_layer_rejected})"
                                 if result.text_layer_rejected else "")
        if label and key in self._heading_end:
            cur = QTextCursor(self.document())
            cur.setPosition(self._heading_end.pop(key).position())
            cur.insertText(" ", self._heading_fmt)
            cur.insertText(label, self._label_fmt)
        section.result = with_output(result, section.output or self._job_outputs.get(result.job_id, ""))
        section.output, section.converted = section.result.output, None
        self._render(section, in_slices=True)
        if self.show_boxes and not section.preview_state and section.document().boxes:
            self._load_preview(section)

    def set_job_output(self, job_id: int, output: str) -> None:
        """The format of a job's answers (its options' ``output``), for its pages cut short before they finish."""
        if output:
            self._job_outputs[job_id] = output

    def end_job(self, result: JobResult) -> None:
        """Mark a page cut short by a cancel or a failure: what streamed of it is rendered, then the note."""
        self.flush()
        output = self._job_outputs.pop(result.job_id, result.options.output)
        if result.status is JobStatus.DONE:
            return
        for section in [s for s in self.sections if s.job_id == result.job_id and s.final is None]:
            section.note = result.status.value
            section.output = section.output or output
            self._render(section)  # at once: the person stopped it (or it failed), and the note comes last

    # ---------------------------------------------------------------- rendering
    def _render(self, section: Section, in_slices: bool = False) -> None:
        """Replace the page's body (from after its heading to the next heading) by its rendered document, or
        its raw text; its picture first when boxes are shown, its note last.

        ``in_slices``: queued, and done over the next event-loop turns, so neither a long page with tables
        nor a document of hundreds of pages (the history, a toggle) holds the GUI thread: one turn converts
        the page, the next ones write it a few blocks at a time (``RENDER_SLICE_S``, ``SLICE_BLOCKS``, a
        table alone: Qt lays out what a slice wrote when the slice ends, and a table costs most). The raw
        text stays until the first slice replaces it. Text may stream into a later page meanwhile: each
        slice writes at the end of its own page's body, wherever that is by then."""
        self._renders = deque(job for job in self._renders if job.section is not section)  # replaced
        if section.body is None:
            return
        job = _Rendering(section)
        if in_slices:
            self._renders.append(job)
            if not self._slice_timer.isActive():
                self._slice_timer.start(0)
            return
        self._prepare(job)
        self._write(job, budget=float("inf"))

    def _prepare(self, job: _Rendering) -> None:
        """What to write, in order, as the view shows it now (raw or rendered, with or without the picture);
        the page is converted here (cached on its section)."""
        section = job.section
        bar = self.verticalScrollBar()
        job.follow = bar.value() >= bar.maximum() - 4
        job.cursor = cur = QTextCursor(self.document())
        writer = PageWriter(cur, self._rich, lambda n, s=section: f"{s.job_id}:{s.page}:{n}", MAX_TABLE_CELLS)

        def remove_body() -> None:
            assert section.body is not None
            cur.setPosition(section.body.position())
            cur.setPosition(self._body_end(section), QTextCursor.MoveMode.KeepAnchor)
            cur.removeSelectedText()

        steps: list[Callable[[], None]] = [remove_body]
        if self.show_boxes and section.preview is not None:
            image = section.preview
            steps.append(lambda: writer.image(f"ocrtray-preview:{section.job_id}/{section.page}", image,
                                              PREVIEW_WIDTH))
        if self.show_raw:
            steps.append(lambda: writer.raw(section.text.strip("\n"), self._body_fmt))
        else:
            steps += [_Step(partial(writer.block, block), heavy=isinstance(block, Table))
                      for block in section.document().blocks]
        if section.note:
            steps.append(lambda: writer.note(f"— {section.note} —", self._note_fmt))
        job.steps = deque(steps)

    def _render_slice(self) -> None:
        """One event-loop turn of the queued renders: prepare the next page, or write a slice of it."""
        if not self._renders:
            return
        job = self._renders[0]
        started = time.perf_counter()
        if job.cursor is None:
            self._prepare(job)  # converting is this turn's work
            job.slices.append(time.perf_counter() - started)
        else:
            self._write(job)
        if not job.steps:
            self._renders.popleft()
            self.last_render_s, self.render_slices_s = time.perf_counter() - job.started, job.slices
        if self._renders:
            self._slice_timer.start(0)

    def _write(self, job: _Rendering, budget: float = RENDER_SLICE_S) -> None:
        started = time.perf_counter()
        assert job.cursor is not None
        job.cursor.setPosition(self._body_end(job.section))  # text may have streamed in after it meanwhile
        job.cursor.beginEditBlock()
        written = 0
        while job.steps:
            step = job.steps.popleft()
            step()
            written += 1
            # what a slice writes is laid out when it ends, and that costs more than writing it: a slice ends
            # after a table, after SLICE_BLOCKS blocks, or after its budget
            full = getattr(step, "heavy", False) or written >= SLICE_BLOCKS or time.perf_counter() - started >= budget
            if full and budget != float("inf"):
                break
        job.cursor.endEditBlock()  # the slice is laid out here
        if job.follow:
            bar = self.verticalScrollBar()
            bar.setValue(bar.maximum())
        job.slices.append(time.perf_counter() - started)

    def rendering(self) -> bool:
        """Finished pages are still being written into the view (a few blocks per event-loop turn)."""
        return bool(self._renders)

    def _body_end(self, section: Section) -> int:
        following = self.sections[section.index + 1] if section.index + 1 < len(self.sections) else None
        if following is not None and following.start is not None:
            return following.start.position() - 1  # the block break before the next heading
        return self.document().characterCount() - 1

    def set_show_raw(self, on: bool) -> None:
        """The raw text of every settled page (as the model wrote it), or its rendered document."""
        if on != self.show_raw:
            self.show_raw = on
            for section in self.sections:
                if section.settled:
                    self._render(section, in_slices=True)

    def set_show_boxes(self, on: bool) -> None:
        """A picture of each grounded page with its boxes under its heading (drawn on a pool thread)."""
        if on == self.show_boxes:
            return
        self.show_boxes = on
        for section in [s for s in self.sections if s.settled and s.document().boxes]:
            if on and not section.preview_state:
                self._load_preview(section)
            elif section.preview is not None:
                self._render(section, in_slices=True)

    def _load_preview(self, section: Section) -> None:
        from .page_preview import page_preview

        section.preview_state = "loading"
        path, number, boxes = section.path, section.page, section.document().boxes

        def done(image, error) -> None:
            if self._by_key.get(section.key) is not section:
                return  # cleared meanwhile
            if error is not None or image is None:
                section.preview_state = "failed"
                log.info("a page picture could not be made (%s)", type(error).__name__)
                return
            section.preview, section.preview_state = image, "ready"
            if self.show_boxes:
                self._render(section, in_slices=True)

        run_in_background(lambda: page_preview(path, number, boxes), done)

    def previews_pending(self) -> int:
        return sum(s.preview_state == "loading" for s in self.sections)

    # ---------------------------------------------------------------- tables
    def table_at(self, position: int) -> Table | None:
        """The converted table shown at ``position`` (None outside a rendered table)."""
        cur = QTextCursor(self.document())
        cur.setPosition(max(0, min(position, self.document().characterCount() - 1)))
        qtable = cur.currentTable()
        if qtable is None:
            return None
        tag = qtable.format().property(TABLE_KEY)
        try:
            job, page, n = (int(x) for x in str(tag).split(":"))
        except ValueError:
            return None
        section = self._by_key.get((job, page))
        tables = [b for b in section.document().blocks if isinstance(b, Table)] if section is not None else []
        return tables[n] if n < len(tables) else None

    def copy_table(self, table: Table, delimiter: str = "\t") -> str:
        """One table on the clipboard as TSV (``\\t``) or CSV (``,``), spans expanded; returns the text."""
        text = table_to_csv(table, delimiter)
        QGuiApplication.clipboard().setText(text)
        return text

    def section_at(self, position: int) -> Section | None:
        """The page whose heading or text is at ``position`` in the document."""
        found = None
        for section in self.sections:
            if section.start is not None and section.start.position() <= position:
                found = section
        return found

    def contextMenuEvent(self, event) -> None:
        menu = self.context_menu(event.pos())
        menu.exec(event.globalPos())
        menu.deleteLater()

    def context_menu(self, pos: QPoint) -> QMenu:
        """The right-click menu at ``pos`` (viewport coordinates): the standard one, then what the page under
        it offers (read it again), then, inside a table, "Copy Table as TSV" / "as CSV"."""
        menu = self.createStandardContextMenu(pos)
        section = self.section_at(self.cursorForPosition(pos).position())
        if section is not None and section.final is not None:
            menu.addSeparator()
            if section.source is PageSource.TEXT_LAYER:
                act = menu.addAction("Read This Page with the Model",
                                     lambda s=section: self.rereadRequested.emit(s, TextLayer.NEVER))
                act.setObjectName("readWithModel")
            elif section.rejected:
                act = menu.addAction("Use the Text Layer for This Page",
                                     lambda s=section: self.rereadRequested.emit(s, TextLayer.ALWAYS))
                act.setObjectName("useTextLayer")
        table = self.table_at(self.cursorForPosition(pos).position())
        if table is not None:
            menu.addSeparator()
            menu.addAction("Copy Table as TSV", lambda t=table: self.copy_table(t, "\t")).setObjectName("copyTableTsv")
            menu.addAction("Copy Table as CSV", lambda t=table: self.copy_table(t, ",")).setObjectName("copyTableCsv")
        return menu

    def show_pages(self, pages: list[PageResult]) -> None:
        """Stored pages (from the history) shown as if they had just been read."""
        for p in pages:
            self.begin_page(PageProgress(p.job_id, p.path, p.page, p.pages))
            self.append(TextDelta(p.job_id, p.page, p.text))
            self.finish_page(p)
        self.flush()

    def clear_results(self) -> None:
        self._timer.stop()
        self._slice_timer.stop()
        self._renders.clear()
        self._pending.clear()
        self._pending_key = None
        self.sections.clear()
        self._by_key.clear()
        self._heading_end.clear()
        self.clear()
        self._cursor = QTextCursor(self.document())

    # ---------------------------------------------------------------- export
    def export(self, fmt: str = "txt", sections: list[Section] | None = None) -> str:
        """All pages, converted: just the page for one page; for more, each under a heading ("--- … ---" in
        "txt", "## " in "md"), or none at all in "plain" (what Copy puts on the clipboard); "html" and "json"
        are whole documents, "csv" the one table (``engine.page_formats.export``)."""
        pages, headings, docs = self.snapshot(sections)
        return export(pages, fmt, headings, docs)

    def snapshot(self, sections: list[Section] | None = None) -> tuple[list[PageResult], list[str], list[Page]]:
        """The pages, their headings and converted documents: immutable, so a pool thread may export them."""
        sections = self.sections if sections is None else sections
        return [s.page_result() for s in sections], [s.heading for s in sections], [s.document() for s in sections]

    def single_table(self) -> Table | None:
        """The table, when the results hold exactly one (a CSV export)."""
        return only_table([s.document() for s in self.sections])

    def selection_texts(self) -> dict[str, str]:
        """The selection by MIME type: its text, and its HTML and Markdown with the tables in it kept."""
        fragment = QTextDocumentFragment(self.textCursor())
        return {"text/plain": fragment.toPlainText().replace("\u2028", "\n"), "text/html": fragment.toHtml(),
                "text/markdown": fragment.toMarkdown()}

    def has_text(self) -> bool:
        return any(s.parts or s.final for s in self.sections)

    # ---------------------------------------------------------------- helpers
    @contextmanager
    def _at_end(self):
        """The cursor at the end of the text; the view follows the text if it was at the bottom."""
        bar = self.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 4
        self._cursor.movePosition(QTextCursor.MoveOperation.End)
        yield self._cursor
        if follow:
            bar.setValue(bar.maximum())
