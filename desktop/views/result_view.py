"""The results (object name ``resultView``): text streams in token by token, one section per page.

Each page gets a heading "name · page i of n" (with "(text layer)" when the page was
read from the PDF's text layer, not the model). Tokens are appended at the end of the
document through one cursor, in batches of at most one frame (``FLUSH_MS``), so the cost
per token does not grow with the document. The exported text (Copy, Save As) comes
from the sections kept here, not from the widget.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont, QPalette, QTextBlockFormat, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QFrame, QTextEdit

from engine.documents import display_name
from engine.jobs import JobResult, JobStatus, PageProgress, PageResult, PageSource, TextDelta

from .style import result_font

FLUSH_MS = 16
TEXT_LAYER_LABEL = "(text layer)"


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

    @property
    def heading(self) -> str:
        label = f" {TEXT_LAYER_LABEL}" if self.source is PageSource.TEXT_LAYER else ""
        return f"{display_name(self.path)} · page {self.page} of {self.pages}{label}"

    @property
    def text(self) -> str:
        return self.final if self.final is not None else "".join(self.parts)


class ResultView(QTextEdit):
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

    # ---------------------------------------------------------------- stream
    def begin_page(self, progress: PageProgress) -> None:
        self.flush()
        key = (progress.job_id, progress.page)
        if key in self._by_key:
            return
        section = Section(progress.job_id, progress.path, progress.page, progress.pages)
        self.sections.append(section)
        self._by_key[key] = section
        with self._at_end() as cur:
            if not cur.atStart():
                cur.insertBlock(self._heading_block, self._heading_fmt)
            else:
                cur.setBlockFormat(self._first_heading_block)
            cur.insertText(section.heading, self._heading_fmt)
            heading_end = QTextCursor(cur)
            heading_end.setKeepPositionOnInsert(True)  # the body goes in after it; the label goes here
            self._heading_end[key] = heading_end
            cur.insertBlock(self._body_block, self._body_fmt)

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
        if result.source is PageSource.TEXT_LAYER and key in self._heading_end:
            cur = QTextCursor(self.document())
            cur.setPosition(self._heading_end.pop(key).position())
            cur.insertText(" ", self._heading_fmt)
            cur.insertText(TEXT_LAYER_LABEL, self._label_fmt)

    def end_job(self, result: JobResult) -> None:
        """Mark a page cut short by a cancel or a failure."""
        self.flush()
        if result.status is JobStatus.DONE:
            return
        open_pages = [s for s in self.sections if s.job_id == result.job_id and s.final is None]
        for section in open_pages:
            section.note = result.status.value
        if open_pages and open_pages[-1] is self.sections[-1]:
            with self._at_end() as cur:
                if open_pages[-1].parts:
                    cur.insertBlock(self._body_block, self._body_fmt)
                cur.insertText(f"— {result.status.value} —", self._note_fmt)

    def show_pages(self, pages: list[PageResult]) -> None:
        """Stored pages (from the history) shown as if they had just been read."""
        for p in pages:
            self.begin_page(PageProgress(p.job_id, p.path, p.page, p.pages))
            self.append(TextDelta(p.job_id, p.page, p.text))
            self.finish_page(p)
        self.flush()

    def clear_results(self) -> None:
        self._timer.stop()
        self._pending.clear()
        self._pending_key = None
        self.sections.clear()
        self._by_key.clear()
        self._heading_end.clear()
        self.clear()
        self._cursor = QTextCursor(self.document())

    # ---------------------------------------------------------------- export
    def export(self, fmt: str = "txt", sections: list[Section] | None = None) -> str:
        """All pages as text: just the text for one page; with headings ("## " in Markdown) for more."""
        sections = self.sections if sections is None else sections
        if len(sections) == 1:
            return sections[0].text.strip("\n") + "\n"
        chunks = []
        for s in sections:
            heading = f"## {s.heading}" if fmt == "md" else f"--- {s.heading} ---"
            chunks.append(f"{heading}\n\n{s.text.strip(chr(10))}\n")
        return "\n".join(chunks)

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
